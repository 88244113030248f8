/**
 * The activity feed: recent events as the server built them for this viewer.
 * My own events name my tasks; other people's arrive redacted (state, engine,
 * cost only, an opaque id) and are shown as "someone's task".
 */
import { h, num, str, time, usd } from './dom.js';
import type { Live } from './live.js';
import { emptyState, statePill } from './ui.js';
import type { LiveEvent } from './types.js';

const MAX_ITEMS = 60;

export class ActivityFeed {
  readonly el: HTMLElement;
  private readonly list: HTMLOListElement;
  private readonly empty: HTMLElement;

  constructor(
    live: Live,
    private readonly titleOf: (taskId: string) => string | null,
  ) {
    // A scroll container: focusable so keyboard users can scroll it (axe scrollable-region-focusable).
    this.list = h('ol', { class: 'activity', 'aria-live': 'polite', tabindex: '0', 'aria-label': 'Recent activity' });
    this.empty = emptyState('Quiet so far', 'Events appear here as tasks are submitted, start and finish.');
    this.el = h('div', {}, this.empty, this.list);
    for (const kind of ['graph.submitted', 'task.state', 'attempt.finished', 'killswitch'] as const) live.on(kind, (e) => this.add(e));
  }

  private add(e: LiveEvent): void {
    const item = this.describe(e);
    if (!item) return;
    this.empty.hidden = true;
    this.list.prepend(
      h(
        'li',
        { class: `activity-item${e.data['redacted'] === true ? ' other' : ' mine'}` },
        h('time', { class: 'muted small mono' }, time(num(e.data['at']))),
        item,
      ),
    );
    while (this.list.children.length > MAX_ITEMS) this.list.lastElementChild?.remove();
  }

  private subject(e: LiveEvent): HTMLElement {
    const id = str(e.data['task_id']) ?? '';
    if (e.data['redacted'] === true) return h('span', { class: 'who other' }, 'someone’s task ', h('span', { class: 'mono muted' }, id.slice(0, 8)));
    const title = this.titleOf(id);
    return h('span', { class: 'who mine' }, 'your task ', h('strong', title ? {} : { class: 'unresolved', 'data-task-id': id }, title ?? 'new task'));
  }

  /** Names tasks that were not in "my tasks" yet when their first events arrived. */
  resolveTitles(): void {
    for (const el of this.list.querySelectorAll<HTMLElement>('strong.unresolved')) {
      const title = this.titleOf(el.dataset['taskId'] ?? '');
      if (!title) continue;
      el.textContent = title;
      el.classList.remove('unresolved');
      el.removeAttribute('data-task-id');
    }
  }

  private describe(e: LiveEvent): HTMLElement | null {
    const d = e.data;
    switch (e.kind) {
      case 'graph.submitted': {
        const n = Array.isArray(d['tasks']) ? d['tasks'].length : 0;
        return h('span', {}, d['redacted'] === true ? 'Someone submitted ' : 'You submitted ', `${n} task${n === 1 ? '' : 's'}`);
      }
      case 'task.state': {
        const to = str(d['to']);
        return to ? h('span', {}, this.subject(e), ' → ', statePill(to)) : null;
      }
      case 'attempt.finished': {
        const engine = str(d['engine']);
        return h('span', {}, this.subject(e), ` finished attempt ${num(d['attempt']) ?? ''}${engine ? ` on ${engine}` : ''} · ${usd(num(d['cost_usd']))}`);
      }
      case 'killswitch':
        return h('span', {}, 'The host is now ', h('strong', {}, str(d['state']) ?? '?'));
      default:
        return null;
    }
  }
}
