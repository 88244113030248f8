/**
 * The task graph of a run: dagre lays it out, SVG draws it, nodes are
 * coloured by state (CSS classes `state-<state>`), edges come from
 * depends_on. `task.state` events recolour nodes in place; `graph.submitted`
 * adds the new run to the picker (and follows it unless the user picked one).
 */
import dagre from '@dagrejs/dagre';
import { h, put, s, str, truncate, usd } from './dom.js';
import type { Live } from './live.js';
import { emptyState, setStatePill, showError, statePill } from './ui.js';
import type { GraphSummary, TaskView } from './types.js';

export interface GraphViewOptions {
  live: Live;
  listGraphs: () => Promise<GraphSummary[]>;
  loadGraph: (id: string) => Promise<{ tasks: TaskView[] }>;
  onSelectTask: (taskId: string) => void;
  emptyHint: () => (Node | string)[];
  /** Several hosts on PostgreSQL: the graph's owner when it is another host (shown in the run picker). */
  foreignOwner?: (g: GraphSummary) => string | null;
}

const NODE_W = 184;
const NODE_H = 54;

export class GraphView {
  readonly el: HTMLElement;
  readonly toolbar: HTMLElement;
  private readonly select: HTMLSelectElement;
  private readonly canvas: HTMLElement;
  private readonly counts: HTMLElement;
  private readonly list: HTMLElement;
  private readonly asList: HTMLButtonElement;
  private graphs: GraphSummary[] = [];
  private current: string | null = null;
  private follow = true;
  private tasks = new Map<string, TaskView>();
  private loadSeq = 0;
  /** task.state events that arrive while a graph loads; applied afterwards when their `from` matches. */
  private buffered: { id: string; from: string | null; to: string }[] | null = null;

  constructor(private readonly o: GraphViewOptions) {
    this.select = h('select', { id: 'graph-select', 'aria-label': 'Run to show' });
    this.select.addEventListener('change', () => {
      this.follow = this.select.selectedIndex === 0;
      void this.show(this.select.value);
    });
    this.counts = h('div', { class: 'graph-counts' });
    // The list alternative: the same tasks in dependency order as a plain list (screen readers, keyboards, phones).
    this.asList = h(
      'button',
      { type: 'button', class: 'btn btn-small', id: 'graph-as-list', 'aria-pressed': 'false', 'aria-controls': 'graph-list' },
      'Show as list',
    );
    this.asList.addEventListener('click', () => this.setListMode(this.asList.getAttribute('aria-pressed') !== 'true'));
    this.toolbar = h('div', { class: 'graph-toolbar' }, h('label', { class: 'inline-field', for: 'graph-select' }, 'Run'), this.select, this.asList);
    this.canvas = h('div', { class: 'graph-canvas', tabindex: '-1' });
    this.list = h('ol', { class: 'graph-list', id: 'graph-list', 'aria-label': 'Tasks of this run in dependency order', hidden: true });
    this.el = h('div', { class: 'graph-view' }, this.counts, this.canvas, this.list, legend());

    o.live.on('graph.submitted', (e) => {
      const id = str(e.data['graph_id']);
      if (!id || this.graphs.some((g) => g.id === id)) return;
      this.graphs.unshift({ id, name: str(e.data['name']) ?? id, submitted_by: '', created_at: Date.now(), counts: {}, cost_usd: 0 });
      this.renderSelect();
      if (this.follow) void this.show(id);
    });
    o.live.on('task.state', (e) => {
      const id = str(e.data['task_id']);
      const to = str(e.data['to']);
      if (!id || !to || e.data['graph_id'] !== this.current) return;
      if (this.buffered) {
        this.buffered.push({ id, from: str(e.data['from']), to });
        return;
      }
      const t = this.tasks.get(id);
      if (!t) return;
      t.state = to as TaskView['state'];
      this.paintNode(id);
      this.renderCounts();
    });
    o.live.on('attempt.finished', (e) => {
      const id = str(e.data['task_id']);
      const t = id ? this.tasks.get(id) : undefined;
      const cost = e.data['cost_usd'];
      if (t && typeof cost === 'number') {
        t.cost_usd = (t.cost_usd ?? 0) + cost;
        this.renderCounts();
      }
    });
    o.live.onResync(() => void this.refresh());
  }

  get currentGraph(): string | null {
    return this.current;
  }

  async refresh(): Promise<void> {
    try {
      this.graphs = await this.o.listGraphs();
    } catch (e) {
      showError(e, 'runs');
      return;
    }
    this.renderSelect();
    const keep = this.current && this.graphs.some((g) => g.id === this.current) && !this.follow ? this.current : (this.graphs[0]?.id ?? null);
    if (keep) await this.show(keep);
    else this.renderEmpty();
  }

  async show(id: string): Promise<void> {
    const seq = ++this.loadSeq;
    this.current = id;
    this.select.value = id;
    this.buffered = [];
    try {
      const { tasks } = await this.o.loadGraph(id);
      if (seq !== this.loadSeq) return;
      this.tasks = new Map(tasks.map((t) => [t.id, t]));
      for (const b of this.buffered ?? []) {
        const t = this.tasks.get(b.id);
        if (t && t.state === b.from) t.state = b.to as TaskView['state'];
      }
      this.buffered = null;
      this.draw();
      this.renderCounts();
    } catch (e) {
      if (seq === this.loadSeq) this.buffered = null;
      showError(e, `run ${id}`);
    }
  }

  private renderSelect(): void {
    put(
      this.select,
      this.graphs.map((g, i) => {
        const owner = this.o.foreignOwner?.(g) ?? null;
        return h('option', { value: g.id }, `${g.name} · ${g.id}${i === 0 ? ' (latest)' : ''}${owner ? ` · on host ${owner}` : ''}`);
      }),
    );
    this.select.disabled = this.graphs.length === 0;
    if (this.current) this.select.value = this.current;
  }

  private renderEmpty(): void {
    put(this.canvas, emptyState('No runs yet', ...this.o.emptyHint()));
    put(this.counts);
  }

  private renderCounts(): void {
    const by = new Map<string, number>();
    let cost = 0;
    for (const t of this.tasks.values()) {
      by.set(t.state, (by.get(t.state) ?? 0) + 1);
      cost += t.cost_usd ?? 0;
    }
    put(
      this.counts,
      [...by.entries()].map(([st, n]) =>
        h('span', { class: `count state-${st}` }, h('span', { class: 'swatch', 'aria-hidden': 'true' }), `${n} ${st.replace(/_/g, ' ')}`),
      ),
      h('span', { class: 'count muted' }, `cost ${usd(cost)}`),
    );
  }

  private draw(): void {
    const g = new dagre.graphlib.Graph();
    const narrow = this.canvas.clientWidth > 0 && this.canvas.clientWidth < 560;
    g.setGraph({ rankdir: narrow ? 'TB' : 'LR', nodesep: 18, ranksep: narrow ? 40 : 56, marginx: 12, marginy: 12 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const t of this.tasks.values()) g.setNode(t.id, { width: NODE_W, height: NODE_H });
    for (const t of this.tasks.values()) for (const dep of t.depends_on ?? []) if (this.tasks.has(dep)) g.setEdge(dep, t.id);
    dagre.layout(g);
    const { width = 0, height = 0 } = g.graph();
    const svg = s('svg', {
      class: 'graph-svg',
      width: Math.ceil(width),
      height: Math.ceil(height),
      viewBox: `0 0 ${Math.ceil(width)} ${Math.ceil(height)}`,
      role: 'group',
      'aria-label': `Task graph ${this.current ?? ''}`,
    });
    svg.append(
      s(
        'defs',
        {},
        s(
          'marker',
          { id: 'arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' },
          s('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrow-head' }),
        ),
      ),
    );
    const edges = s('g', { class: 'edges' });
    for (const e of g.edges()) {
      const pts = g.edge(e).points ?? [];
      edges.append(s('path', { class: 'edge', d: smooth(pts), 'marker-end': 'url(#arrow)', 'data-from': e.v, 'data-to': e.w }));
    }
    const nodes = s('g', { class: 'nodes' });
    for (const id of g.nodes()) {
      const n = g.node(id);
      const t = this.tasks.get(id);
      if (!n || !t) continue;
      const local = id.includes(':') ? id.slice(id.indexOf(':') + 1) : id;
      const node = s(
        'g',
        {
          class: `node state-${t.state}`,
          'data-task-id': id,
          transform: `translate(${n.x - NODE_W / 2},${n.y - NODE_H / 2})`,
          tabindex: '0',
          role: 'button',
          // The name contains the visible text (axe label-content-name-mismatch): "<id as shown> <state>".
          'aria-label': nodeName(local, t.state),
        },
        s('rect', { class: 'node-box', width: NODE_W, height: NODE_H, rx: '9' }),
        s('rect', { class: 'node-bar', width: '5', height: NODE_H - 16, x: '8', y: '8', rx: '2.5' }),
        s('text', { class: 'node-title', x: '22', y: '23' }, truncate(local, 21)),
        s('text', { class: 'node-state', x: '22', y: '41' }, t.state.replace(/_/g, ' ')),
        s('title', {}, `${t.title ?? local}\n${t.state}`),
      );
      const pick = (): void => this.o.onSelectTask(id);
      node.addEventListener('click', pick);
      node.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' || ev.key === ' ') {
          ev.preventDefault();
          pick();
        }
      });
      nodes.append(node);
    }
    svg.append(edges, nodes);
    put(this.canvas, svg);
    for (const id of this.tasks.keys()) this.paintEdges(id);
    this.drawList(g.nodes());
  }

  private setListMode(on: boolean): void {
    this.asList.setAttribute('aria-pressed', String(on));
    this.asList.textContent = on ? 'Show as graph' : 'Show as list';
    this.list.hidden = !on;
    this.canvas.hidden = on;
  }

  /** The list alternative in dependency order (each task after everything it depends on). */
  private drawList(ids: string[]): void {
    const order = topoOrder(ids, this.tasks);
    put(
      this.list,
      order.map((id) => {
        const t = this.tasks.get(id) as TaskView;
        const deps = (t.depends_on ?? []).filter((d) => this.tasks.has(d)).map(localId);
        return h(
          'li',
          { class: 'graph-list-item', 'data-task-id': id },
          h('button', { type: 'button', class: 'link task-link', onclick: () => this.o.onSelectTask(id) }, localId(id)),
          ' ',
          statePill(t.state),
          h('span', { class: 'muted small' }, deps.length ? ` after ${deps.join(', ')}` : ' no dependencies'),
        );
      }),
    );
  }

  private paintNode(id: string): void {
    const t = this.tasks.get(id);
    const node = this.canvas.querySelector<SVGGElement>(`g.node[data-task-id="${CSS.escape(id)}"]`);
    if (!t || !node) return;
    node.setAttribute('class', `node state-${t.state}`);
    const local = id.includes(':') ? id.slice(id.indexOf(':') + 1) : id;
    node.setAttribute('aria-label', nodeName(local, t.state));
    const label = node.querySelector('.node-state');
    if (label) label.textContent = t.state.replace(/_/g, ' ');
    const pill = this.list.querySelector(`li[data-task-id="${CSS.escape(id)}"] .pill`);
    if (pill) setStatePill(pill, t.state);
    this.paintEdges(id);
  }

  /** Edges leaving a finished task are drawn solid; the rest stay muted. */
  private paintEdges(id: string): void {
    const t = this.tasks.get(id);
    if (!t) return;
    for (const e of this.canvas.querySelectorAll(`path.edge[data-from="${CSS.escape(id)}"]`)) e.setAttribute('class', `edge from-${t.state}`);
  }
}

function nodeName(local: string, state: string): string {
  const shown = truncate(local, 21);
  return `${shown} ${state.replace(/_/g, ' ')}${shown === local ? '' : ` (${local})`}`;
}

function localId(id: string): string {
  return id.includes(':') ? id.slice(id.indexOf(':') + 1) : id;
}

/** Kahn's order over the tasks present (stable: ties keep the given order). */
function topoOrder(ids: string[], tasks: Map<string, TaskView>): string[] {
  const present = new Set(ids);
  const done = new Set<string>();
  const out: string[] = [];
  let progress = true;
  while (out.length < ids.length && progress) {
    progress = false;
    for (const id of ids) {
      if (done.has(id)) continue;
      const deps = (tasks.get(id)?.depends_on ?? []).filter((d) => present.has(d));
      if (deps.every((d) => done.has(d))) {
        done.add(id);
        out.push(id);
        progress = true;
      }
    }
  }
  return out.concat(ids.filter((id) => !done.has(id)));
}

function smooth(pts: { x: number; y: number }[]): string {
  const [first, ...rest] = pts;
  if (!first) return '';
  let d = `M ${first.x} ${first.y}`;
  for (let i = 0; i < rest.length - 1; i++) {
    const p = rest[i] as { x: number; y: number };
    const q = rest[i + 1] as { x: number; y: number };
    d += ` Q ${p.x} ${p.y} ${(p.x + q.x) / 2} ${(p.y + q.y) / 2}`;
  }
  const end = rest[rest.length - 1];
  if (end) d += ` L ${end.x} ${end.y}`;
  return d;
}

const LEGEND = ['waiting', 'ready', 'running', 'succeeded', 'failed', 'cancelled', 'upstream_failed', 'awaiting_approval'];

function legend(): HTMLElement {
  return h(
    'ul',
    { class: 'legend', 'aria-label': 'State colours' },
    ...LEGEND.map((st) => h('li', { class: `state-${st}` }, h('span', { class: 'swatch', 'aria-hidden': 'true' }), st.replace(/_/g, ' '))),
  );
}
