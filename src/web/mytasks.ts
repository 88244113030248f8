/**
 * "My tasks" for a LAN user: every task I submitted, newest first, with its
 * state and the tail of its output, both updated live from my own events
 * (the server sends me my events in full and nobody else's output).
 */
import { api } from './api.js';
import { ago, debounce, engineModel, h, put, str, time, usd } from './dom.js';
import type { Live } from './live.js';
import { emptyState, section, setStatePill, showError, statePill } from './ui.js';
import type { TaskView } from './types.js';

/** `worker_name`: my own worker it ran (or waits for), by name; the server never names another user's. */
type MyTask = TaskView & { output_tail?: string; target?: string; worker_name?: string | null };

interface MySessions {
  tasks: MyTask[];
  total_tasks: number;
  total_cost_usd: number;
}

const TAIL_CHARS = 2000;

export class MyTasksView {
  readonly el: HTMLElement;
  private readonly list: HTMLElement;
  private readonly summary: HTMLElement;
  private readonly cards = new Map<string, { root: HTMLElement; tail: HTMLPreElement; task: MyTask }>();
  private readonly refreshSoon = debounce(() => void this.refresh(), 300);
  /** Called after every render (the activity feed names my tasks from here). */
  onRendered: () => void = () => {};

  constructor(
    live: Live,
    private readonly openTask: (id: string) => void,
  ) {
    this.list = h('div', { class: 'my-tasks', id: 'my-tasks', role: 'list' });
    this.summary = h('span', { class: 'muted' });
    this.el = section(
      'My tasks',
      { id: 'my-tasks-section', actions: [this.summary], description: 'Only you (and the host’s admin) can see their text and output.' },
      this.list,
    );
    const mine = (d: Record<string, unknown>): boolean => d['redacted'] !== true;
    live.on('task.state', (e) => {
      const id = str(e.data['task_id']);
      const to = str(e.data['to']);
      if (!id || !to || !mine(e.data)) return;
      const c = this.cards.get(id);
      if (!c) return this.refreshSoon();
      c.task.state = to as TaskView['state'];
      c.task.state_reason = str(e.data['reason']);
      const pill = c.root.querySelector('.pill');
      if (pill) setStatePill(pill, to);
      const reason = c.root.querySelector('.my-task-reason');
      if (reason) reason.textContent = reasonOf(c.task);
    });
    live.on('task.output', (e) => {
      const id = str(e.data['task_id']);
      const c = id ? this.cards.get(id) : undefined;
      if (!c) return;
      c.tail.hidden = false;
      c.tail.textContent = ((c.tail.textContent ?? '') + (str(e.data['text']) ?? '')).slice(-TAIL_CHARS);
      c.tail.scrollTop = c.tail.scrollHeight;
    });
    live.on('graph.submitted', (e) => mine(e.data) && this.refreshSoon());
    live.on('attempt.finished', (e) => mine(e.data) && this.cards.has(str(e.data['task_id']) ?? '') && this.refreshSoon());
    live.onResync(() => void this.refresh());
  }

  titleOf(id: string): string | null {
    return this.cards.get(id)?.task.title ?? null;
  }

  async refresh(): Promise<void> {
    try {
      const r = await api.get<MySessions>('/api/my-sessions');
      this.render(r);
    } catch (e) {
      showError(e, 'my tasks');
    }
  }

  private render(r: MySessions): void {
    this.cards.clear();
    this.summary.textContent = r.total_tasks ? `${r.total_tasks} task${r.total_tasks === 1 ? '' : 's'} · ${usd(r.total_cost_usd)}` : '';
    // A list with no listitem is an ARIA error (axe aria-required-children): the empty state is not a list.
    if (r.tasks.length === 0) this.list.removeAttribute('role');
    else this.list.setAttribute('role', 'list');
    if (r.tasks.length === 0) {
      put(this.list, emptyState('No tasks yet', 'Submit one with the form: it runs on your own paired machine, or on the host once the admin approves it.'));
      return;
    }
    put(
      this.list,
      r.tasks.map((t) => this.card(t)),
    );
    this.onRendered();
  }

  private card(t: MyTask): HTMLElement {
    const tail = h('pre', { class: 'output output-tail', hidden: !t.output_tail, 'aria-label': 'Latest output' }, t.output_tail ?? '');
    const root = h(
      'article',
      { class: 'my-task', role: 'listitem', 'data-task-id': t.id },
      h(
        'header',
        { class: 'my-task-head' },
        statePill(t.state),
        h('button', { type: 'button', class: 'link strong task-link', onclick: () => this.openTask(t.id) }, t.title ?? t.id),
      ),
      h(
        'p',
        { class: 'my-task-meta small muted' },
        `${engineModel(t.engine, t.model)} · ${whereOf(t)} · ${usd(t.cost_usd)} · `,
        h('span', { title: time(t.updated_at) }, ago(t.updated_at)),
      ),
      h('p', { class: 'my-task-reason small muted' }, reasonOf(t)),
      tail,
    );
    this.cards.set(t.id, { root, tail, task: t });
    return root;
  }
}

function whereOf(t: MyTask): string {
  if (t.target === 'host') return 'on the host';
  if (t.worker_name) return `on ${t.worker_name}`;
  return t.target === 'own-worker' ? 'on one of my workers' : 'on my worker';
}

/** The state reason, or what the user should know about a task that waits for their own worker or the admin. */
function reasonOf(t: MyTask): string {
  if (t.state === 'ready' && t.target !== 'host') return 'Queued until one of your paired workers is connected (see “My workers”).';
  if (t.state === 'awaiting_approval') return 'Waiting for the host’s admin to approve running it on the host.';
  return t.state_reason ?? '';
}
