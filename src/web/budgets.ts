/**
 * Budgets you can see (issue 18), on the admin's Costs tab: per graph and per
 * user, spent against budget with the warning share marked, the level
 * (ok / warning / stopped) and whether its tasks are paused; set a budget and
 * resume in place. Below: cost per day by engine and model (uPlot), and the
 * webhooks (web/webhooks.ts).
 */
import uPlot from 'uplot';
import { api } from './api.js';
import { debounce, h, put, usd } from './dom.js';
import { budgetBar, LEVEL_TEXT, type BudgetLevel } from './budget-bar.js';
import type { Live } from './live.js';
import { WebhooksPanel, type Hooks } from './webhooks.js';
import { busy, emptyState, errorBox, notice, section, showError } from './ui.js';

export interface BudgetRow {
  scope: 'graph' | 'user';
  key: string;
  name: string;
  owner: string;
  spent_usd: number;
  budget_usd: number | null;
  overridden: boolean;
  level: BudgetLevel;
  paused: boolean;
}

interface Overview {
  warn_share: number;
  graphs: BudgetRow[];
  users: BudgetRow[];
}

interface Daily {
  rows: { day: string; engine: string | null; model: string | null; cost_usd: number }[];
}

const PALETTE = ['#4f46e5', '#0891b2', '#d97706', '#059669', '#db2777', '#7c3aed', '#dc2626', '#65a30d'];

export class BudgetsView {
  readonly el: HTMLElement;
  private readonly tables: HTMLElement;
  private readonly chartBox: HTMLElement;
  private readonly hooks = new WebhooksPanel(() => this.refresh());
  private chart: uPlot | null = null;
  private readonly refreshSoon = debounce(() => void this.refresh(), 500);

  constructor(
    live: Live,
    private readonly who: (submittedBy: string) => string,
  ) {
    this.tables = h('div', { class: 'budgets', id: 'budgets' });
    this.chartBox = h('div', { class: 'chart-box', id: 'daily-cost' });
    this.el = h(
      'div',
      {},
      section(
        'Budgets',
        { description: 'Spend per graph and per user against its budget. At the budget, the tasks still to run are paused until you raise it and resume.' },
        this.tables,
      ),
      section(
        'Cost per day',
        { description: 'By engine and model, from the attempts of the last 30 days.' },
        h('div', { class: 'chart-card wide' }, this.chartBox),
      ),
      section('Webhooks', { description: 'From notifications.webhooks in colony.config.json. URLs and secrets stay on the host.' }, this.hooks.el),
    );
    // Refreshed on events only while shown (offsetParent is null inside a hidden tab panel).
    for (const kind of ['attempt.finished', 'budget', 'graph.submitted', 'notify'] as const)
      live.on(kind, () => this.el.offsetParent !== null && this.refreshSoon());
    new ResizeObserver(() => this.chart?.setSize({ width: this.width(), height: this.chart.height })).observe(this.chartBox);
  }

  async refresh(): Promise<void> {
    try {
      const [o, d, w] = await Promise.all([
        api.get<Overview>('/admin/budgets'),
        api.get<Daily>('/admin/costs/daily?days=30'),
        api.get<Hooks>('/admin/notifications'),
      ]);
      this.renderTables(o);
      this.renderDaily(d);
      this.hooks.render(w);
    } catch (e) {
      showError(e, 'budgets');
    }
  }

  private renderTables(o: Overview): void {
    const share = Math.round(o.warn_share * 100);
    const users = o.users.map((u) => ({ ...u, name: this.who(u.key) }));
    put(
      this.tables,
      h('h3', {}, 'Per user'),
      users.length ? this.table(users, share) : emptyState('Nobody has spent anything yet'),
      h('h3', {}, 'Per graph'),
      o.graphs.length ? this.table(o.graphs, share) : emptyState('No graphs yet'),
    );
  }

  private table(rows: BudgetRow[], share: number): HTMLElement {
    return h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'table compact budget-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'Name'),
            h('th', { scope: 'col' }, 'Spent'),
            h('th', { scope: 'col' }, 'State'),
            h('th', { scope: 'col' }, 'Budget'),
          ),
        ),
        h('tbody', {}, ...rows.map((r) => this.row(r, share))),
      ),
    );
  }

  private row(r: BudgetRow, share: number): HTMLElement {
    const bar = budgetBar(r, share, `${r.name}: spent`);
    const spent = h(
      'div',
      { class: 'budget-spent' },
      h('span', { class: 'mono' }, `${usd(r.spent_usd)}${r.budget_usd === null ? '' : ` of ${usd(r.budget_usd)}`}`),
      r.budget_usd === null ? '' : bar,
    );
    const state = h(
      'div',
      { class: 'budget-state' },
      h('span', { class: `pill budget-level level-${r.level}` }, LEVEL_TEXT[r.level]),
      r.paused ? h('span', { class: 'pill budget-paused' }, 'paused') : '',
    );
    const input = h('input', {
      type: 'number',
      min: '0',
      step: '0.01',
      inputmode: 'decimal',
      class: 'budget-input',
      value: r.budget_usd === null ? '' : String(r.budget_usd),
      placeholder: 'none',
      'aria-label': `Budget in USD for ${r.scope} ${r.name}`,
    });
    const err = errorBox();
    const set = h('button', { type: 'button', class: 'btn btn-small' }, 'Set');
    set.addEventListener(
      'click',
      () =>
        void busy(
          set,
          async () => {
            const v = input.value.trim();
            await api.post('/admin/budgets', { scope: r.scope, key: r.key, budget_usd: v === '' ? null : Number(v) });
            notice('success', `Budget of ${r.name} set to ${v === '' ? 'none' : usd(Number(v))}`);
            await this.refresh();
          },
          err,
        ),
    );
    const controls = h('div', { class: 'budget-controls' }, input, set);
    if (r.paused) {
      const resume = h('button', { type: 'button', class: 'btn btn-small btn-primary' }, 'Resume');
      resume.addEventListener(
        'click',
        () =>
          void busy(
            resume,
            async () => {
              await api.post('/admin/budgets/resume', { scope: r.scope, key: r.key });
              notice('success', `${r.name}: tasks resumed`);
              await this.refresh();
            },
            err,
          ),
      );
      controls.append(resume);
    }
    return h(
      'tr',
      { 'data-scope': r.scope, 'data-key': r.key },
      h('td', { class: 'mono', 'data-label': 'Name' }, r.name),
      h('td', { 'data-label': 'Spent' }, spent),
      h('td', { 'data-label': 'State' }, state),
      h('td', { 'data-label': 'Budget' }, controls, err),
    );
  }

  private width(): number {
    return Math.max(240, Math.floor(this.chartBox.clientWidth || 480) - 8);
  }

  private renderDaily(d: Daily): void {
    this.chart?.destroy();
    this.chart = null;
    if (d.rows.length === 0) {
      put(this.chartBox, emptyState('No spend in the last 30 days'));
      return;
    }
    const days = [...new Set(d.rows.map((r) => r.day))].sort();
    const keyOf = (r: Daily['rows'][number]): string => `${r.engine ?? '(none)'}${r.model ? ` · ${r.model}` : ''}`;
    const keys = [...new Set(d.rows.map(keyOf))];
    const xs = days.map((day) => Date.parse(`${day}T12:00:00Z`) / 1000);
    const ys = keys.map((k) => days.map((day) => d.rows.filter((r) => r.day === day && keyOf(r) === k).reduce((s, r) => s + r.cost_usd, 0)));
    const summary = keys.map((k, i) => `${k} ${usd((ys[i] ?? []).reduce((a, b) => a + b, 0))}`).join(', ');
    const box = h('div', { class: 'chart', role: 'img', 'aria-label': `Cost per day by engine and model: ${summary}` });
    put(this.chartBox, box);
    this.chart = new uPlot(
      {
        width: this.width(),
        height: 220,
        legend: { show: true },
        scales: {
          x: { range: (_u, min, max) => (min === max ? [min - 86_400, max + 86_400] : [min - 43_200, max + 43_200]) }, // a lone day is not stretched over years
          y: { range: (_u, _min, max) => [0, Math.max(max * 1.15, 0.01)] },
        },
        axes: [
          { stroke: '#64748b', grid: { show: false }, space: 70, values: (_u, vals) => vals.map((v) => new Date(v * 1000).toISOString().slice(5, 10)) },
          { stroke: '#64748b', grid: { stroke: '#eef0f4' }, values: (_u, vals) => vals.map((v) => `$${v.toFixed(v < 0.1 ? 3 : 2)}`), size: 64 },
        ],
        series: [
          {},
          ...keys.map((k, i) => ({
            label: k,
            stroke: PALETTE[i % PALETTE.length],
            width: 2,
            points: { show: true },
            value: (_u: uPlot, v: number | null) => (v === null ? '—' : usd(v)),
          })),
        ],
      },
      [xs, ...ys],
      box,
    );
  }
}
