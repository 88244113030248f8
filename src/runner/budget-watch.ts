/**
 * Budgets per graph and per user, watched (issue 18). After every finished
 * attempt the spend of its graph and of its submitter is compared with their
 * budget (core/budget.ts budgetLevel): crossing the warning share notifies
 * once; reaching the budget pauses the scope's tasks through TaskService and
 * notifies. The admin raises the budget (setBudget) and resumes (refused while
 * the spend still reaches the budget).
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

export class BudgetWatch {
  readonly scopes: BudgetScopeStore;
  private unsubscribe: () => void = () => {};

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

  private build(scope: BudgetScope, key: string, name: string, owner: string, spent: number, row: ScopeRow | null, dflt: number | null): ScopeStatus {
    const overridden = row !== null && row.budget_usd !== null;
    const budget = overridden ? row.budget_usd : dflt;
    const level = budgetLevel(spent, budget, this.config.budget.warn_share);
    return { scope, key, name, owner, spent_usd: spent, budget_usd: budget, overridden, level, paused: this.service.isPaused(scope, key) };
  }

  private onEvents(events: readonly EventRecord[]): void {
    if (!this.store.isOpen()) return;
    const seen = new Set<string>();
    for (const e of events) {
      // Only a cost moves a level (free attempts, e.g. exec, cost no query).
      if (e.kind !== 'attempt.finished' || e.task_id === null || !(Number(e.data['cost_usd']) > 0)) continue;
      const t = this.store.getTask(e.task_id);
      if (!t) continue;
      for (const [scope, key] of [
        ['graph', t.graph_id],
        ['user', t.submitted_by],
      ] as const) {
        if (seen.has(`${scope}:${key}`)) continue;
        seen.add(`${scope}:${key}`);
        try {
          this.evaluate(scope, key);
        } catch {
          /* the store reports its own failures; the next attempt re-evaluates */
        }
      }
    }
  }

  /** Compares the scope's level with the one last announced; announces a rise, pauses at the stop. */
  private evaluate(scope: BudgetScope, key: string): void {
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
