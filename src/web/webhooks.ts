/**
 * The webhooks of notifications.webhooks (issue 18), on the admin's Costs tab:
 * name, format, events and host (never the URL or the secret), a "Send test"
 * button each with its last outcome, and the recent deliveries.
 */
import { api } from './api.js';
import { h, put, time } from './dom.js';
import { busy, emptyState, errorBox } from './ui.js';

export interface Hooks {
  webhooks: { name: string; format: string; events: string[]; host: string; signed: boolean }[];
  deliveries: {
    id: number;
    hook: string;
    event: string;
    state: string;
    attempts: number;
    last_status: number | null;
    last_error: string | null;
    updated_at: number;
  }[];
}

export class WebhooksPanel {
  readonly el = h('div', { id: 'webhooks' });
  /** The last "Send test" outcome per hook, kept across re-renders. */
  private readonly tested = new Map<string, { text: string; ok: boolean }>();

  constructor(private readonly refresh: () => Promise<void>) {}

  render(w: Hooks): void {
    if (w.webhooks.length === 0) {
      put(
        this.el,
        emptyState(
          'No webhooks configured',
          h('p', {}, 'Add one under ', h('code', {}, 'notifications.webhooks'), ' in colony.config.json, e.g.:'),
          h(
            'pre',
            { class: 'cmd', tabindex: '0', 'aria-label': 'Example webhook configuration' },
            '{ "name": "ops", "url": "https://example.com/hook", "format": "json", "secret": "…16+ chars…" }',
          ),
        ),
      );
      return;
    }
    const list = h(
      'ul',
      { class: 'hook-list' },
      ...w.webhooks.map((hk) => {
        const err = errorBox();
        const last = this.tested.get(hk.name);
        const result = h('span', { class: `hook-result${last ? (last.ok ? ' ok' : ' bad') : ''}`, role: 'status' }, last?.text ?? '');
        const test = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Send a test to ${hk.name}` }, 'Send test');
        test.addEventListener(
          'click',
          () =>
            void busy(
              test,
              async () => {
                const r = await api.post<{ delivery: { state: string; last_status: number | null; last_error: string | null } }>('/admin/notifications/test', {
                  hook: hk.name,
                });
                const d = r.delivery;
                const ok = d.state === 'delivered';
                this.tested.set(hk.name, { ok, text: ok ? `delivered (${d.last_status ?? ''})` : `not delivered: ${d.last_error ?? d.state} — retrying` });
                await this.refresh();
              },
              err,
            ),
        );
        return h(
          'li',
          { 'data-hook': hk.name },
          h('strong', { class: 'mono' }, hk.name),
          ` ${hk.format}${hk.signed ? ', signed' : ''} → ${hk.host}; events: ${hk.events.length ? hk.events.join(', ') : 'all'} `,
          test,
          result,
          err,
        );
      }),
    );
    const rows = w.deliveries.slice(0, 15);
    const table = rows.length
      ? h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'table compact' },
            h('thead', {}, h('tr', {}, ...['When', 'Hook', 'Event', 'State', 'Attempts', 'Last answer'].map((t) => h('th', { scope: 'col' }, t)))),
            h(
              'tbody',
              {},
              ...rows.map((r) =>
                h(
                  'tr',
                  {},
                  h('td', {}, time(r.updated_at)),
                  h('td', { class: 'mono' }, r.hook),
                  h('td', {}, r.event),
                  h('td', {}, h('span', { class: `pill delivery-${r.state}` }, r.state)),
                  h('td', { class: 'num' }, String(r.attempts)),
                  h('td', { class: 'mono' }, r.last_status !== null ? String(r.last_status) : (r.last_error ?? '—')),
                ),
              ),
            ),
          ),
        )
      : emptyState('No deliveries yet');
    put(this.el, list, h('h3', {}, 'Recent deliveries'), table);
  }
}
