/**
 * The store's domain interface: what a backend must do, whatever database is
 * under it. Callers say what happened (a graph was submitted, transitions
 * were decided, an attempt started or finished); each write is one
 * transaction with its audit record(s) and live event(s). The conformance
 * suite (test/integration/store-conformance.ts) is typed on this interface
 * and runs on every backend.
 *
 * Two backends today, one implementation: `Store` (store.ts) over the
 * synchronous SQL port (sql-port.ts), with SQLite (better-sqlite3, the
 * default) or PostgreSQL (store/pg: node-postgres in a worker thread) under
 * it. See docs/ARCHITECTURE.md "Store backends".
 */
import type { AuditEntry, AuditRecord, ChainCheck } from '../core/audit-chain.js';
import type { AttemptProcess } from '../core/engine.js';
import type { Transition } from '../core/scheduler.js';
import type { AttemptRow, EventRecord, GraphRow, OutputRow, StoredTask } from './rows.js';
import type { Actor, AttemptEnd, AttemptStart, AuditFilter, NewGraph, NewTask, TaskFilter } from './store.js';

export type StoreListener = (events: EventRecord[]) => void;
export type CostDimension = 'engine' | 'model' | 'submitted_by' | 'graph_id' | 'worker_id';

export interface StoreBackend {
  /** Per-task output cap in bytes; output past it is dropped and the cut marked once. */
  outputCapBytes: number;
  isOpen(): boolean;
  close(): void;
  /** Live events reach listeners only after their transaction committed. */
  subscribe(fn: StoreListener): () => void;
  /** fn in one transaction; the events and audit records it appends commit or vanish together. */
  transaction<T>(fn: () => T): T;
  /** Group commit: fn joins the transaction of every write queued this event-loop turn, in its own savepoint. */
  grouped<T>(fn: () => T): Promise<T>;
  flushGroup(): void;

  // writes
  submitGraph(graph: NewGraph, tasks: readonly NewTask[], initial: readonly Transition[], who: Actor): void;
  applyTransitions(trs: readonly Transition[], who: Actor): void;
  startAttempt(taskId: string, info: AttemptStart, trs: readonly Transition[], who: Actor): number;
  finishAttempt(taskId: string, attempt: number, end: AttemptEnd, trs: readonly Transition[], who: Actor): void;
  recordAttemptProcess(taskId: string, attempt: number, p: AttemptProcess): void;
  pruneAttemptProcesses(keepMs?: number): number;
  appendOutput(taskId: string, attempt: number, stream: string, text: string): void;
  deleteEdge(taskId: string, dependsOn: string): void;
  markApproved(taskId: string): void;
  appendAudit(entry: Omit<AuditEntry, 'at'> & { at?: number }): AuditRecord;
  publish(kind: string, owner: string | null, data: Record<string, unknown>, taskId?: string | null): void;
  setSetting(key: string, value: string): void;

  // reads
  getSetting(key: string): string | null;
  getTask(id: string): StoredTask | null;
  /** Several tasks in one pass; ids with no task are absent. */
  getTasks(ids: readonly string[]): Map<string, StoredTask>;
  depsOf(id: string): string[];
  attemptsOf(id: string): AttemptRow[];
  outputOf(id: string, opts?: { attempt?: number; after_id?: number; limit?: number }): OutputRow[];
  listTasks(f?: TaskFilter): StoredTask[];
  loadAll(): StoredTask[];
  openAttemptProcesses(): (AttemptProcess & { task_id: string; attempt: number })[];
  remoteAttemptsLostSince(since: number): { task_id: string; worker_id: string; finished_at: number }[];
  unfinishedGraphFrom(source: string): GraphRow | null;
  getGraph(id: string): GraphRow | null;
  listGraphs(limit?: number): (GraphRow & { counts: Record<string, number>; cost_usd: number })[];
  eventsSince(afterId: number, limit?: number): EventRecord[];
  lastEventId(): number;
  listAudit(f?: AuditFilter): AuditRecord[];
  verifyAudit(): ChainCheck;
  costBy(dim: CostDimension, submittedBy?: string): { key: string | null; cost_usd: number; tokens: number; attempts: number }[];
  attemptHistory(limit?: number): (AttemptRow & { prompt: string })[];
}
