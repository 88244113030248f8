/**
 * What running attempts have spent so far, per graph and per user (issue 18,
 * budgets checked in flight). An attempt's cost is stored only when it ends;
 * until then its engine's cost events (or a remote worker's progress) are
 * kept here so that the budget watch counts them against the attempt's graph
 * and submitter. An entry is dropped when the attempt's end is recorded (its
 * cost is in the store from then on), so nothing is counted twice.
 */
import type { BudgetScope } from '../store/budget-scopes.js';

/** Whose budgets an attempt's cost counts against: its task's graph and submitter (known to whoever runs the attempt). */
export interface CostScope {
  graph_id: string;
  submitted_by: string;
}

interface Flying {
  graph: string;
  user: string;
  usd: number;
}

export class InFlightSpend {
  private readonly attempts = new Map<string, Flying>();

  /** The attempt's cost so far (cumulative for the attempt); false when nothing changed. */
  set(taskId: string, attempt: number, scope: CostScope, usd: number): boolean {
    const k = `${taskId}#${attempt}`;
    const prev = this.attempts.get(k);
    if (prev?.usd === usd || (!prev && !(usd > 0))) return false;
    this.attempts.set(k, { graph: scope.graph_id, user: scope.submitted_by, usd });
    return true;
  }

  has(taskId: string, attempt: number): boolean {
    return this.attempts.has(`${taskId}#${attempt}`);
  }

  end(taskId: string, attempt: number): void {
    this.attempts.delete(`${taskId}#${attempt}`);
  }

  /** What the running attempts of a graph or a user have spent so far. */
  of(scope: BudgetScope, key: string): number {
    let sum = 0;
    for (const f of this.attempts.values()) if ((scope === 'graph' ? f.graph : f.user) === key) sum += f.usd;
    return sum;
  }
}
