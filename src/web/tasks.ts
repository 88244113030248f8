/**
 * Queue and history: tasks split into active (queue) and finished (history),
 * with state chips, a state filter, a run filter and text search. Rows update
 * in place on `task.state`; new tasks and new costs trigger one debounced
 * reload (event-driven, never on a timer).
 */
import { TASK_STATES, TERMINAL_STATES } from '../core/task.js';
import { ago, debounce, engineModel, h, put, str, time, tokens, usd } from './dom.js';
import type { Live } from './live.js';
import { emptyState, field, showError, setStatePill, statePill } from './ui.js';
import type { GraphSummary, TaskState, TaskView } from './types.js';

export interface TaskQuery {
  state: string;
  q: string;
  graph_id: string;
  engine: string;
  submitted_by: string;
}

/** The engines and submitters that occur, for the filter pickers. */
export interface TaskFacets {
  engines: { value: string; n: number }[];
  submitters: { value: string; n: number }[];
}

export interface QueueOptions {
  live: Live;
  load: (q: TaskQuery) => Promise<TaskView[]>;
  listGraphs?: () => Promise<GraphSummary[]>;
  facets?: () => Promise<TaskFacets>;
  /** How a submitter is shown (display names of LAN users). */
  whoLabel?: (submittedBy: string) => string;
  onSelect: (taskId: string) => void;
  /** Who submitted a task, as shown to this viewer. */
  who?: (t: TaskView) => string;
}

export class QueueView {
  readonly el: HTMLElement;
  private readonly chips: HTMLElement;
  private readonly queueBody: HTMLElement;
  private readonly historyBody: HTMLElement;
  private readonly queueCount: HTMLElement;
  private readonly historyCount: HTMLElement;
  private readonly search: HTMLInputElement;
  private readonly stateSel: HTMLSelectElement;
  private readonly graphSel: HTMLSelectElement;
  private readonly engineSel: HTMLSelectElement;
  private readonly userSel: HTMLSelectElement;
  private rows = new Map<string, { tr: HTMLTableRowElement; task: TaskView }>();
  private loaded = false;
  private seq = 0;
  private readonly reloadSoon = debounce(() => void this.reload(), 400);

  constructor(private readonly o: QueueOptions) {
    this.search = h('input', { type: 'search', placeholder: 'title, prompt or id', autocomplete: 'off' });
    this.stateSel = h('select', {}, h('option', { value: '' }, 'any state'), ...TASK_STATES.map((st) => h('option', { value: st }, st.replace(/_/g, ' '))));
    this.graphSel = h('select', {}, h('option', { value: '' }, 'any run'));
    this.engineSel = h('select', {}, h('option', { value: '' }, 'any engine'));
    this.userSel = h('select', {}, h('option', { value: '' }, 'anyone'));
    const form = h(
      'form',
      { class: 'filters', role: 'search', onsubmit: (e: Event) => (e.preventDefault(), void this.reload()) },
      field('Search', this.search),
      field('State', this.stateSel),
      o.listGraphs ? field('Run', this.graphSel) : null,
      o.facets ? field('Engine', this.engineSel) : null,
      o.facets ? field('Submitted by', this.userSel) : null,
      h('button', { type: 'button', class: 'btn', onclick: () => this.clear() }, 'Clear filters'),
    );
    const typed = debounce(() => void this.reload(), 250);
    this.search.addEventListener('input', typed);
    this.stateSel.addEventListener('change', () => void this.reload());
    for (const sel of [this.graphSel, this.engineSel, this.userSel]) sel.addEventListener('change', () => void this.reload());
    this.chips = h('div', { class: 'chips', role: 'group', 'aria-label': 'Filter by state' });
    this.queueBody = h('tbody');
    this.historyBody = h('tbody');
    this.queueCount = h('span', { class: 'muted' });
    this.historyCount = h('span', { class: 'muted' });
    this.el = h(
      'div',
      { class: 'queue' },
      form,
      this.chips,
      h('h3', { class: 'table-title' }, 'Queue ', this.queueCount),
      h('div', { class: 'table-wrap' }, h('table', { class: 'table tasks-table', 'aria-label': 'Queued and running tasks' }, head(), this.queueBody)),
      h('h3', { class: 'table-title' }, 'History ', this.historyCount),
      h('div', { class: 'table-wrap' }, h('table', { class: 'table tasks-table', 'aria-label': 'Finished tasks' }, head(), this.historyBody)),
    );

    o.live.on('task.state', (e) => {
      const id = str(e.data['task_id']);
      const to = str(e.data['to']);
      const row = id ? this.rows.get(id) : undefined;
      if (!row || !to) return this.loaded && this.reloadSoon();
      const wasDone = TERMINAL_STATES.has(row.task.state);
      row.task.state = to as TaskState;
      row.task.updated_at = Date.now();
      const pill = row.tr.querySelector('.pill');
      if (pill) setStatePill(pill, to);
      if (this.stateSel.value && this.stateSel.value !== to) return this.reloadSoon();
      if (wasDone !== TERMINAL_STATES.has(row.task.state)) this.reloadSoon();
    });
    o.live.on('attempt.finished', () => this.loaded && this.reloadSoon());
    o.live.on('graph.submitted', () => {
      if (!this.loaded) return;
      this.reloadSoon();
      void this.loadGraphs();
      void this.loadFacets();
    });
    o.live.onResync(() => this.loaded && this.reloadSoon());
  }

  /** Loads on first show; later shows keep the live-updated table. */
  ensureLoaded(): void {
    if (this.loaded) return;
    this.loaded = true;
    void this.loadGraphs();
    void this.loadFacets();
    void this.reload();
  }

  filterState(state: string): void {
    this.stateSel.value = state;
    void this.reload();
  }

  private clear(): void {
    this.search.value = '';
    this.stateSel.value = '';
    this.graphSel.value = '';
    this.engineSel.value = '';
    this.userSel.value = '';
    void this.reload();
  }

  /** Applies filters given by a link (`#queue?engine=exec&state=failed`); unknown keys are ignored. */
  applyFilters(f: Partial<TaskQuery>): void {
    if (f.q !== undefined) this.search.value = f.q;
    if (f.state !== undefined) this.stateSel.value = f.state;
    // Options of these pickers arrive asynchronously: remember the wish as an option until they do.
    const pick = (sel: HTMLSelectElement, v: string | undefined): void => {
      if (v === undefined) return;
      if (v && ![...sel.options].some((o) => o.value === v)) sel.append(h('option', { value: v }, v));
      sel.value = v;
    };
    pick(this.graphSel, f.graph_id);
    pick(this.engineSel, f.engine);
    pick(this.userSel, f.submitted_by);
    if (this.loaded) void this.reload();
  }

  /** Reloads the engine and submitter pickers (e.g. once display names are known); nothing before the first show. */
  refreshFacets(): void {
    if (this.loaded) void this.loadFacets();
  }

  private async loadFacets(): Promise<void> {
    if (!this.o.facets) return;
    try {
      const { engines, submitters } = await this.o.facets();
      const label = this.o.whoLabel ?? ((s: string) => s);
      refill(
        this.engineSel,
        'any engine',
        engines.map((e) => [e.value, `${e.value} (${e.n})`]),
      );
      refill(
        this.userSel,
        'anyone',
        submitters.map((e) => [e.value, `${label(e.value)} (${e.n})`]),
      );
    } catch (e) {
      showError(e, 'task filters');
    }
  }

  private async loadGraphs(): Promise<void> {
    if (!this.o.listGraphs) return;
    try {
      const graphs = await this.o.listGraphs();
      const keep = this.graphSel.value;
      put(this.graphSel, h('option', { value: '' }, 'any run'), ...graphs.map((g) => h('option', { value: g.id }, `${g.name} · ${g.id}`)));
      this.graphSel.value = keep;
    } catch (e) {
      showError(e, 'runs');
    }
  }

  async reload(): Promise<void> {
    const seq = ++this.seq;
    try {
      const tasks = await this.o.load({
        state: this.stateSel.value,
        q: this.search.value.trim(),
        graph_id: this.graphSel.value,
        engine: this.engineSel.value,
        submitted_by: this.userSel.value,
      });
      if (seq !== this.seq) return;
      this.render(tasks);
    } catch (e) {
      showError(e, 'tasks');
    }
  }

  private render(tasks: TaskView[]): void {
    this.rows.clear();
    const active = tasks.filter((t) => !TERMINAL_STATES.has(t.state));
    const done = tasks.filter((t) => TERMINAL_STATES.has(t.state)).sort((a, b) => (b.updated_at ?? 0) - (a.updated_at ?? 0));
    const filtered = this.search.value || this.stateSel.value || this.graphSel.value || this.engineSel.value || this.userSel.value;
    put(
      this.queueBody,
      active.length
        ? active.map((t) => this.row(t))
        : emptyRow(filtered ? 'No queued task matches these filters.' : 'The queue is empty: nothing waiting or running.'),
    );
    put(
      this.historyBody,
      done.length ? done.map((t) => this.row(t)) : emptyRow(filtered ? 'No finished task matches these filters.' : 'No finished tasks yet.'),
    );
    this.queueCount.textContent = `(${active.length})`;
    this.historyCount.textContent = `(${done.length})`;
    this.renderChips(tasks);
  }

  private renderChips(tasks: TaskView[]): void {
    const counts = new Map<string, number>();
    for (const t of tasks) counts.set(t.state, (counts.get(t.state) ?? 0) + 1);
    const current = this.stateSel.value;
    const chip = (state: string, label: string, n: number | null): HTMLElement =>
      h(
        'button',
        { type: 'button', class: `chip${state ? ` state-${state}` : ''}`, 'aria-pressed': String(current === state), onclick: () => this.filterState(state) },
        state ? h('span', { class: 'swatch', 'aria-hidden': 'true' }) : null,
        label,
        n === null ? null : h('span', { class: 'chip-n' }, String(n)),
      );
    put(this.chips, chip('', 'All', current ? null : tasks.length), ...[...counts.entries()].map(([st, n]) => chip(st, st.replace(/_/g, ' '), n)));
  }

  private row(t: TaskView): HTMLTableRowElement {
    const open = (): void => this.o.onSelect(t.id);
    const title = h('button', { type: 'button', class: 'link task-link', onclick: open }, t.title ?? t.id);
    const tr = h(
      'tr',
      { 'data-task-id': t.id },
      h('td', {}, statePill(t.state)),
      h('td', { class: 'task-cell' }, title, h('div', { class: 'mono muted small' }, t.id)),
      h('td', { class: 'mono' }, engineModel(t.engine, t.model)),
      h('td', {}, this.o.who ? this.o.who(t) : (t.submitted_by ?? '—')),
      h('td', { class: 'num mono' }, usd(t.cost_usd)),
      h('td', { class: 'num mono' }, tokens((t.tokens_in ?? 0) + (t.tokens_out ?? 0))),
      h('td', { title: time(t.updated_at) }, ago(t.updated_at)),
    );
    tr.addEventListener('dblclick', open);
    this.rows.set(t.id, { tr, task: t });
    return tr;
  }
}

function head(): HTMLElement {
  return h(
    'thead',
    {},
    h(
      'tr',
      {},
      ...['State', 'Task', 'Engine', 'Submitted by', 'Cost', 'Tokens', 'Updated'].map((c) =>
        h('th', { scope: 'col', class: c === 'Cost' || c === 'Tokens' ? 'num' : undefined }, c),
      ),
    ),
  );
}

/** Replaces a picker's options, keeping the current choice. */
function refill(sel: HTMLSelectElement, anyLabel: string, options: [string, string][]): void {
  const keep = sel.value;
  put(sel, h('option', { value: '' }, anyLabel), ...options.map(([v, l]) => h('option', { value: v }, l)));
  if (keep && !options.some(([v]) => v === keep)) sel.append(h('option', { value: keep }, keep));
  sel.value = keep;
}

function emptyRow(text: string): HTMLElement {
  return h('tr', { class: 'empty-row' }, h('td', { colspan: '7' }, emptyState(text)));
}
