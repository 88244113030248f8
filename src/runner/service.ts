/**
 * TaskService: the one place where task graphs are submitted and changed.
 * The admin API, the user API, the CLI and the local pool all call it. Each
 * operation asks the pure Scheduler for transitions and persists them in one
 * store transaction; if the store refuses (disk full, conflict), the
 * scheduler is rebuilt from the store so memory never runs ahead of disk.
 */
import { randomBytes } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { decideAttempt, unchargedAttempts, type NextStep } from '../core/attempt-policy.js';
import { ColonyError, isColonyError } from '../core/errors.js';
import { compileGraph, makeGraphId, type GraphInput } from '../core/graph-schema.js';
import type { WorkerCard } from '../core/live-types.js';
import { CardFold } from './card-fold.js';
import { Scheduler, type SchedTask, type Transition } from '../core/scheduler.js';
import { isTerminal, ZERO_USAGE, type TaskState } from '../core/task.js';
import type { ColonyConfig } from '../core/config.js';
import { SYSTEM, type Actor, type AttemptEnd, type AttemptStart, type NewTask, type Store } from '../store/store.js';
import type { AttemptRow, StoredTask } from '../store/rows.js';
import { ChangeStore } from '../store/changes.js';
import { WorkerStore } from '../store/workers.js';
import { workerTargetProblem } from '../core/worker-target.js';
import { assertWorkspacesInRoots, rootsForGraph } from '../safety/roots.js';
import { checkGraphReservation } from './graph-check.js';
import { isStoreRefusal, PendingWrites } from './pending-writes.js';
import type { PoolPort, RemotePort, TaskStep } from './task-port.js';
import { PauseBook } from './pause-book.js';
import type { BudgetScope } from '../store/budget-scopes.js';

export interface SubmitOptions {
  submittedBy: string; // 'admin' or 'session:<id>'
  who: Actor;
  workspace: string; // default workspace for tasks that name none
  defaultTarget: string; // 'host' for the admin, 'own-worker' for LAN users
  holdHostTasks: boolean; // LAN submissions asking for the host wait for approval
  source?: string | null;
  canDependOn?: (task: StoredTask) => boolean; // which existing tasks may be named in depends_on
}

export interface SubmitResult {
  graph_id: string;
  task_ids: string[];
}

export function laneOf(target: string, submittedBy: string): string {
  if (target === 'host') return 'host';
  if (target === 'own-worker') return `user:${submittedBy}`;
  return `worker:${target}`;
}

export class TaskService implements PoolPort, RemotePort {
  private scheduler = new Scheduler();
  /** A reload failed (the store could not be read): memory may hold states the store never took. */
  private stale = false;
  /** Writes the store refused, retried until they go through. */
  private readonly pending: PendingWrites;
  /** Called with the tasks a submission put in awaiting_approval (the host screens them for the admin). */
  onHeld: ((taskIds: string[]) => void) | null = null;
  /** Graphs and users paused at their budget: their ready tasks are not claimed (issue 18). */
  private readonly pauses: PauseBook;
  /** Worker cards, the newest of each worker, folded over a few ms (card-fold.ts). */
  private readonly cards: CardFold;

  constructor(
    readonly store: Store,
    readonly config: ColonyConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.pending = new PendingWrites(() => store.isOpen());
    this.pauses = new PauseBook(store);
    this.cards = new CardFold(store);
  }

  /**
   * Loads every task into the scheduler. An attempt left open by a process
   * that is gone is closed as its own attempt (`lost`, "host died") and
   * counts against max_attempts (core/attempt-policy): its task is requeued
   * while attempts remain, else failed. A task claimed but never started is
   * requeued without an attempt. (Whatever may still run of a lost attempt is
   * swept before this is called.) `graphs`: only those graphs' tasks (several
   * hosts: the graphs this host owns at start, or the graphs it adopted from a
   * dead host — runner/adopt.ts); null: all.
   */
  recover(graphs: readonly string[] | null = null): { requeued: string[]; failed: string[] } {
    this.reload();
    const requeued: string[] = [];
    const failed: string[] = [];
    const scope = graphs === null ? null : new Set(graphs);
    const open = this.store.listTasks({ state: 'assigned', limit: 1e9 }).concat(this.store.listTasks({ state: 'running', limit: 1e9 }));
    for (const t of open) {
      if (scope !== null && !scope.has(t.graph_id)) continue;
      const rows = this.store.attemptsOf(t.id);
      const open = rows.find((a) => a.attempt === t.attempt && a.finished_at === null);
      if (!open) {
        this.persist(this.scheduler.requeue(t.id, 'recovered after the host stopped (not started)'), SYSTEM);
        requeued.push(t.id);
        continue;
      }
      const d = decideAttempt({
        task: t,
        attempt: open.attempt,
        uncharged_before: unchargedAttempts(rows.filter((a) => a.attempt < open.attempt)),
        outcome: { ok: false, summary: 'host died', error_code: null, engine: open.engine },
        interruption: { kind: 'lost', reason: 'host died while this attempt ran', charged: true },
      });
      const end: AttemptEnd = {
        state: d.state,
        engine: open.engine,
        model: open.model,
        cost_usd: 0,
        cost_source: 'none',
        usage: ZERO_USAGE,
        error_code: d.error_code,
        summary: 'host died',
      };
      this.store.finishAttempt(t.id, open.attempt, end, this.tryStep(t.id, d.next), SYSTEM);
      (d.next.kind === 'requeue' ? requeued : failed).push(t.id);
    }
    return { requeued, failed };
  }

  // ---- the attempt ports (pool, remote dispatcher, settle) ----------------

  stateOf(id: string): TaskState | undefined {
    return this.scheduler.state(id);
  }

  countByState(): Record<string, number> {
    return this.scheduler.countByState();
  }

  readyCount(lane: string): number {
    return this.scheduler.readyCount(lane);
  }

  /** Lanes with ready tasks (the remote host fails those no worker can ever serve). */
  readyLanes(): string[] {
    return this.scheduler.readyLanes();
  }

  peekReady(lane: string): string[] {
    return this.scheduler.peekReady(lane);
  }

  attemptsOf(id: string): AttemptRow[] {
    return this.store.attemptsOf(id);
  }

  onReady(fn: () => void): () => void {
    return this.store.subscribe((events) => {
      if (events.some((e) => e.kind === 'task.state' && e.data['to'] === 'ready')) fn();
    });
  }

  claim(lane: string, limit: number, accept?: (id: string) => boolean): string[] {
    this.catchUp();
    const take = (id: string): boolean => !this.pauses.holds(id) && (accept?.(id) ?? true);
    return this.persist(this.scheduler.claim(lane, limit, take), SYSTEM).map((t) => t.id);
  }

  claimRemote(lane: string, limit: number, pick: (task: StoredTask) => { take: boolean; refuse?: string }): StoredTask[] {
    this.catchUp();
    const picked = new Map<string, StoredTask>();
    const refused: Array<[string, string]> = [];
    const trs = this.scheduler.claim(lane, limit, (id) => {
      const t = this.store.getTask(id);
      if (!t || this.pauses.holds(id)) return false;
      const p = pick(t);
      if (p.refuse) refused.push([id, p.refuse]);
      if (p.take) picked.set(id, t);
      return p.take;
    });
    this.store.applyTransitions(trs, SYSTEM);
    for (const [id, why] of refused) this.store.applyTransitions(this.scheduler.finish(id, 'failed', why), SYSTEM);
    return trs.map((tr) => picked.get(tr.id)).filter((t): t is StoredTask => t !== undefined);
  }

  transaction<T>(fn: () => T): T {
    try {
      return this.store.transaction(fn);
    } catch (e) {
      this.reload();
      throw e;
    }
  }

  recordOffer(taskId: string, start: AttemptStart): number {
    return this.store.startAttempt(taskId, start, [], SYSTEM);
  }

  async beginAttempt(taskId: string, start: AttemptStart, inCommit?: () => void): Promise<number> {
    const trs = this.scheduler.start(taskId);
    try {
      return await this.store.grouped(() => {
        const n = this.store.startAttempt(taskId, start, trs, SYSTEM);
        inCommit?.();
        return n;
      });
    } catch (e) {
      this.reload();
      throw e;
    }
  }

  markRunning(taskId: string, who: Actor): void {
    const trs = this.scheduler.start(taskId);
    this.store.grouped(() => this.store.applyTransitions(trs, who)).catch(() => this.reload());
  }

  async endAttempt(taskId: string, attempt: number, end: AttemptEnd, next: NextStep, who: Actor, o: { now?: boolean } = {}): Promise<'recorded' | 'pending'> {
    // The scheduler steps once per write: a group commit may run `write` twice (PostgreSQL replays a failed deferred batch).
    let stepped: Transition[] | null = null;
    const write = (): void => this.store.finishAttempt(taskId, attempt, end, (stepped ??= this.tryStep(taskId, next)), who);
    try {
      if (o.now) write();
      else await this.store.grouped(write);
      return 'recorded';
    } catch (e) {
      this.reload(); // memory back to what the store has: the attempt is still open there
      stepped = null;
      if (!isStoreRefusal(e)) throw e;
      this.pending.keep(taskId, () => {
        this.catchUp();
        if (this.store.attemptsOf(taskId).find((a) => a.attempt === attempt)?.finished_at !== null) return; // closed meanwhile
        this.guarded(write);
      });
      return 'pending';
    }
  }

  stepDurably(taskId: string, step: TaskStep, who: Actor): void {
    const write = (): void => {
      this.catchUp();
      this.guarded(() => this.store.applyTransitions(this.tryStep(taskId, step), who));
    };
    try {
      write();
    } catch (e) {
      if (!isStoreRefusal(e)) throw e;
      this.pending.keep(taskId, write);
    }
  }

  appendOutput(taskId: string, attempt: number, stream: string, text: string): void {
    this.store.grouped(() => this.store.appendOutput(taskId, attempt, stream, text)).catch(() => undefined);
  }

  publishWorker(card: WorkerCard): void {
    this.cards.add(card);
  }

  graphWorkspace(graphId: string): string | null {
    return this.store.getGraph(graphId)?.workspace ?? null;
  }

  audit(who: Actor, action: string, target: string, detail: Record<string, unknown>): void {
    try {
      this.store.appendAudit({ ...who, action, target, detail });
    } catch {
      /* the store reports its own failures; an audit write must not break settling */
    }
  }

  /** Tasks whose closing write is waiting for the store (for tests and the dashboard). */
  pendingWrites(): string[] {
    return this.pending.ids();
  }

  /** Stops retrying refused writes (the host is closing; recovery takes over at the next start). */
  close(): void {
    this.pending.clear();
  }

  /** `step` applied to the scheduler as it is now; [] when the task moved meanwhile (an admin ended it). */
  private tryStep(taskId: string, step: TaskStep): Transition[] {
    try {
      switch (step.kind) {
        case 'finish':
          return this.scheduler.finish(taskId, step.state, step.reason);
        case 'requeue':
          return this.scheduler.requeue(taskId, step.reason);
        case 'hold':
          return this.scheduler.hold(taskId, step.reason);
        case 'hold_after_run':
          return this.scheduler.holdAfterRun(taskId, step.reason);
      }
    } catch (e) {
      if (isColonyError(e) && e.code === 'E_INVALID_TRANSITION') return [];
      throw e;
    }
  }

  /** A write whose failure rebuilds memory from the store before it is rethrown. */
  private guarded(write: () => void): void {
    try {
      write();
    } catch (e) {
      this.reload();
      throw e;
    }
  }

  submitGraph(input: GraphInput, o: SubmitOptions, label = 'graph'): SubmitResult {
    const graphId = makeGraphId(input.name, randomBytes(3).toString('hex'));
    const specs = compileGraph(
      input,
      {
        graphId,
        workspace: o.workspace,
        resolveWorkspace: (ws) => (isAbsolute(ws) ? ws : resolve(o.workspace, ws)),
        defaultBudgetUsd: this.config.budget.default_task_usd,
        defaultMaxAttempts: this.config.runner.max_attempts,
        defaultTarget: o.defaultTarget,
        isKnown: (id) => {
          const t = this.scheduler.has(id) ? this.store.getTask(id) : null;
          return t !== null && (o.canDependOn?.(t) ?? true);
        },
      },
      label,
    );
    this.checkWorkerTargets(specs, o.submittedBy);
    // safety.allowed_roots, before anything is stored (LAN users are not told the host's paths).
    assertWorkspacesInRoots(specs, rootsForGraph(this.config, o.workspace, o.submittedBy), { redact: o.submittedBy !== 'admin' });
    const graphBudget = input.budget_usd ?? this.config.budget.default_graph_usd;
    if (graphBudget !== null) checkGraphReservation(specs, graphBudget);
    const tasks: NewTask[] = specs.map((s) => ({
      ...s,
      lane: laneOf(s.target, o.submittedBy),
      state: o.holdHostTasks && s.target === 'host' ? 'awaiting_approval' : 'waiting',
    }));
    const sched: SchedTask[] = tasks.map((t) => ({
      id: t.id,
      depends_on: t.depends_on,
      trigger: t.trigger,
      state: t.state,
      lane: t.lane,
      wait_deadline: t.wait_timeout_s === null ? null : this.now() + t.wait_timeout_s * 1000,
    }));
    const initial = this.scheduler.add(sched);
    try {
      this.store.submitGraph(
        { id: graphId, name: input.name, budget_usd: graphBudget, submitted_by: o.submittedBy, workspace: o.workspace, source: o.source ?? null },
        tasks,
        initial,
        o.who,
      );
    } catch (e) {
      this.reload();
      throw e;
    }
    const held = tasks.filter((t) => t.state === 'awaiting_approval').map((t) => t.id);
    if (held.length > 0 && this.onHeld) {
      try {
        this.onHeld(held);
      } catch {
        // No findings recorded: the approval then covers none, and dispatch screens and holds again.
      }
    }
    return { graph_id: graphId, task_ids: tasks.map((t) => t.id) };
  }

  /** A task naming a worker it could never run on is refused before anything is stored, instead of waiting for ever. */
  private checkWorkerTargets(specs: ReadonlyArray<{ target: string }>, submittedBy: string): void {
    const named = [...new Set(specs.map((s) => s.target).filter((t) => t !== 'host' && t !== 'own-worker'))];
    if (named.length === 0) return;
    const workers = new WorkerStore(this.store);
    for (const id of named) {
      const problem = workerTargetProblem(id, workers.get(id), submittedBy);
      if (problem) throw new ColonyError('E_WORKER_UNAVAILABLE', problem);
    }
  }

  /** Persists transitions decided by the scheduler; on failure memory is rebuilt from disk. */
  private persist(trs: Transition[], who: Actor): Transition[] {
    try {
      this.store.applyTransitions(trs, who);
    } catch (e) {
      this.reload();
      throw e;
    }
    return trs;
  }

  approve(id: string, who: Actor): Transition[] {
    this.requireOwnTask(id);
    return this.mutate(who, () => {
      const trs = this.scheduler.approve(id, `approved by ${who.actor}`);
      this.store.markApproved(id);
      return trs;
    });
  }

  /** A task held for its pending change: approved → succeeded, rejected → failed. */
  settleHeld(id: string, ok: boolean, reason: string, who: Actor): Transition[] {
    this.requireOwnTask(id);
    return this.mutate(who, () => this.scheduler.settleHeld(id, ok, reason));
  }

  /** Changes were requested on the task's pending change: it runs again (a follow-up); `inTx` records the request in the same transaction. */
  reopen(id: string, reason: string, who: Actor, inTx: () => void): Transition[] {
    this.requireOwnTask(id);
    return this.mutate(who, () => {
      const trs = this.scheduler.reopen(id, reason);
      inTx();
      return trs;
    });
  }

  reject(id: string, who: Actor): Transition[] {
    const t = this.requireOwnTask(id);
    if (t.state !== 'awaiting_approval') throw new ColonyError('E_INVALID_TRANSITION', `task ${id} is ${t.state}, not awaiting_approval`);
    return this.mutate(who, () => this.scheduler.cancel(id, `rejected by ${who.actor}`));
  }

  forceRun(id: string, who: Actor): Transition[] {
    this.requireOwnTask(id);
    return this.mutate(who, () => this.scheduler.forceRun(id));
  }

  skip(id: string, who: Actor): Transition[] {
    this.requireOwnTask(id);
    return this.mutate(who, () => this.scheduler.skip(id, `skipped by ${who.actor}`));
  }

  retry(id: string, who: Actor): Transition[] {
    this.requireOwnTask(id);
    return this.mutate(who, () => this.scheduler.retry(id));
  }

  dropEdge(id: string, dep: string, who: Actor): Transition[] {
    this.requireOwnTask(id);
    return this.mutate(who, () => {
      const trs = this.scheduler.dropEdge(id, dep);
      this.store.deleteEdge(id, dep);
      this.store.appendAudit({ ...who, action: 'task.drop_edge', target: id, detail: { depends_on: dep } });
      return trs;
    });
  }

  /** Cancels a task that has not started; running ones are cancelled by whoever runs them (pool, remote host). */
  cancelPending(id: string, who: Actor): Transition[] {
    const t = this.requireOwnTask(id);
    if (isTerminal(t.state)) throw new ColonyError('E_INVALID_TRANSITION', `task ${id} already ended (${t.state})`);
    return this.mutate(who, () => this.scheduler.cancel(id, `cancelled by ${who.actor}`));
  }

  expireWaits(): Transition[] {
    return this.persist(this.scheduler.expireWaits(this.now()), SYSTEM);
  }

  tasksOf(ids: readonly string[]): Map<string, StoredTask> {
    return this.store.getTasks(ids);
  }

  requireTask(id: string): StoredTask {
    const t = this.store.getTask(id);
    if (!t) throw new ColonyError('E_NOT_FOUND', `no task ${id}`);
    return t;
  }

  /**
   * A task this host may act on. Several hosts on one database: each host
   * schedules only its own graphs, so an action on another host's task is
   * refused with the owner's name (E_FOREIGN_TASK, 409): send it to that host.
   */
  requireOwnTask(id: string): StoredTask {
    const t = this.requireTask(id);
    if (this.store.hostId === null || this.scheduler.has(id)) return t;
    const owner = this.store.hostOfTask(id);
    if (owner === this.store.hostId) return t; // adopted or submitted since the last rebuild
    throw new ColonyError('E_FOREIGN_TASK', `task ${id} belongs to colony host ${owner ?? '(none)'}; act on it through that host`, { owner_host: owner });
  }

  /** Scheduler mutation + its persistence (and any extra writes) in one transaction. */
  private mutate(who: Actor, fn: () => Transition[]): Transition[] {
    try {
      return this.store.transaction(() => {
        const trs = fn();
        this.store.applyTransitions(trs, who);
        return trs;
      });
    } catch (e) {
      this.reload();
      throw e;
    }
  }

  /** Pauses (or resumes) dispatch of a graph's or a user's tasks; audited and published. False when already so. */
  setPaused(scope: BudgetScope, key: string, paused: boolean, owner: string | null, reason: string, who: Actor): boolean {
    return this.pauses.set(scope, key, paused, owner, reason, who, this.now());
  }

  pausedReason(task: Pick<StoredTask, 'graph_id' | 'submitted_by'>): string | null {
    const p = this.pauses.scopeOf(task);
    return p && `E_BUDGET: ${p.scope} ${p.key} was paused at its budget before this task started; it waits for the admin to resume`;
  }

  isPaused(scope: BudgetScope, key: string): boolean {
    return this.pauses.isPaused(scope, key);
  }

  /** Rebuilds the scheduler from the store (after a failed write, the store is the truth). */
  resync(): void {
    this.reload();
  }

  /**
   * Memory back to what the store has. When the store cannot even be read (a
   * database server out of reach), memory is marked stale instead and rebuilt
   * before the next decision (catchUp), so nothing is decided on states the
   * store never took.
   */
  private reload(): void {
    try {
      this.rebuild();
      this.stale = false;
    } catch (e) {
      if (!isStoreRefusal(e)) throw e;
      this.stale = true;
    }
  }

  /** True while memory waits for a rebuild from the store (see reload). */
  get memoryStale(): boolean {
    return this.stale;
  }

  private catchUp(): void {
    if (!this.stale) return;
    this.rebuild();
    this.stale = false;
  }

  private rebuild(): void {
    this.pauses.load();
    const s = new Scheduler();
    const all = this.store.loadAll();
    const held = new Set(new ChangeStore(this.store).heldTaskIds());
    s.add(
      all.map((t) => ({
        id: t.id,
        depends_on: t.depends_on,
        trigger: t.trigger,
        state: t.state,
        lane: t.lane,
        wait_deadline: t.wait_timeout_s === null ? null : t.created_at + t.wait_timeout_s * 1000,
        held_after_run: held.has(t.id),
      })),
    );
    // add() may derive transitions the store has not seen (e.g. a crash between
    // a finish and its cascade is impossible — one transaction — but a dropped
    // edge or a legacy row could leave one); persist them so both agree.
    this.scheduler = s;
    const drift = all.filter((t) => s.state(t.id) !== t.state);
    if (drift.length > 0) {
      this.store.applyTransitions(
        drift.map((t) => ({ id: t.id, from: t.state, to: s.state(t.id) ?? t.state, reason: 'reconciled at load' })),
        SYSTEM,
      );
    }
  }
}

export { checkGraphInput, checkGraphReservation } from './graph-check.js';
