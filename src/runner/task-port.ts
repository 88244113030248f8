/**
 * The narrow ports through which runners of attempts (the local pool, the
 * remote dispatcher and its settle) change tasks. TaskService implements
 * them and is the only mutator of tasks; a unit test can pass a plain object.
 */
import type { NextStep } from '../core/attempt-policy.js';
import type { TaskState } from '../core/task.js';
import type { WorkerCard } from '../core/live-types.js';
import type { AttemptRow, StoredTask } from '../store/rows.js';
import type { Actor, AttemptEnd, AttemptStart } from '../store/store.js';

/** A step that ends no attempt: the gate or the router said no before one began. */
export type TaskStep = NextStep | { kind: 'hold'; reason: string };

/** What starting, recording and ending attempts needs. */
export interface AttemptPort {
  requireTask(id: string): StoredTask;
  attemptsOf(id: string): AttemptRow[];
  stateOf(id: string): TaskState | undefined;
  /**
   * Records the attempt's end and applies `next` to the task (decided against
   * the scheduler as it is when the write runs; [] if the task moved meanwhile).
   * Never loses a result: if the store refuses the write, it is retried until it
   * goes through ('pending'), so the task is never left running unrecorded.
   * `now`: written before this returns (admin actions); else in the next group commit.
   */
  endAttempt(taskId: string, attempt: number, end: AttemptEnd, next: NextStep, who: Actor, o?: { now?: boolean }): Promise<'recorded' | 'pending'>;
  /** A step without an attempt, persisted now; kept and retried like endAttempt if the store refuses it. */
  stepDurably(taskId: string, step: TaskStep, who: Actor): void;
  /** Appends output in the next group commit (a refused chunk is dropped, never the result). */
  appendOutput(taskId: string, attempt: number, stream: string, text: string): void;
  /** Calls fn when some task became ready. */
  onReady(fn: () => void): () => void;
}

/** The local pool's port. */
export interface PoolPort extends AttemptPort {
  /** True while a failed reload (store unreadable) left memory to be rebuilt from the store. */
  readonly memoryStale: boolean;
  /** Claims up to `limit` ready tasks of `lane` (ready → assigned, persisted); their ids. */
  claim(lane: string, limit: number, accept?: (id: string) => boolean): string[];
  /** The tasks of these ids read in one pass (one round trip on PostgreSQL); missing ids are absent. */
  tasksOf(ids: readonly string[]): Map<string, StoredTask>;
  /** assigned → running with its attempt row, in the next group commit; `inCommit` runs inside it. */
  beginAttempt(taskId: string, start: AttemptStart, inCommit?: () => void): Promise<number>;
  /** Publishes a worker card on the live bus: the newest card of each worker, folded over a few ms (runner/card-fold.ts). */
  publishWorker(card: WorkerCard): void;
  expireWaits(): void;
  /** Why a claimed task must not start now (its graph or submitter was paused at its budget since the claim); null: it may. */
  pausedReason(task: Pick<StoredTask, 'graph_id' | 'submitted_by'>): string | null;
}

/** The remote dispatcher's port (host side). */
export interface RemotePort extends AttemptPort {
  readyCount(lane: string): number;
  /** Runs fn in one store transaction (claims, offers and refusals of one dispatch round). */
  transaction<T>(fn: () => T): T;
  /** Claims like PoolPort.claim; the tasks `refuse` names are failed with its reason. Inside transaction(). */
  claimRemote(lane: string, limit: number, pick: (task: StoredTask) => { take: boolean; refuse?: string }): StoredTask[];
  /** The attempt row of an offer (the task stays assigned until the worker accepts). Inside transaction(). */
  recordOffer(taskId: string, start: AttemptStart): number;
  /** TASK_ACCEPTED: assigned → running, in the next group commit. */
  markRunning(taskId: string, who: Actor): void;
  graphWorkspace(graphId: string): string | null;
  audit(who: Actor, action: string, target: string, detail: Record<string, unknown>): void;
}
