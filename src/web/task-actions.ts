/** Admin overrides shown in the task drawer: force-run, retry, skip, cancel. */
import { api } from './api.js';
import { h } from './dom.js';
import { busy, confirmDialog, notice } from './ui.js';
import type { TaskView } from './types.js';

const ACTIVE = new Set(['waiting', 'ready', 'assigned', 'running', 'awaiting_approval', 'paused']);

/**
 * `thisHost`: this host's id when several hosts share a PostgreSQL store. A task
 * of a graph another host owns shows its owner, and its buttons are disabled
 * saying why (the API would refuse them with E_FOREIGN_TASK).
 */
export function taskActions(t: TaskView, reload: () => void, thisHost: string | null = null): HTMLElement[] {
  const out: HTMLElement[] = [];
  const btn = (label: string, path: string, cls: string, confirm?: { title: string; body: string; danger?: boolean }): HTMLElement => {
    const b = h('button', { type: 'button', class: `btn btn-small ${cls}` }, label);
    b.addEventListener('click', () => {
      void (async () => {
        if (confirm && !(await confirmDialog({ ...confirm, confirm: label }))) return;
        await busy(b, async () => {
          await api.post(`/admin/tasks/${encodeURIComponent(t.id)}/${path}`);
          notice('success', `${label}: ${t.id}`);
          reload();
        });
      })();
    });
    return b;
  };
  if (t.state === 'waiting') out.push(btn('Force run', 'force-run', '', { title: `Force-run ${t.id}?`, body: 'It starts now, ignoring its dependencies.' }));
  if (['failed', 'timed_out', 'cancelled', 'upstream_failed'].includes(t.state)) out.push(btn('Retry', 'retry', 'btn-primary'));
  if (t.state === 'waiting' || t.state === 'ready' || t.state === 'awaiting_approval') out.push(btn('Skip', 'skip', ''));
  if (ACTIVE.has(t.state))
    out.push(
      btn('Cancel', 'cancel', 'btn-danger-outline', {
        title: `Cancel ${t.id}?`,
        body: 'A running task is stopped; its dependents become upstream_failed.',
        danger: true,
      }),
    );
  if (out.length === 0) return out;
  const note = foreignOwnerNote(t, thisHost, out);
  return note ? [note, ...out] : out;
}

/**
 * Several hosts on PostgreSQL: a task of another host's graph can be acted on only through that host
 * (the API answers E_FOREIGN_TASK). Disables `buttons` with the reason and returns the note to show,
 * or null when the task is this host's (or there is one host).
 */
export function foreignOwnerNote(t: Pick<TaskView, 'id' | 'owner_host'>, thisHost: string | null, buttons: readonly HTMLElement[]): HTMLElement | null {
  const owner = t.owner_host ?? null;
  if (thisHost === null || owner === null || owner === thisHost) return null;
  const noteId = `foreign-${t.id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const why = `Owned by colony host ${owner}: act on it through that host (this is ${thisHost}).`;
  for (const b of buttons) {
    b.setAttribute('disabled', '');
    b.setAttribute('title', why);
    b.setAttribute('aria-describedby', noteId);
  }
  return h('p', { class: 'muted foreign-note', id: noteId }, why);
}
