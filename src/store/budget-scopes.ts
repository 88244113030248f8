/**
 * Budgets per graph and per user (issue 18): what each has spent, the admin's
 * overrides, the level last announced and the pause flag. The rules are in
 * core/budget.ts; the budget watch (runner/budget-watch.ts) and TaskService
 * decide, this file only reads and writes.
 */
import { dbOf } from './internal.js';
import type { Actor, Store } from './store.js';
import type { BudgetLevel } from '../core/budget.js';

export type BudgetScope = 'graph' | 'user';

export interface ScopeRow {
  scope: BudgetScope;
  scope_key: string;
  budget_usd: number | null; // the admin's override; null: the graph's own / the config's
  level: BudgetLevel;
  paused: number;
  updated_at: number;
}

export interface SpendRow {
  key: string;
  spent_usd: number;
}

export class BudgetScopeStore {
  constructor(private readonly store: Store) {}

  get(scope: BudgetScope, key: string): ScopeRow | null {
    return (dbOf(this.store).prepare('SELECT * FROM budget_scopes WHERE scope = ? AND scope_key = ?').get(scope, key) as ScopeRow | undefined) ?? null;
  }

  all(): ScopeRow[] {
    return dbOf(this.store).prepare('SELECT * FROM budget_scopes').all() as ScopeRow[];
  }

  private upsert(scope: BudgetScope, key: string, set: 'budget_usd' | 'level' | 'paused', value: number | string | null, at: number): void {
    dbOf(this.store)
      .prepare(
        `INSERT INTO budget_scopes (scope, scope_key, ${set}, updated_at) VALUES (?, ?, ?, ?)
        ON CONFLICT(scope, scope_key) DO UPDATE SET ${set} = excluded.${set}, updated_at = excluded.updated_at`,
      )
      .run(scope, key, value, at);
  }

  setLevel(scope: BudgetScope, key: string, level: BudgetLevel, at: number): void {
    this.upsert(scope, key, 'level', level, at);
  }

  /** The admin's new budget (null: back to the default), audited. */
  setBudget(scope: BudgetScope, key: string, budgetUsd: number | null, who: Actor, at: number): void {
    this.store.transaction(() => {
      this.upsert(scope, key, 'budget_usd', budgetUsd, at);
      this.store.appendAudit({ ...who, action: 'budget.set', target: `${scope}:${key}`, detail: { budget_usd: budgetUsd } });
    });
  }

  /** Pause or resume, audited and published (owner: whose tasks they are) in one transaction. */
  setPaused(scope: BudgetScope, key: string, paused: boolean, owner: string | null, reason: string, who: Actor, at: number): void {
    this.store.transaction(() => {
      this.upsert(scope, key, 'paused', paused ? 1 : 0, at);
      const action = paused ? 'budget.paused' : 'budget.resumed';
      this.store.appendAudit({ ...who, action, target: `${scope}:${key}`, detail: { reason } });
      this.store.publish('budget', owner, { scope, key, paused, reason });
    });
  }

  /** Cost of every attempt, per graph (key null: all graphs). */
  spentByGraph(graphId?: string): SpendRow[] {
    return dbOf(this.store)
      .prepare(`SELECT graph_id AS key, COALESCE(SUM(cost_usd), 0) AS spent_usd FROM tasks WHERE (? IS NULL OR graph_id = ?) GROUP BY graph_id`)
      .all(graphId ?? null, graphId ?? null) as SpendRow[];
  }

  spentByUser(user?: string): SpendRow[] {
    return dbOf(this.store)
      .prepare(`SELECT submitted_by AS key, COALESCE(SUM(cost_usd), 0) AS spent_usd FROM tasks WHERE (? IS NULL OR submitted_by = ?) GROUP BY submitted_by`)
      .all(user ?? null, user ?? null) as SpendRow[];
  }

  /** Cost per day (UTC), engine and model over the last `days` days, for the dashboard's chart. */
  dailyCost(sinceMs: number): { day: string; engine: string | null; model: string | null; cost_usd: number }[] {
    return dbOf(this.store)
      .prepare(
        `SELECT strftime('%Y-%m-%d', started_at / 1000, 'unixepoch') AS day, engine, model, COALESCE(SUM(cost_usd), 0) AS cost_usd
        FROM attempts WHERE started_at >= ? GROUP BY day, engine, model ORDER BY day`,
      )
      .all(sinceMs) as { day: string; engine: string | null; model: string | null; cost_usd: number }[];
  }

  /** Task counts per state of one graph (has it finished? with what?). */
  graphCounts(graphId: string): Record<string, number> {
    const rows = dbOf(this.store).prepare('SELECT state, COUNT(*) AS n FROM tasks WHERE graph_id = ? GROUP BY state').all(graphId) as {
      state: string;
      n: number;
    }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  /** The tasks a scope covers, for the pause filter: graph id and submitter of one task. */
  taskScope(taskId: string): { graph_id: string; submitted_by: string } | null {
    return (
      (dbOf(this.store).prepare('SELECT graph_id, submitted_by FROM tasks WHERE id = ?').get(taskId) as
        { graph_id: string; submitted_by: string } | undefined) ?? null
    );
  }
}
