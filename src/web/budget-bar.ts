/**
 * One budget's spend drawn as a bar (fill to the spend, a mark at the warning
 * share, coloured by level), shared by the admin's budgets table and the LAN
 * user's own budget card.
 */
import { h } from './dom.js';

export type BudgetLevel = 'none' | 'ok' | 'warn' | 'stop';

export const LEVEL_TEXT: Record<BudgetLevel, string> = { none: 'no budget', ok: 'ok', warn: 'warning', stop: 'budget reached' };

export function budgetBar(b: { spent_usd: number; budget_usd: number | null; level: BudgetLevel }, sharePct: number, label: string): HTMLElement {
  const pct = b.budget_usd ? Math.min(100, (b.spent_usd / b.budget_usd) * 100) : 0;
  return h(
    'div',
    {
      class: `budget-bar level-${b.level}`,
      role: 'meter',
      'aria-valuemin': '0',
      'aria-valuemax': String(b.budget_usd ?? 0),
      'aria-valuenow': String(b.spent_usd),
      'aria-label': label,
    },
    h('span', { class: 'budget-fill', style: `width:${pct.toFixed(1)}%` }),
    h('span', { class: 'budget-mark', style: `left:${sharePct}%`, title: `warning at ${sharePct}%` }),
  );
}
