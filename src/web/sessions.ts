/**
 * LAN sessions with their permission grants (a checkbox per permission,
 * saved at once), rename and revoke. `view_all` is the grant that lets a user
 * see other users' task text; everything else is the default set.
 */
import { PERMISSIONS } from '../core/permissions.js';
import { api } from './api.js';
import { ago, debounce, h, put, time, usd } from './dom.js';
import type { Live } from './live.js';
import { busy, confirmDialog, emptyState, errorBox, notice, section, showError } from './ui.js';
import type { Permission, SessionView } from './types.js';

const PERMISSION_HELP: Record<Permission, string> = {
  view: 'see the dashboard',
  submit_task: 'submit tasks',
  view_own_sessions: 'see their own tasks and output',
  view_all: "see other users' task text and output",
};

export class SessionsView {
  readonly el: HTMLElement;
  private readonly body: HTMLElement;
  private readonly err = errorBox();
  private readonly reloadSoon = debounce(() => void this.refresh(), 300);

  constructor(
    live: Live,
    private readonly onLoaded: (s: SessionView[]) => void,
  ) {
    this.body = h('div', { class: 'table-wrap' });
    this.el = section(
      'Sessions',
      { id: 'sessions', description: 'People who opened the LAN app. Grants take effect on their next request.' },
      this.err,
      this.body,
    );
    live.on('session', () => this.reloadSoon());
    live.on('graph.submitted', () => this.reloadSoon()); // a new LAN submitter shows up by name
    live.onResync(() => void this.refresh());
  }

  async refresh(): Promise<void> {
    try {
      const { sessions } = await api.get<{ sessions: SessionView[] }>('/admin/sessions');
      this.onLoaded(sessions);
      this.render(sessions);
    } catch (e) {
      showError(e, 'sessions');
    }
  }

  private render(list: SessionView[]): void {
    if (list.length === 0) {
      put(
        this.body,
        emptyState(
          'No LAN sessions yet',
          'Start the host with ',
          h('code', {}, 'colony serve --lan'),
          ' and share the LAN URL it prints. People appear here once they pick a display name.',
        ),
      );
      return;
    }
    const sorted = [...list].sort((a, b) => b.last_seen_at - a.last_seen_at);
    put(
      this.body,
      h(
        'table',
        { class: 'table sessions-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['User', 'Origin', 'Permissions', 'Tasks', 'Cost', 'Last seen', ''].map((c) =>
              h('th', { scope: 'col', class: c === 'Tasks' || c === 'Cost' ? 'num' : undefined }, c),
            ),
          ),
        ),
        h('tbody', {}, ...sorted.map((s) => this.row(s))),
      ),
    );
  }

  private row(s: SessionView): HTMLElement {
    const perms = h(
      'fieldset',
      { class: 'perm-set', disabled: s.revoked },
      h('legend', { class: 'sr-only' }, `Permissions of ${s.display_name}`),
      ...PERMISSIONS.map((p) => {
        const box = h('input', { type: 'checkbox', checked: s.permissions.includes(p), 'data-permission': p });
        box.addEventListener('change', () => void this.savePermissions(s, perms));
        return h('label', { class: 'perm', title: PERMISSION_HELP[p] }, box, ` ${p}`);
      }),
    );
    const rename = h('button', { type: 'button', class: 'btn btn-small' }, 'Rename');
    rename.addEventListener('click', () => void this.rename(s));
    const revoke = h('button', { type: 'button', class: 'btn btn-small btn-danger-outline', disabled: s.revoked }, s.revoked ? 'Revoked' : 'Revoke');
    revoke.addEventListener(
      'click',
      () =>
        void (async () => {
          // The admin chooses how far the ban goes (issue 14); their workers are revoked in every case.
          const choices = (['browser', 'address', 'pairing'] as const).map((c) => ({ c, box: h('input', { type: 'checkbox', 'data-ban': c }) }));
          const label: Record<string, string> = {
            browser: 'no new session from this browser',
            address: `no new session from ${s.origin_ip}`,
            pairing: 'no new pairing (their unused codes die)',
          };
          const extra = h(
            'fieldset',
            { class: 'ban-set' },
            h('legend', {}, 'Also ban'),
            ...choices.map(({ c, box }) => h('label', { class: 'perm' }, box, ` ${label[c]}`)),
          );
          if (
            !(await confirmDialog({
              title: `Revoke ${s.display_name}?`,
              body: 'Their session stops working at once and their workers are revoked and disconnected; queued tasks stay for you to cancel or approve.',
              confirm: 'Revoke',
              danger: true,
              extra,
            }))
          )
            return;
          const ban = choices.filter(({ box }) => (box as HTMLInputElement).checked).map(({ c }) => c);
          await busy(
            revoke,
            async () => {
              await api.post(`/admin/sessions/${encodeURIComponent(s.user_id)}/revoke`, { ban });
              notice('success', `Revoked ${s.display_name}`);
              await this.refresh();
            },
            this.err,
          );
        })(),
    );
    return h(
      'tr',
      { class: s.revoked ? 'revoked' : '', 'data-user-id': s.user_id },
      h('td', {}, h('strong', {}, s.display_name), h('div', { class: 'mono muted small' }, s.user_id.slice(0, 8))),
      h('td', { class: 'mono' }, s.origin_ip, s.is_local ? h('span', { class: 'tag' }, 'local') : null),
      h('td', {}, perms),
      h('td', { class: 'num' }, String(s.tasks_submitted)),
      h('td', { class: 'num mono' }, usd(s.cost_usd ?? 0)),
      h('td', { title: time(s.last_seen_at) }, ago(s.last_seen_at)),
      h('td', { class: 'row-actions' }, rename, revoke),
    );
  }

  private async savePermissions(s: SessionView, set: HTMLFieldSetElement): Promise<void> {
    const permissions = [...set.querySelectorAll<HTMLInputElement>('input[type=checkbox]')]
      .filter((b) => b.checked)
      .map((b) => b.dataset['permission'] as Permission);
    set.disabled = true;
    try {
      await api.patch(`/admin/sessions/${encodeURIComponent(s.user_id)}`, { permissions });
      notice('success', `Permissions of ${s.display_name}: ${permissions.join(', ') || 'none'}`);
    } catch (e) {
      showError(e, 'permissions');
      await this.refresh();
    } finally {
      set.disabled = false;
    }
  }

  private async rename(s: SessionView): Promise<void> {
    const name = window.prompt(`New display name for ${s.display_name}`, s.display_name)?.trim();
    if (!name || name === s.display_name) return;
    try {
      await api.patch(`/admin/sessions/${encodeURIComponent(s.user_id)}`, { display_name: name });
      await this.refresh();
    } catch (e) {
      showError(e, 'rename');
    }
  }
}
