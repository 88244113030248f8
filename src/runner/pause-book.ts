/**
 * Which graphs and users are paused at their budget (issue 18), kept in memory
 * for the dispatch filter and in the store (budget_scopes.paused) for restarts.
 * A paused task stays ready but is not claimed; attempts already running end
 * as usual (or at their own budget). Only TaskService changes it.
 */
import { BudgetScopeStore, type BudgetScope } from '../store/budget-scopes.js';
import type { Actor, Store } from '../store/store.js';

export class PauseBook {
  private readonly paused = new Set<string>();
  private readonly scopes: BudgetScopeStore;

  constructor(store: Store) {
    this.scopes = new BudgetScopeStore(store);
  }

  load(): void {
    this.paused.clear();
    for (const r of this.scopes.all()) if (r.paused) this.paused.add(`${r.scope}:${r.scope_key}`);
  }

  isPaused(scope: BudgetScope, key: string): boolean {
    return this.paused.has(`${scope}:${key}`);
  }

  /** Which of a task's scopes is paused, if any (no store read: the caller holds the task). */
  scopeOf(t: { graph_id: string; submitted_by: string }): { scope: BudgetScope; key: string } | null {
    if (this.paused.has(`graph:${t.graph_id}`)) return { scope: 'graph', key: t.graph_id };
    if (this.paused.has(`user:${t.submitted_by}`)) return { scope: 'user', key: t.submitted_by };
    return null;
  }

  /** True when the task's graph or submitter is paused (no store read while nothing is). */
  holds(taskId: string): boolean {
    if (this.paused.size === 0) return false;
    const t = this.scopes.taskScope(taskId);
    return t !== null && (this.paused.has(`graph:${t.graph_id}`) || this.paused.has(`user:${t.submitted_by}`));
  }

  set(scope: BudgetScope, key: string, paused: boolean, owner: string | null, reason: string, who: Actor, at: number): boolean {
    if (this.isPaused(scope, key) === paused) return false;
    this.scopes.setPaused(scope, key, paused, owner, reason, who, at);
    if (paused) this.paused.add(`${scope}:${key}`);
    else this.paused.delete(`${scope}:${key}`);
    return true;
  }
}
