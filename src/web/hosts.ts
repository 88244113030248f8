/**
 * Several colony hosts on one PostgreSQL store (issue 19), in the admin
 * overview: each host's lease (live, expired, claimed by a live host), the
 * graphs it owns, and which one is this host. Hidden on SQLite (one host).
 * Leases expire with time, not with an event, so the card re-reads the list
 * every few seconds while the store is PostgreSQL.
 */
import { api } from './api.js';
import { ago, h, put } from './dom.js';
import type { Live } from './live.js';
import { section, showError } from './ui.js';
import type { HostView, HostsInfo } from './types.js';

const LEASE_PILL: Record<HostView['lease'], string> = { live: 'state-succeeded', expired: 'state-failed', claimed: 'state-cancelled' };
const REFRESH_MS = 5_000;

export class HostsView {
  /** Empty on SQLite; the Hosts card on PostgreSQL. */
  readonly el: HTMLElement = h('div', { class: 'hosts-slot' });
  /** Resolves once the first list is in: the task drawer needs this host's id to tell a foreign task. */
  readonly ready: Promise<void>;
  private info: HostsInfo | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly body = h('div', { class: 'table-wrap' });

  constructor(live: Live) {
    this.ready = this.refresh();
    live.onResync(() => void this.refresh());
  }

  /** This host's id on PostgreSQL; null on SQLite or before the first answer. */
  get thisHost(): string | null {
    return this.info?.this_host ?? null;
  }

  async refresh(): Promise<void> {
    try {
      this.info = await api.get<HostsInfo>('/admin/hosts');
    } catch (e) {
      showError(e, 'hosts');
      return;
    }
    if (this.info.backend !== 'postgres') {
      put(this.el);
      return;
    }
    if (!this.el.firstChild) {
      put(this.el, section('Hosts', { id: 'hosts', description: 'Colony hosts sharing this PostgreSQL store. Each runs only the graphs it owns.' }, this.body));
    }
    this.timer ??= setInterval(() => void this.refresh(), REFRESH_MS);
    this.render(this.info);
  }

  private render(info: HostsInfo): void {
    const now = Date.now();
    put(
      this.body,
      h(
        'table',
        { class: 'table compact hosts-table' },
        h('thead', {}, h('tr', {}, ...['Host', 'Machine', 'Lease', 'Graphs owned', 'Started'].map((c) => h('th', { scope: 'col' }, c)))),
        h(
          'tbody',
          {},
          ...info.hosts.map((r) =>
            h(
              'tr',
              { 'data-host': r.id },
              h('td', {}, h('code', {}, r.id), r.this_host ? h('span', { class: 'tag this-host' }, 'this host') : null),
              h('td', {}, `${r.hostname} (pid ${r.pid})`),
              h('td', {}, h('span', { class: `pill ${LEASE_PILL[r.lease]}` }, leaseText(r))),
              h('td', { class: 'num' }, String(r.graphs)),
              h('td', { title: new Date(r.started_at).toISOString() }, ago(r.started_at, now)),
            ),
          ),
        ),
      ),
    );
  }
}

function leaseText(r: HostView): string {
  if (r.lease === 'claimed') return `claimed by ${r.claimed_by ?? '?'}`;
  const s = Math.round(Math.abs(r.lease_left_ms) / 1000);
  return r.lease === 'live' ? `live (${s} s left)` : `expired ${s} s ago`;
}
