/**
 * The task drawer: prompt, route decision and its explanation, attempts,
 * output (streamed live from `task.output` events), cost and tokens. Opened
 * from the graph, the queue or "my tasks"; the data source differs per app.
 */
import { duration, engineModel, h, num, put, str, time, tokens, usd } from './dom.js';
import type { Live } from './live.js';
import { showError, setStatePill, statePill } from './ui.js';
import type { AttemptView, OutputChunk, TaskDetail, TaskView } from './types.js';

export interface DetailSource {
  load: (id: string) => Promise<TaskDetail>;
  /** Admin overrides (force-run, skip, retry, cancel); absent in the user app. */
  actions?: (task: TaskView, reload: () => void) => HTMLElement[];
  /** Told when the drawer opens a task or closes (null): the admin app keeps a deep link in the address bar. */
  onOpenChange?: (id: string | null) => void;
  /** A link to the task shown in the drawer (absent: no link). */
  linkTo?: (id: string) => string;
}

const MAX_OUTPUT_CHARS = 200_000;

export class TaskDrawer {
  readonly el: HTMLElement;
  private readonly body: HTMLElement;
  private readonly heading: HTMLElement;
  private current: string | null = null;
  private detail: TaskDetail | null = null;
  private output: HTMLPreElement | null = null;
  private pending: OutputChunk[] | null = null;
  private returnFocus: HTMLElement | null = null;
  private loadSeq = 0;

  constructor(
    private readonly live: Live,
    private readonly source: DetailSource,
  ) {
    this.heading = h('h2', { id: 'drawer-title', tabindex: '-1' }, 'Task');
    this.body = h('div', { class: 'drawer-body' });
    this.el = h(
      'aside',
      { class: 'drawer', id: 'task-drawer', role: 'dialog', 'aria-labelledby': 'drawer-title', hidden: true },
      h(
        'header',
        { class: 'drawer-head' },
        this.heading,
        h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close task details', onclick: () => this.close() }, '×'),
      ),
      this.body,
    );
    this.el.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.close();
    });
    live.on('task.state', (e) => {
      if (e.data['task_id'] !== this.current || !this.detail) return;
      const to = str(e.data['to']);
      if (!to) return;
      this.detail.task.state = to as TaskView['state'];
      this.detail.task.state_reason = str(e.data['reason']);
      const pill = this.body.querySelector('.detail-state');
      if (pill) setStatePill(pill, to);
      const reason = this.body.querySelector('.detail-reason');
      if (reason) reason.textContent = this.detail.task.state_reason ?? '';
    });
    live.on('task.output', (e) => {
      if (e.data['task_id'] !== this.current) return;
      const chunk: OutputChunk = {
        attempt: num(e.data['attempt']) ?? 0,
        stream: str(e.data['stream']) ?? 'stdout',
        text: str(e.data['text']) ?? '',
        at: num(e.data['at']) ?? 0,
      };
      if (this.pending) this.pending.push(chunk);
      else this.appendOutput([chunk]);
    });
    const refresh = (e: { data: Record<string, unknown> }): void => {
      if (e.data['task_id'] === this.current && this.current) void this.load(this.current, false);
    };
    live.on('attempt.started', refresh);
    live.on('attempt.finished', refresh);
  }

  get openTaskId(): string | null {
    return this.current;
  }

  open(id: string): void {
    if (!this.el.hidden && this.current === id) return;
    this.returnFocus = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    this.current = id;
    this.el.hidden = false;
    document.body.classList.add('drawer-open');
    this.heading.textContent = id;
    put(this.body, h('p', { class: 'muted' }, 'Loading…'));
    this.heading.focus();
    this.output = null;
    this.pending = [];
    void this.load(id, true);
    this.source.onOpenChange?.(id);
  }

  close(): void {
    if (this.el.hidden) return;
    this.el.hidden = true;
    this.current = null;
    this.detail = null;
    this.output = null;
    this.pending = null;
    document.body.classList.remove('drawer-open');
    this.returnFocus?.focus();
    this.source.onOpenChange?.(null);
  }

  private async load(id: string, wantOutput: boolean): Promise<void> {
    const seq = ++this.loadSeq;
    // Until the output has been rendered once, every load fetches it (a newer load may supersede the
    // first one); chunks streamed meanwhile wait in `pending` and are merged by the load that renders.
    const withOutput = wantOutput || this.output === null;
    if (withOutput) this.pending ??= [];
    try {
      const d = await this.source.load(id);
      if (seq !== this.loadSeq || this.current !== id) return;
      const keptOutput = withOutput ? null : this.output;
      this.detail = d;
      this.render(d, keptOutput);
      if (withOutput) {
        const fetched = d.output;
        const fresh = (this.pending ?? []).filter(
          (c) => !fetched.some((f) => f.attempt === c.attempt && f.stream === c.stream && f.text === c.text && Math.abs((f.at ?? 0) - (c.at ?? 0)) < 100),
        );
        this.pending = null;
        this.appendOutput(fresh);
      }
    } catch (e) {
      if (seq !== this.loadSeq) return;
      this.pending = null;
      showError(e, `task ${id}`);
      put(this.body, h('p', { class: 'muted' }, 'This task could not be loaded.'));
    }
  }

  private render(d: TaskDetail, keptOutput: HTMLPreElement | null): void {
    const t = d.task;
    this.heading.textContent = t.title ?? t.id;
    const last = d.attempts[d.attempts.length - 1];
    const routed = [...d.attempts].reverse().find((a) => a.route_rule || a.route_explanation);
    this.output = keptOutput ?? h('pre', { class: 'output', role: 'region', 'aria-live': 'off', tabindex: '0', 'aria-label': 'Task output' });
    if (!keptOutput) {
      this.output.replaceChildren();
      this.appendOutput(d.output);
    }
    const actions = this.source.actions?.(t, () => this.current && void this.load(this.current, false)) ?? [];
    put(
      this.body,
      h(
        'div',
        { class: 'detail-meta' },
        statePillWith(t.state),
        h('span', { class: 'mono muted detail-id' }, t.id),
        this.source.linkTo ? h('a', { class: 'small detail-link', href: this.source.linkTo(t.id) }, 'Link to this task') : null,
      ),
      h('p', { class: 'detail-reason muted' }, t.state_reason ?? ''),
      actions.length ? h('div', { class: 'detail-actions' }, ...actions) : null,
      h(
        'dl',
        { class: 'detail-grid' },
        kv('Engine', engineModel(last?.engine ?? t.engine, last?.model ?? t.model)),
        kv('Cost', usd(t.cost_usd)),
        kv('Tokens in / out', `${tokens(t.tokens_in)} / ${tokens(t.tokens_out)}`),
        kv('Budget', usd(t.budget_usd)),
        kv('Attempts', `${t.attempt ?? d.attempts.length} of ${t.max_attempts ?? '—'}`),
        kv('Depends on', t.depends_on?.length ? t.depends_on.join(', ') : 'nothing'),
      ),
      h('h3', {}, 'Route decision'),
      routed
        ? h('p', { class: 'route' }, h('span', { class: 'tag' }, routed.route_rule ?? 'rule'), ' ', routed.route_explanation ?? '')
        : h('p', { class: 'muted' }, t.redacted ? 'Hidden: another user’s task.' : 'Not routed yet (the task has not started).'),
      h('h3', {}, 'Prompt'),
      t.prompt ? h('pre', { class: 'prompt' }, t.prompt) : h('p', { class: 'muted' }, t.redacted ? 'Hidden: another user’s task.' : '—'),
      h('h3', {}, 'Attempts'),
      d.attempts.length ? attemptsTable(d.attempts) : h('p', { class: 'muted' }, 'No attempt yet.'),
      h('h3', {}, 'Output ', h('span', { class: 'muted small' }, '(live)')),
      this.output,
    );
  }

  private appendOutput(chunks: OutputChunk[]): void {
    const pre = this.output;
    if (!pre || chunks.length === 0) return;
    const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
    for (const c of chunks) pre.append(c.stream === 'stderr' ? h('span', { class: 'stderr' }, c.text) : document.createTextNode(c.text));
    while ((pre.textContent?.length ?? 0) > MAX_OUTPUT_CHARS && pre.firstChild) pre.firstChild.remove();
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }
}

function statePillWith(state: string): HTMLElement {
  const p = statePill(state);
  p.classList.add('detail-state');
  return p;
}

function kv(k: string, v: string): HTMLElement {
  return h('div', {}, h('dt', {}, k), h('dd', {}, v));
}

function attemptsTable(attempts: AttemptView[]): HTMLElement {
  const cols = ['#', 'Engine / model', 'Worker', 'State', 'Cost', 'Tokens', 'Time'];
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'table compact attempts' },
      h('thead', {}, h('tr', {}, ...cols.map((c) => h('th', { scope: 'col', class: c === 'Cost' || c === 'Tokens' ? 'num' : undefined }, c)))),
      ...attempts.map((a) => {
        const result = a.error_code ? `${a.error_code}: ${a.summary ?? ''}` : (a.summary ?? '');
        return h(
          'tbody',
          {},
          h(
            'tr',
            {},
            // data-label: on a phone each attempt is a small card with labelled values (style.css), nothing cut off.
            h('td', { 'data-label': '#' }, String(a.attempt)),
            h('td', { class: 'mono', 'data-label': 'Engine / model' }, engineModel(a.engine, a.model)),
            h('td', { class: 'mono', 'data-label': 'Worker' }, a.worker_id ?? '—'),
            h('td', { 'data-label': 'State' }, statePill(a.state)),
            h('td', { class: 'num mono', 'data-label': 'Cost' }, usd(a.cost_usd)),
            h('td', { class: 'num mono', 'data-label': 'Tokens' }, tokens(a.tokens_in + a.tokens_out)),
            h('td', { title: time(a.started_at), 'data-label': 'Time' }, duration(a.started_at, a.finished_at)),
          ),
          result
            ? h(
                'tr',
                { class: 'attempt-result' },
                h('td', {}),
                h('td', { colspan: String(cols.length - 1), class: a.error_code ? 'small error-text' : 'small muted' }, result),
              )
            : null,
        );
      }),
    ),
  );
}
