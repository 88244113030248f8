/**
 * Costs: spend over time (cumulative, uPlot line) and per engine / model /
 * user (uPlot bars), each with a table of exact figures beside it. Refreshed
 * when an attempt finishes (event-driven), and only while the tab is visible.
 */
import uPlot from 'uplot';
import { debounce, h, put, tokens, usd } from './dom.js';
import type { Live } from './live.js';
import { emptyState, showError } from './ui.js';
import type { CostRow, Costs } from './types.js';

export interface CostPoint {
  at: number; // ms
  cost_usd: number;
}

export interface CostsOptions {
  live: Live;
  loadGroups: () => Promise<Costs>;
  loadTimeline: () => Promise<CostPoint[]>;
  /** Display label of a group key (e.g. a session id → its display name). */
  label?: (dim: 'engine' | 'model' | 'user', key: string | null) => string;
}

const ACCENT = '#4f46e5';
const BAR = '#6366f1';

export class CostsView {
  readonly el: HTMLElement;
  private readonly total: HTMLElement;
  private readonly timeline: HTMLElement;
  private readonly groups: Record<'engine' | 'model' | 'user', HTMLElement>;
  private charts: uPlot[] = [];
  private visible = false;
  private stale = true;
  private readonly refreshSoon = debounce(() => void this.refresh(), 600);

  constructor(private readonly o: CostsOptions) {
    this.total = h('div', { class: 'stat-row' });
    this.timeline = h('div', { class: 'chart-box' });
    this.groups = { engine: h('div', { class: 'chart-box' }), model: h('div', { class: 'chart-box' }), user: h('div', { class: 'chart-box' }) };
    this.el = h(
      'div',
      { class: 'costs' },
      this.total,
      h('div', { class: 'chart-card wide' }, h('h3', {}, 'Spend over time'), this.timeline),
      h(
        'div',
        { class: 'chart-grid' },
        h('div', { class: 'chart-card' }, h('h3', {}, 'By engine'), this.groups.engine),
        h('div', { class: 'chart-card' }, h('h3', {}, 'By model'), this.groups.model),
        h('div', { class: 'chart-card' }, h('h3', {}, 'By user'), this.groups.user),
      ),
    );
    o.live.on('attempt.finished', () => {
      this.stale = true;
      if (this.visible) this.refreshSoon();
    });
    new ResizeObserver(() => this.resize()).observe(this.el);
  }

  setVisible(v: boolean): void {
    this.visible = v;
    if (v && this.stale) void this.refresh();
  }

  async refresh(): Promise<void> {
    this.stale = false;
    try {
      const [groups, timeline] = await Promise.all([this.o.loadGroups(), this.o.loadTimeline()]);
      this.render(groups, timeline);
    } catch (e) {
      showError(e, 'costs');
    }
  }

  private render(c: Costs, points: CostPoint[]): void {
    for (const ch of this.charts) ch.destroy();
    this.charts = [];
    const spent = c.by_engine.reduce((s, r) => s + r.cost_usd, 0);
    const attempts = c.by_engine.reduce((s, r) => s + r.attempts, 0);
    const toks = c.by_engine.reduce((s, r) => s + (r.tokens ?? 0), 0);
    put(
      this.total,
      stat('Total spend', usd(spent)),
      stat('Attempts', String(attempts)),
      stat('Tokens', tokens(toks)),
      stat('Engines used', String(c.by_engine.filter((r) => r.key).length)),
    );
    this.renderTimeline(points);
    this.renderGroup('engine', c.by_engine);
    this.renderGroup('model', c.by_model);
    this.renderGroup('user', c.by_user);
  }

  private width(box: HTMLElement): number {
    return Math.max(240, Math.floor(box.clientWidth || box.parentElement?.clientWidth || 480) - 8);
  }

  private renderTimeline(points: CostPoint[]): void {
    if (points.length === 0) {
      put(this.timeline, emptyState('No finished attempts yet', 'Spend appears here as tasks finish.'));
      return;
    }
    const sorted = [...points].sort((a, b) => a.at - b.at);
    const xs: number[] = [];
    const ys: number[] = [];
    let sum = 0;
    for (const p of sorted) {
      sum += p.cost_usd;
      xs.push(p.at / 1000);
      ys.push(Number(sum.toFixed(6)));
    }
    if (xs.length === 1) {
      xs.unshift((xs[0] as number) - 60);
      ys.unshift(0);
    }
    put(this.timeline);
    const chart = new uPlot(
      {
        width: this.width(this.timeline),
        height: 220,
        legend: { show: true },
        cursor: { drag: { x: true, y: false } },
        scales: { y: { range: (_u, _min, max) => [0, Math.max(max * 1.15, 0.01)] } },
        axes: [
          { stroke: '#64748b', grid: { show: false }, space: 90 },
          { stroke: '#64748b', grid: { stroke: '#eef0f4' }, values: (_u, vals) => vals.map((v) => `$${v.toFixed(v < 0.1 ? 3 : 2)}`), size: 64 },
        ],
        series: [
          {},
          {
            label: 'cumulative spend',
            stroke: ACCENT,
            width: 2,
            fill: 'rgba(79,70,229,0.10)',
            value: (_u, v) => (v === null ? '—' : usd(v)),
            points: { show: xs.length < 60 },
          },
        ],
      },
      [xs, ys],
      this.timeline,
    );
    this.charts.push(chart);
  }

  private renderGroup(dim: 'engine' | 'model' | 'user', rows: CostRow[]): void {
    const box = this.groups[dim];
    if (rows.length === 0) {
      put(box, emptyState('Nothing spent yet'));
      return;
    }
    const labels = rows.map((r) => this.o.label?.(dim, r.key) ?? r.key ?? '(none)');
    const chartBox = h('div', {
      class: 'chart',
      role: 'img',
      'aria-label': `Cost by ${dim}: ${rows.map((r, i) => `${labels[i]} ${usd(r.cost_usd)}`).join(', ')}`,
    });
    const table = h(
      'table',
      { class: 'table compact' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, dim),
          h('th', { scope: 'col', class: 'num' }, 'Cost'),
          h('th', { scope: 'col', class: 'num' }, 'Tokens'),
          h('th', { scope: 'col', class: 'num' }, 'Attempts'),
        ),
      ),
      h(
        'tbody',
        {},
        ...rows.map((r, i) =>
          h(
            'tr',
            {},
            h('td', { class: 'mono' }, labels[i] ?? ''),
            h('td', { class: 'num mono' }, usd(r.cost_usd)),
            h('td', { class: 'num mono' }, tokens(r.tokens ?? 0)),
            h('td', { class: 'num mono' }, String(r.attempts)),
          ),
        ),
      ),
    );
    put(box, chartBox, h('div', { class: 'table-wrap' }, table));
    const xs = rows.map((_r, i) => i);
    const ys = rows.map((r) => r.cost_usd);
    const bars = uPlot.paths.bars?.({ size: [0.6, 48], align: 0 });
    const chart = new uPlot(
      {
        width: this.width(box),
        height: 170,
        legend: { show: false },
        cursor: { show: false },
        scales: { x: { time: false, range: [-0.5, rows.length - 0.5] }, y: { range: (_u, _min, max) => [0, Math.max(max * 1.2, 0.01)] } },
        axes: [
          { stroke: '#64748b', grid: { show: false }, splits: () => xs, values: (_u, splits) => splits.map((i) => shortLabel(labels[i] ?? '')) },
          { stroke: '#64748b', grid: { stroke: '#eef0f4' }, values: (_u, vals) => vals.map((v) => `$${v.toFixed(v < 0.1 ? 3 : 2)}`), size: 60 },
        ],
        series: [{}, { label: 'cost', stroke: BAR, fill: 'rgba(99,102,241,0.55)', width: 1, paths: bars, points: { show: false } }],
      },
      [xs, ys],
      chartBox,
    );
    this.charts.push(chart);
  }

  private resize(): void {
    for (const ch of this.charts) {
      const box = ch.root.parentElement;
      if (box) ch.setSize({ width: this.width(box), height: ch.height });
    }
  }
}

function stat(label: string, value: string): HTMLElement {
  return h('div', { class: 'stat' }, h('span', { class: 'stat-label' }, label), h('span', { class: 'stat-value mono' }, value));
}

function shortLabel(s: string): string {
  return s.length > 14 ? s.slice(0, 13) + '…' : s;
}
