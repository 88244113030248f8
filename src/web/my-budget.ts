/**
 * "My budget" for a LAN user: what I have spent against my own budget, with
 * the warning and the stop (my tasks still to run are paused until the host's
 * admin raises it), refreshed when one of my attempts ends or my budget's
 * state changes. The server answers with the calling session's budget only.
 */
import { api } from './api.js';
import { debounce, h, put, str, usd } from './dom.js';
import type { Live } from './live.js';
import { budgetBar, LEVEL_TEXT, type BudgetLevel } from './budget-bar.js';
import { section, showError } from './ui.js';

interface MyBudget {
  spent_usd: number;
  budget_usd: number | null;
  level: BudgetLevel;
  paused: boolean;
  warn_share: number;
}

export class MyBudgetView {
  readonly el: HTMLElement;
  private readonly body: HTMLElement;
  private readonly refreshSoon = debounce(() => void this.refresh(), 300);

  constructor(live: Live) {
    this.body = h('div', { class: 'my-budget', id: 'my-budget', 'aria-live': 'polite' });
    this.el = section(
      'My budget',
      { id: 'my-budget-section', description: 'What your tasks have cost, against the budget the host’s admin gave you.' },
      this.body,
    );
    const mine = (d: Record<string, unknown>): boolean => d['redacted'] !== true;
    live.on('attempt.finished', (e) => mine(e.data) && this.refreshSoon());
    live.on('budget', () => this.refreshSoon()); // only my own budget's events reach me
    live.on('notify', (e) => (str(e.data['event']) ?? '').startsWith('budget.') && this.refreshSoon());
    live.onResync(() => void this.refresh());
  }

  async refresh(): Promise<void> {
    try {
      this.render((await api.get<{ budget: MyBudget }>('/api/my-budget')).budget);
    } catch (e) {
      showError(e, 'my budget');
    }
  }

  private render(b: MyBudget): void {
    const share = Math.round(b.warn_share * 100);
    const spent = h('p', { class: 'mono', id: 'my-budget-spent' }, `${usd(b.spent_usd)}${b.budget_usd === null ? '' : ` of ${usd(b.budget_usd)}`}`);
    const state = h(
      'div',
      { class: 'budget-state' },
      h('span', { class: `pill budget-level level-${b.level}`, id: 'my-budget-level' }, LEVEL_TEXT[b.level]),
      b.paused ? h('span', { class: 'pill budget-paused' }, 'paused') : '',
    );
    put(
      this.body,
      h('div', { class: 'budget-spent' }, spent, b.budget_usd === null ? '' : budgetBar(b, share, 'My spend')),
      state,
      h('p', { class: 'small muted', id: 'my-budget-note' }, noteOf(b, share)),
    );
  }
}

/** What the level means for me, in words. */
function noteOf(b: MyBudget, share: number): string {
  if (b.budget_usd === null) return 'No budget is set for you: the host’s admin may set one.';
  if (b.level === 'stop') return 'Budget reached: your tasks that have not started are paused until the host’s admin raises your budget and resumes them.';
  if (b.paused) return 'Your tasks that have not started are paused until the host’s admin resumes them.';
  if (b.level === 'warn') return `You have used ${share}% or more of your budget.`;
  return `${usd(Math.max(0, b.budget_usd - b.spent_usd))} left.`;
}
