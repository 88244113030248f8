/**
 * TaskService: the one place where task graphs are submitted and changed.
 * The admin API, the user API, the CLI and the local pool all call it. Each
 * operation asks the pure Scheduler for transitions and persists them in one
 * store transaction; if the store refuses (disk full, conflict), the
 * scheduler is rebuilt from the store so memory never runs ahead of disk.
 */
import { randomBytes } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { ColonyError } from '../core/errors.js';
import { compileGraph, makeGraphId, type GraphInput } from '../core/graph-schema.js';
import { Scheduler, type SchedTask, type Transition } from '../core/scheduler.js';
import { isTerminal, type TaskSpec } from '../core/task.js';
import type { ColonyConfig } from '../core/config.js';
import { SYSTEM, type Actor, type NewTask, type Store } from '../store/store.js';
import type { StoredTask } from '../store/rows.js';
import { ChangeStore } from '../store/changes.js';
import { assertWorkspacesInRoots, rootsForGraph } from '../safety/roots.js';

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

/** How many attempts lost to host crashes a task may have before it is failed instead of requeued. */
export const MAX_LOST_ATTEMPTS = 3;

export function laneOf(target: string, submittedBy: string): string {
  if (target === 'host') return 'host';
  if (target === 'own-worker') return `user:${submittedBy}`;
  return `worker:${target}`;
}

export class TaskService {
  scheduler = new Scheduler();
  /** Called with the tasks a submission put in awaiting_approval (the host screens them for the admin). */
  onHeld: ((taskIds: string[]) => void) | null = null;

  constructor(
    readonly store: Store,
    readonly config: ColonyConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Loads every task into the scheduler. Attempts left assigned/running by a
   * process that is gone are closed as lost and their tasks requeued (the next
   * attempt gets attempt+1), or failed when no attempt is left.
   */
  recover(): { requeued: string[]; failed: string[] } {
    this.reload();
    const requeued: string[] = [];
    const failed: string[] = [];
    for (const t of this.store.listTasks({ state: 'assigned', limit: 1e9 }).concat(this.store.listTasks({ state: 'running', limit: 1e9 }))) {
      this.closeLostAttempt(t);
      // A host crash is not the task's fault: a lost attempt is not charged
      // against max_attempts, but a task that was running at MAX_LOST_ATTEMPTS
      // crashes in a row is failed (it may be what brings the host down).
      const lost = this.store.attemptsOf(t.id).filter((a) => a.state === 'lost').length;
      if (lost < MAX_LOST_ATTEMPTS) {
        this.persist(this.scheduler.requeue(t.id, 'recovered after the host stopped'), SYSTEM);
        requeued.push(t.id);
      } else {
        this.persist(this.scheduler.finish(t.id, 'failed', `the host stopped during ${lost} attempts of this task; not retried again`), SYSTEM);
        failed.push(t.id);
      }
    }
    return { requeued, failed };
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

  /** Persists transitions decided by the scheduler; on failure memory is rebuilt from disk. */
  persist(trs: Transition[], who: Actor): Transition[] {
    try {
      this.store.applyTransitions(trs, who);
    } catch (e) {
      this.reload();
      throw e;
    }
    return trs;
  }

  approve(id: string, who: Actor): Transition[] {
    this.requireTask(id);
    return this.mutate(who, () => {
      const trs = this.scheduler.approve(id, `approved by ${who.actor}`);
      this.store.markApproved(id);
      return trs;
    });
  }

  /** A task held for its pending change: approved → succeeded, rejected → failed. */
  settleHeld(id: string, ok: boolean, reason: string, who: Actor): Transition[] {
    this.requireTask(id);
    return this.mutate(who, () => this.scheduler.settleHeld(id, ok, reason));
  }

  reject(id: string, who: Actor): Transition[] {
    const t = this.requireTask(id);
    if (t.state !== 'awaiting_approval') throw new ColonyError('E_INVALID_TRANSITION', `task ${id} is ${t.state}, not awaiting_approval`);
    return this.mutate(who, () => this.scheduler.cancel(id, `rejected by ${who.actor}`));
  }

  forceRun(id: string, who: Actor): Transition[] {
    this.requireTask(id);
    return this.mutate(who, () => this.scheduler.forceRun(id));
  }

  skip(id: string, who: Actor): Transition[] {
    this.requireTask(id);
    return this.mutate(who, () => this.scheduler.skip(id, `skipped by ${who.actor}`));
  }

  retry(id: string, who: Actor): Transition[] {
    this.requireTask(id);
    return this.mutate(who, () => this.scheduler.retry(id));
  }

  dropEdge(id: string, dep: string, who: Actor): Transition[] {
    this.requireTask(id);
    return this.mutate(who, () => {
      const trs = this.scheduler.dropEdge(id, dep);
      this.store.deleteEdge(id, dep);
      this.store.appendAudit({ ...who, action: 'task.drop_edge', target: id, detail: { depends_on: dep } });
      return trs;
    });
  }

  /** Cancels a task that has not started; running ones are cancelled by whoever runs them (pool, remote host). */
  cancelPending(id: string, who: Actor): Transition[] {
    const t = this.requireTask(id);
    if (isTerminal(t.state)) throw new ColonyError('E_INVALID_TRANSITION', `task ${id} already ended (${t.state})`);
    return this.mutate(who, () => this.scheduler.cancel(id, `cancelled by ${who.actor}`));
  }

  expireWaits(): Transition[] {
    return this.persist(this.scheduler.expireWaits(this.now()), SYSTEM);
  }

  requireTask(id: string): StoredTask {
    const t = this.store.getTask(id);
    if (!t) throw new ColonyError('E_NOT_FOUND', `no task ${id}`);
    return t;
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

  /** Rebuilds the scheduler from the store (after a failed write, the store is the truth). */
  resync(): void {
    this.reload();
  }

  private reload(): void {
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

  private closeLostAttempt(t: StoredTask): void {
    if (t.attempt === 0) return;
    const open = this.store.attemptsOf(t.id).find((a) => a.attempt === t.attempt && a.finished_at === null);
    if (!open) return;
    this.store.finishAttempt(
      t.id,
      t.attempt,
      {
        state: 'lost',
        engine: open.engine,
        model: open.model,
        cost_usd: 0,
        cost_source: 'none',
        usage: { input: 0, output: 0, cache_read: 0, cache_write: 0 },
        error_code: 'E_INTERNAL',
        summary: 'the host stopped while this attempt was running',
      },
      [],
      SYSTEM,
    );
  }
}

/**
 * Checks a graph input the way submitGraph will (ids, dependencies, cycles,
 * budget reservation) without touching a store, so `colony run` can refuse a
 * bad file before it opens (or creates) the database. Dependencies written as
 * global ids (`other-graph:task`) are left to submitGraph, which knows the store.
 */
export function checkGraphInput(input: GraphInput, config: ColonyConfig, workspace: string, label = 'graph'): void {
  const placeholder = '(file)'; // never a real graph id: makeGraphId yields [a-z0-9-]
  const specs = compileGraph(
    input,
    {
      graphId: placeholder,
      workspace,
      resolveWorkspace: (ws) => (isAbsolute(ws) ? ws : resolve(workspace, ws)),
      defaultBudgetUsd: config.budget.default_task_usd,
      defaultMaxAttempts: config.runner.max_attempts,
      defaultTarget: 'host',
      isKnown: (id) => !id.startsWith(`${placeholder}:`),
    },
    label,
  );
  assertWorkspacesInRoots(specs, rootsForGraph(config, workspace, 'admin'));
  const graphBudget = input.budget_usd ?? config.budget.default_graph_usd;
  try {
    if (graphBudget !== null) checkGraphReservation(specs, graphBudget);
  } catch (e) {
    throw e instanceof ColonyError ? new ColonyError(e.code, `${label}: ${e.message}`, e.details) : e;
  }
}

/** A graph whose worst case (every task spending its budget on every attempt) exceeds its budget is refused up front. */
export function checkGraphReservation(specs: readonly TaskSpec[], graphBudget: number): void {
  const worst = specs.reduce((s, t) => s + t.budget_usd * t.max_attempts, 0);
  if (worst > graphBudget + 1e-9) {
    throw new ColonyError(
      'E_BUDGET',
      `graph worst case $${worst.toFixed(4)} (sum of task budgets × max_attempts) exceeds its budget $${graphBudget.toFixed(4)}; raise budget_usd or lower task budgets`,
      { worst_case_usd: worst, budget_usd: graphBudget },
    );
  }
}
