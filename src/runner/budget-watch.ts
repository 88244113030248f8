/**
 * Budgets per graph and per user, watched (issue 18). After every finished
 * attempt the spend of its graph and of its submitter is compared with their
 * budget (core/budget.ts budgetLevel): crossing the warning share notifies
 * once; reaching the budget pauses the scope's tasks through TaskService and
 * notifies. The admin raises the budget (setBudget) and resumes (refused while
 * the spend still reaches the budget).
 *
 * Checked in flight too: a running attempt's cost so far (its engine's cost
 * events, a remote worker's progress: `attemptCost`) counts against its graph
 * and submitter (budget-inflight.ts). What that check needs of the store (the
 * scope's stored spend, budget and announced level) is read once and kept
 * until the scope is evaluated again (an attempt of it ended, its budget
 * changed) or BASE_TTL_MS passed (another host's attempts), so a stream of
 * cost events reads nothing while no level moves. Reaching a budget pauses the scope and
 * stops the scope's running attempts through the stoppers the host registers
 * (the local pool, the remote dispatcher): each attempt is recorded as failed
 * with E_BUDGET and its task goes back to the queue, paused with the others.
 *
 * Budgets: a graph's is the admin's override, else the graph's own budget_usd;
 * a user's is the override, else `budget.per_user_usd` for LAN users (the admin
 * has none unless one is set).
 */
import { budgetLevel, canResume, type BudgetLevel } from '../core/budget.js';
import { ColonyError } from '../core/errors.js';
import { formatUsd } from '../core/pricing.js';
import type { ColonyConfig } from '../core/config.js';
import type { Notification } from '../core/webhook.js';
import { BudgetScopeStore, type BudgetScope, type ScopeRow } from '../store/budget-scopes.js';
import type { EventRecord } from '../store/rows.js';
import { SYSTEM, type Actor, type Store } from '../store/store.js';
import type { TaskService } from './service.js';
import { InFlightSpend, type CostScope } from './budget-inflight.js';

/** Stops a running attempt of a task for its scope's budget; false when this runner does not hold it. */
export type AttemptStopper = (taskId: string, reason: string) => boolean;

export interface ScopeStatus {
  scope: BudgetScope;
  key: string;
  name: string; // the graph's name, or the user id
  owner: string;
  spent_usd: number;
  budget_usd: number | null;
  overridden: boolean;
  level: BudgetLevel;
  paused: boolean;
}

/** How long an in-flight check trusts the stored part of a scope's spend it read (attempts of other hosts end unseen). */
const BASE_TTL_MS = 2000;

interface ScopeBase {
  at: number;
  stored: number; // spend of the scope's finished attempts
  budget: number | null;
  level: BudgetLevel; // the level last announced
}

export class BudgetWatch {
  readonly scopes: BudgetScopeStore;
  private unsubscribe: () => void = () => {};
  private readonly flying = new InFlightSpend();
  private readonly stoppers = new Set<AttemptStopper>();
  private readonly bases = new Map<string, ScopeBase>();

  constructor(
    private readonly store: Store,
    private readonly service: TaskService,
    private readonly config: ColonyConfig,
    private readonly notify: (n: Notification) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.scopes = new BudgetScopeStore(store);
  }

  start(): void {
    // Synchronously, right after the commit: the pool dispatches what became ready on a later tick,
    // so a scope that just reached its budget is paused before its next task can be claimed.
    this.unsubscribe = this.store.subscribe((events) => this.onEvents(events));
  }

  stop(): void {
    this.unsubscribe();
  }

  /** A runner of attempts that can stop one when its scope's budget is reached. */
  addStopper(fn: AttemptStopper): () => void {
    this.stoppers.add(fn);
    return () => this.stoppers.delete(fn);
  }

  /**
   * A running attempt's cost so far (cumulative for the attempt): counted against its graph and submitter at once,
   * so a long attempt cannot overshoot them; reaching a budget pauses the scope and stops its running attempts.
   * The runner passes the task's graph and submitter (it holds the task), so an unchanged cost reads nothing.
   */
  attemptCost(taskId: string, attempt: number, scope: CostScope, usd: number): void {
    if (!this.store.isOpen() || !this.flying.set(taskId, attempt, scope, usd)) return;
    // evaluateBoth survives a store out of reach (PostgreSQL down): the next cost report and the attempt's end check again.
    this.evaluateBoth(scope.graph_id, scope.submitted_by, new Set(), (s, k) => this.checkFlying(s, k));
  }

  status(scope: BudgetScope, key: string): ScopeStatus | null {
    const row = this.scopes.get(scope, key);
    if (scope === 'graph') {
      const g = this.store.getGraph(key);
      if (!g) return null;
      const spent = this.scopes.spentByGraph(key)[0]?.spent_usd ?? 0;
      return this.build(scope, key, g.name, g.submitted_by, spent, row, g.budget_usd);
    }
    const spent = this.scopes.spentByUser(key)[0]?.spent_usd ?? 0;
    return this.build(scope, key, key, key, spent, row, key === 'admin' ? null : this.config.budget.per_user_usd);
  }

  /** A user's budget as that user may see it (the LAN app's own budget): their spend, running attempts included. */
  userStatus(user: string): ScopeStatus {
    return this.status('user', user) as ScopeStatus; // a user scope always has a status
  }

  /** Every graph (newest first, up to 200) and every user who submitted something. */
  overview(): { warn_share: number; graphs: ScopeStatus[]; users: ScopeStatus[] } {
    const spentG = new Map(this.scopes.spentByGraph().map((r) => [r.key, r.spent_usd]));
    const rows = new Map(this.scopes.all().map((r) => [`${r.scope}:${r.scope_key}`, r]));
    const graphs = this.store
      .listGraphs(200)
      .map((g) => this.build('graph', g.id, g.name, g.submitted_by, spentG.get(g.id) ?? 0, rows.get(`graph:${g.id}`) ?? null, g.budget_usd));
    const users = this.scopes
      .spentByUser()
      .map((u) =>
        this.build('user', u.key, u.key, u.key, u.spent_usd, rows.get(`user:${u.key}`) ?? null, u.key === 'admin' ? null : this.config.budget.per_user_usd),
      );
    return { warn_share: this.config.budget.warn_share, graphs, users };
  }

  /** The admin's new budget for a scope (null: back to its default); re-evaluated at once (may pause, never resumes). */
  setBudget(scope: BudgetScope, key: string, budgetUsd: number | null, who: Actor): ScopeStatus {
    if (!this.status(scope, key)) throw new ColonyError('E_NOT_FOUND', `no ${scope} ${key}`);
    this.scopes.setBudget(scope, key, budgetUsd, who, this.now());
    this.evaluate(scope, key);
    return this.status(scope, key) as ScopeStatus;
  }

  /** Resumes a paused scope; refused while its spend still reaches its budget. */
  resume(scope: BudgetScope, key: string, who: Actor): ScopeStatus {
    const s = this.status(scope, key);
    if (!s) throw new ColonyError('E_NOT_FOUND', `no ${scope} ${key}`);
    if (!canResume(s.spent_usd, s.budget_usd)) {
      throw new ColonyError(
        'E_BUDGET_STOPPED',
        `${scope} ${s.name} spent ${formatUsd(s.spent_usd)} of its ${formatUsd(s.budget_usd ?? 0)} budget; raise the budget before resuming`,
        { spent_usd: s.spent_usd, budget_usd: s.budget_usd },
      );
    }
    this.service.setPaused(scope, key, false, s.owner, `resumed by ${who.actor}`, who);
    return this.status(scope, key) as ScopeStatus;
  }

  private build(scope: BudgetScope, key: string, name: string, owner: string, stored: number, row: ScopeRow | null, dflt: number | null): ScopeStatus {
    const spent = stored + this.flying.of(scope, key); // what running attempts spent so far counts too
    const overridden = row !== null && row.budget_usd !== null;
    const budget = overridden ? row.budget_usd : dflt;
    const level = budgetLevel(spent, budget, this.config.budget.warn_share);
    return { scope, key, name, owner, spent_usd: spent, budget_usd: budget, overridden, level, paused: this.service.isPaused(scope, key) };
  }

  private onEvents(events: readonly EventRecord[]): void {
    if (!this.store.isOpen()) return;
    const seen = new Set<string>();
    for (const e of events) {
      if (e.kind !== 'attempt.finished' || e.task_id === null) continue;
      // Its cost is in the store now: no longer counted in flight.
      const attempt = Number(e.data['attempt']);
      const wasFlying = this.flying.has(e.task_id, attempt);
      this.flying.end(e.task_id, attempt);
      // Only a cost moves a level (free attempts, e.g. exec, cost no query).
      if (!(Number(e.data['cost_usd']) > 0) && !wasFlying) continue;
      const t = this.store.getTask(e.task_id);
      if (!t) continue;
      this.evaluateBoth(t.graph_id, t.submitted_by, seen);
    }
  }

  /** Evaluates the scope only when its cost so far moves its level past the one announced (the stored part read at most once per BASE_TTL_MS). */
  private checkFlying(scope: BudgetScope, key: string): void {
    const k = `${scope}:${key}`;
    let b = this.bases.get(k);
    if (!b || this.now() - b.at > BASE_TTL_MS) {
      const s = this.status(scope, key);
      if (!s) return;
      const level = this.scopes.get(scope, key)?.level ?? 'ok';
      b = { at: this.now(), stored: s.spent_usd - this.flying.of(scope, key), budget: s.budget_usd, level };
      this.bases.set(k, b);
    }
    if (budgetLevel(b.stored + this.flying.of(scope, key), b.budget, this.config.budget.warn_share) !== b.level) this.evaluate(scope, key);
  }

  private evaluateBoth(graphId: string, user: string, seen = new Set<string>(), check = (s: BudgetScope, k: string) => this.evaluate(s, k)): void {
    for (const [scope, key] of [
      ['graph', graphId],
      ['user', user],
    ] as const) {
      if (seen.has(`${scope}:${key}`)) continue;
      seen.add(`${scope}:${key}`);
      try {
        check(scope, key);
      } catch {
        /* the store reports its own failures (PostgreSQL down must not fail the attempt); the next cost report or attempt re-evaluates */
      }
    }
  }

  /**
   * Stops the scope's running attempts (each runner stops those it holds), and its claimed ones not started yet:
   * a remote offer the worker has not accepted is withdrawn (the local pool checks the pause itself before it starts one).
   */
  private stopRunning(scope: BudgetScope, key: string, reason: string): void {
    const of = scope === 'graph' ? { graph_id: key } : { submitted_by: key };
    const open = [...this.store.listTasks({ state: 'running', ...of, limit: 10_000 }), ...this.store.listTasks({ state: 'assigned', ...of, limit: 10_000 })];
    for (const t of open) for (const stop of this.stoppers) if (stop(t.id, reason)) break;
  }

  /** Compares the scope's level with the one last announced; announces a rise, pauses at the stop. */
  private evaluate(scope: BudgetScope, key: string): void {
    this.bases.delete(`${scope}:${key}`); // its spend, budget or level may have moved: the next in-flight check reads them again
    const s = this.status(scope, key);
    if (!s) return;
    const before = this.scopes.get(scope, key)?.level ?? 'ok';
    if (s.level === before) return;
    this.scopes.setLevel(scope, key, s.level, this.now());
    const what = scope === 'graph' ? `graph ${s.name}` : `user ${s.name}`;
    const spent = `${formatUsd(s.spent_usd)} of ${formatUsd(s.budget_usd ?? 0)}`;
    const base = {
      at: this.now(),
      owner: s.owner,
      task_id: null,
      graph_id: scope === 'graph' ? key : null,
      detail: { scope, key, spent_usd: s.spent_usd, budget_usd: s.budget_usd },
    };
    if (s.level === 'stop') {
      this.service.setPaused(scope, key, true, s.owner, `spent ${spent}`, SYSTEM);
      this.stopRunning(scope, key, `${what} reached its budget (spent ${spent}); paused until the admin raises it and resumes`);
      this.notify({
        ...base,
        event: 'budget.stop',
        title: 'Budget reached: tasks paused',
        body: `${what} spent ${spent}; its tasks are paused until the budget is raised and resumed`,
      });
    } else if (s.level === 'warn' && before !== 'stop') {
      this.notify({
        ...base,
        event: 'budget.warning',
        title: 'Budget warning',
        body: `${what} spent ${spent} (${Math.round(this.config.budget.warn_share * 100)}% warning)`,
      });
    }
  }
}
