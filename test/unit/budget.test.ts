import { describe, expect, it } from 'vitest';
import { budgetExhausted, checkBeforeCall, graphReservation, remainingBudget } from '../../src/core/budget.js';

describe('checkBeforeCall', () => {
  it('refuses an estimate over what is left, with both numbers', () => {
    const r = checkBeforeCall(0.12, 0.05);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('E_BUDGET');
    expect(r.error.status).toBe(402);
    expect(r.error.message).toBe('estimated $0.12 exceeds remaining $0.05');
  });

  it('allows an estimate exactly equal to what is left, also after float sums', () => {
    expect(checkBeforeCall(0.05, 0.05).ok).toBe(true);
    expect(checkBeforeCall(0.1 + 0.2, 0.3).ok).toBe(true);
    expect(checkBeforeCall(0.050001, 0.05).ok).toBe(false);
  });

  it('refuses an unknown price unless the caller accepts it', () => {
    const r = checkBeforeCall(null, 1, { model: 'mystery' });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('E_PRICE_UNKNOWN');
      expect(r.error.message).toContain("'mystery'");
      expect(r.error.message).toContain('pricing');
    }
    expect(checkBeforeCall(null, 1, { allowUnknownPrice: true }).ok).toBe(true);
  });
});

describe('budgetExhausted (during and after a call)', () => {
  it('stops at spent >= budget', () => {
    expect(budgetExhausted(0.5, 0.5)).toBe(true);
    expect(budgetExhausted(0.51, 0.5)).toBe(true);
    expect(budgetExhausted(0.4999, 0.5)).toBe(false);
    expect(budgetExhausted(0.1 + 0.2, 0.3)).toBe(true);
  });

  it('never counts a free call against a zero budget', () => {
    expect(budgetExhausted(0, 0)).toBe(false);
    expect(budgetExhausted(0.000001, 0)).toBe(true);
  });

  it('computes what is left without going negative', () => {
    expect(remainingBudget(1, 0.3)).toBe(0.7);
    expect(remainingBudget(0.3, 0.5)).toBe(0);
  });
});

describe('graphReservation', () => {
  const tasks = [
    { id: 'build', budget_usd: 0.5, max_attempts: 2 },
    { id: 'fix', budget_usd: 1.25, max_attempts: 3 },
    { id: 'lint', budget_usd: 0, max_attempts: 1 },
  ];

  it('reserves each task budget (it caps all attempts) and accepts a graph budget that covers it exactly', () => {
    const r = graphReservation(tasks, 1.75);
    expect(r.ok).toBe(true);
    expect(r.total_usd).toBe(1.75);
    expect(r.per_task).toEqual([
      { id: 'build', reserve_usd: 0.5 },
      { id: 'fix', reserve_usd: 1.25 },
      { id: 'lint', reserve_usd: 0 },
    ]);
  });

  it('refuses a worst case over the graph budget, naming the numbers and the largest tasks', () => {
    const r = graphReservation(tasks, 1.7);
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe('E_BUDGET');
    expect(r.error?.message).toContain('$1.75');
    expect(r.error?.message).toContain('$1.70');
    expect(r.error?.message).toContain('fix $1.25');
  });

  it('does not multiply by max_attempts: a task budget caps all its attempts together', () => {
    expect(graphReservation(tasks, 1.75).total_usd).toBe(1.75);
    expect(
      graphReservation(
        tasks.map((t) => ({ ...t, max_attempts: 10 })),
        1.75,
      ).ok,
    ).toBe(true);
  });

  it('never refuses a graph without its own budget', () => {
    expect(graphReservation(tasks, null).ok).toBe(true);
  });
});
