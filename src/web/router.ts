/**
 * The adaptive router: per task class, every candidate with its learned
 * success (posterior mean, prior, weighted and raw samples), cost and the
 * plan it heads; below, the last decisions with their explanations.
 * Loaded when the tab is shown and refreshed after attempts finish.
 */
import type { CandidateView } from '../core/router-view.js';
import { api, withQuery } from './api.js';
import { debounce, h, put, time, usd } from './dom.js';
import type { Live } from './live.js';
import { busy, emptyState, errorBox, section } from './ui.js';

type Candidate = CandidateView;
interface ClassInsight {
  cls: string;
  attempts: number;
  candidates: Candidate[];
}
interface Decision {
  id: number;
  at: number;
  task_id: string | null;
  cls: string;
  rule: string;
  option: string;
  explanation: string;
}

export class RouterView {
  readonly el: HTMLElement;
  private readonly classes = h('div', { class: 'router-classes' });
  private readonly decisions = h('tbody');
  private readonly err = errorBox();
  private stale = true;
  private readonly refreshSoon = debounce(() => void this.refresh(), 800);

  constructor(live: Live) {
    const reload = h('button', { type: 'button', class: 'btn btn-small' }, 'Refresh');
    reload.addEventListener('click', () => void busy(reload, () => this.load(), this.err));
    this.el = h(
      'div',
      { id: 'router-view' },
      section(
        'Router: candidates per class',
        {
          id: 'router',
          actions: [reload],
          description:
            'Success is the posterior mean (prior from the class, plus recent outcomes weighted by recency); samples are weighted / raw runs. Value = worth of a success × plan success − plan cost.',
        },
        this.err,
        this.classes,
      ),
      section(
        'Last decisions',
        { description: 'Each decision with the explanation stored when it was made.' },
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'table router-decisions' },
            h('thead', {}, h('tr', {}, ...['Time', 'Task', 'Class', 'Rule', 'Choice', 'Explanation'].map((c) => h('th', { scope: 'col' }, c)))),
            this.decisions,
          ),
        ),
      ),
    );
    live.on('attempt.finished', () => {
      this.stale = true;
      if (this.el.offsetParent !== null) this.refreshSoon(); // only while the tab is shown
    });
  }

  /** The tab was opened: load if anything changed since the last load. */
  show(): void {
    if (this.stale) void this.refresh();
  }

  private async refresh(): Promise<void> {
    this.stale = false;
    await busy(null, () => this.load(), this.err);
  }

  private async load(): Promise<void> {
    const r = await api.get<{ classes: ClassInsight[]; decisions: Decision[] }>(withQuery('/admin/router', { limit: 30 }));
    put(this.classes, ...r.classes.map(classCard));
    this.decisions.replaceChildren(...r.decisions.map(decisionRow));
    if (r.decisions.length === 0) this.decisions.append(h('tr', {}, h('td', { colspan: '6' }, emptyState('No routing decision yet.'))));
  }
}

function classCard(c: ClassInsight): HTMLElement {
  const rows = [...c.candidates].sort((a, b) => b.plan_value_usd - a.plan_value_usd);
  return h(
    'div',
    { class: 'chart-card router-class', 'data-class': c.cls },
    h('h3', {}, `${c.cls} `, h('span', { class: 'muted small' }, `${c.attempts} attempts learned`)),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['Candidate', 'Success', 'Prior', 'Samples', 'Cost', 'Plan', 'Plan success', 'Plan cost', 'Value'].map((x) => h('th', { scope: 'col' }, x)),
          ),
        ),
        h(
          'tbody',
          {},
          ...rows.map((x, i) =>
            h(
              'tr',
              { class: i === 0 ? 'best' : '' },
              h('td', { class: 'mono' }, x.option),
              h('td', {}, x.p.toFixed(3)),
              h('td', { class: 'muted' }, x.prior.toFixed(3)),
              h('td', {}, `${x.weight.toFixed(1)} / ${x.n} (${x.ok} ok)`),
              h('td', { title: x.cost_source }, usd(x.cost_usd)),
              h('td', { class: 'mono small' }, x.plan),
              h('td', {}, x.plan_success.toFixed(3)),
              h('td', {}, usd(x.plan_cost_usd)),
              h('td', {}, usd(x.plan_value_usd)),
            ),
          ),
        ),
      ),
    ),
  );
}

function decisionRow(d: Decision): HTMLElement {
  return h(
    'tr',
    {},
    h('td', { class: 'nowrap' }, time(d.at)),
    h('td', { class: 'mono small' }, d.task_id ?? ''),
    h('td', {}, d.cls),
    h('td', {}, h('span', { class: `tag rule-${d.rule}` }, d.rule)),
    h('td', { class: 'mono small' }, d.option),
    h('td', { class: 'small router-explanation' }, d.explanation),
  );
}
