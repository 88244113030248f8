/**
 * Browser notifications (issue 18): an opt-in toggle in the top bar; once on
 * (and permitted), each `notify` event of the live stream becomes a system
 * notification. The server decides who receives which event (a LAN user only
 * their own tasks' events); the client also keeps a LAN user to events that
 * name them as owner, so a `view_all` viewer is not notified of others' work.
 * Clicking a notification focuses the page and opens the task.
 */
import { h } from './dom.js';
import type { Live } from './live.js';
import { notice } from './ui.js';

const KEY = 'colony.notifications';

export interface NotifyOptions {
  live: Live;
  /** 'admin', or the LAN user's own submitter id (`session:<id>`): only events owned by it notify. */
  owner: 'admin' | string;
  openTask?: (id: string) => void;
}

interface NotifyData {
  event?: string;
  title?: string;
  body?: string;
  owner?: string | null;
  task_id?: string | null;
}

export class NotificationToggle {
  readonly el: HTMLButtonElement;
  /** Notifications shown, newest last (the page's own record, for the tests and the title of the button). */
  readonly shown: { title: string; body: string }[] = [];

  constructor(private readonly o: NotifyOptions) {
    this.el = h('button', { type: 'button', class: 'btn btn-small', id: 'btn-notify', 'aria-pressed': 'false' }, 'Notify: off');
    this.el.addEventListener('click', () => void this.toggle());
    if (typeof Notification === 'undefined') {
      this.el.disabled = true;
      this.el.title = 'This browser has no notifications';
    }
    this.render();
    o.live.on('notify', (e) => this.onEvent(e.data as NotifyData));
  }

  private enabled(): boolean {
    return typeof Notification !== 'undefined' && Notification.permission === 'granted' && localStorage.getItem(KEY) === 'on';
  }

  private async toggle(): Promise<void> {
    if (this.enabled()) {
      localStorage.setItem(KEY, 'off');
    } else {
      const p = Notification.permission === 'granted' ? 'granted' : await Notification.requestPermission();
      if (p !== 'granted') notice('info', 'Notifications are blocked for this page; allow them in the browser’s site settings.');
      else localStorage.setItem(KEY, 'on');
    }
    this.render();
  }

  private render(): void {
    const on = this.enabled();
    this.el.textContent = on ? 'Notify: on' : 'Notify: off';
    this.el.setAttribute('aria-pressed', String(on));
    this.el.title = on
      ? 'Browser notifications on: approvals needed, failed tasks, finished graphs, budget alerts. Click to turn off.'
      : 'Get a browser notification when an approval is needed, a task fails, a graph finishes or a budget is reached.';
  }

  private onEvent(d: NotifyData): void {
    if (!this.enabled() || typeof d.title !== 'string') return;
    if (this.o.owner !== 'admin' && d.owner !== this.o.owner) return;
    const body = typeof d.body === 'string' ? d.body : '';
    const n = new Notification(d.title, { body, tag: `${d.event ?? 'notify'}:${d.task_id ?? ''}` });
    this.shown.push({ title: d.title, body });
    const task = d.task_id;
    if (task && this.o.openTask) {
      const open = this.o.openTask;
      n.onclick = () => {
        window.focus();
        open(task);
      };
    }
  }
}
