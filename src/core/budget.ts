/**
 * Budget maths (DESIGN §3), the one place the budget rules live: enforced
 * before a call (refuse when the estimate exceeds what is left), during the
 * stream (abort once spent reaches the budget) and for a whole graph (reserve
 * the worst case up front).
 *
 * A task's `budget_usd` caps all its attempts together: each attempt gets what
 * is left (`remainingBudget(budget, cost of the earlier attempts)`), so the
 * worst case of a task is its budget whatever max_attempts is, and a graph
 * reserves the sum of its tasks' budgets.
 *
 * Boundary semantics, chosen once and tested:
 *  - before a call, `estimate == remaining` is allowed: the estimate is already
 *    a worst case, and refusing at equality would make a budget that exactly
 *    covers one call useless;
 *  - during and after a call, `spent >= budget` means the budget is used up:
 *    the engine aborts and the attempt fails with E_BUDGET. A free call
 *    (spent 0) never exhausts a budget, so a $0 budget still runs free models;
 *  - amounts are compared in whole micro-dollars, so 0.1 + 0.2 equals 0.3.
 */
import { ColonyError } from './errors.js';
import { formatUsd } from './pricing.js';

const toMicros = (usd: number): number => Math.round(usd * 1_000_000);

export type BudgetCheck =
  { ok: true; estimate_usd: number; remaining_usd: number } | { ok: false; error: ColonyError; estimate_usd: number | null; remaining_usd: number };

/**
 * Pre-call check. `estimateUsd` null means the price of the model is unknown:
 * that is refused with E_PRICE_UNKNOWN (the user must add a price, 0 for a
 * free local model) unless the caller opts in with `allowUnknownPrice`.
 */
export function checkBeforeCall(
  estimateUsd: number | null,
  remainingUsd: number,
  opts: { allowUnknownPrice?: boolean; model?: string | null } = {},
): BudgetCheck {
  if (estimateUsd === null) {
    if (opts.allowUnknownPrice) return { ok: true, estimate_usd: 0, remaining_usd: remainingUsd };
    const model = opts.model ? `'${opts.model}'` : 'this model';
    return {
      ok: false,
      estimate_usd: null,
      remaining_usd: remainingUsd,
      error: new ColonyError(
        'E_PRICE_UNKNOWN',
        `no price is known for ${model}, so its cost cannot be checked against the remaining ${formatUsd(remainingUsd)}; add it under "pricing" in colony.config.json (0 for a free local model)`,
        { model: opts.model ?? null, remaining_usd: remainingUsd },
      ),
    };
  }
  if (toMicros(estimateUsd) > toMicros(remainingUsd)) {
    return {
      ok: false,
      estimate_usd: estimateUsd,
      remaining_usd: remainingUsd,
      error: new ColonyError('E_BUDGET', `estimated ${formatUsd(estimateUsd)} exceeds remaining ${formatUsd(remainingUsd)}`, {
        estimate_usd: estimateUsd,
        remaining_usd: remainingUsd,
      }),
    };
  }
  return { ok: true, estimate_usd: estimateUsd, remaining_usd: remainingUsd };
}

/** True once a running attempt has used its budget up (see the header for why 0 spent never counts). */
export function budgetExhausted(spentUsd: number, budgetUsd: number): boolean {
  return spentUsd > 0 && toMicros(spentUsd) >= toMicros(budgetUsd);
}

/** True when a reported cost is more than the budget (a worker's report, checked by the host). */
export function exceedsBudget(spentUsd: number, budgetUsd: number): boolean {
  return toMicros(spentUsd) > toMicros(budgetUsd);
}

/** What is left, never negative. */
export function remainingBudget(budgetUsd: number, spentUsd: number): number {
  return Math.max(0, (toMicros(budgetUsd) - toMicros(spentUsd)) / 1_000_000);
}

/** The E_BUDGET error an engine reports when it stops a run (or a run ends) over budget. */
export function budgetExceededError(spentUsd: number, budgetUsd: number): ColonyError {
  return new ColonyError('E_BUDGET', `spent ${formatUsd(spentUsd)} reached the budget of ${formatUsd(budgetUsd)}`, {
    spent_usd: spentUsd,
    budget_usd: budgetUsd,
  });
}

export interface ReservationTask {
  id: string;
  budget_usd: number;
  max_attempts: number;
}

export interface GraphReservation {
  ok: boolean;
  total_usd: number; // worst case for the whole graph
  per_task: { id: string; reserve_usd: number }[];
  graph_budget_usd: number | null;
  error?: ColonyError;
}

/**
 * Worst case for a graph. A task's `budget_usd` caps all its attempts together
 * (fallback retries run "within the remaining budget", DESIGN §3), so the
 * worst case of a task is its budget, whatever max_attempts is.
 * A graph without its own budget (null) is never refused.
 */
export function graphReservation(tasks: readonly ReservationTask[], graphBudgetUsd: number | null): GraphReservation {
  let totalMicros = 0;
  const per_task = tasks.map((t) => {
    const reserve = toMicros(Math.max(0, t.budget_usd));
    totalMicros += reserve;
    return { id: t.id, reserve_usd: reserve / 1_000_000 };
  });
  const total_usd = totalMicros / 1_000_000;
  const base = { total_usd, per_task, graph_budget_usd: graphBudgetUsd };
  if (graphBudgetUsd === null || totalMicros <= toMicros(graphBudgetUsd)) return { ok: true, ...base };
  const biggest = [...per_task].sort((a, b) => b.reserve_usd - a.reserve_usd).slice(0, 3);
  const named = biggest.map((t) => `${t.id} ${formatUsd(t.reserve_usd)}`).join(', ');
  return {
    ok: false,
    ...base,
    error: new ColonyError(
      'E_BUDGET',
      `worst case for ${tasks.length} task(s) is ${formatUsd(total_usd)}, more than the graph budget of ${formatUsd(graphBudgetUsd)} (largest: ${named}); lower task budgets or raise the graph budget`,
      { total_usd, graph_budget_usd: graphBudgetUsd },
    ),
  };
}

/** checkBeforeCall's rule without building an error: does a pre-call estimate fit what is left (equality fits)? */
export function fitsBudget(estimateUsd: number, remainingUsd: number): boolean {
  return toMicros(estimateUsd) <= toMicros(remainingUsd);
}

/**
 * Where a graph's or a user's spend stands against its budget (the dashboard
 * and the budget watch): 'none' without a budget, 'stop' once spent reaches
 * the budget (same rule as budgetExhausted: 0 spent never stops), 'warn' from
 * `warnShare` of it (equality warns), else 'ok'.
 */
export type BudgetLevel = 'none' | 'ok' | 'warn' | 'stop';

export function budgetLevel(spentUsd: number, budgetUsd: number | null, warnShare: number): BudgetLevel {
  if (budgetUsd === null) return 'none';
  if (budgetExhausted(spentUsd, budgetUsd)) return 'stop';
  return spentUsd > 0 && toMicros(spentUsd) >= Math.round(toMicros(budgetUsd) * warnShare) ? 'warn' : 'ok';
}

/** A paused scope may resume only once its budget covers what it spent (the admin raised it, or removed it). */
export function canResume(spentUsd: number, budgetUsd: number | null): boolean {
  return budgetUsd === null || !budgetExhausted(spentUsd, budgetUsd);
}
