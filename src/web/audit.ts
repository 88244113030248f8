/**
 * The audit log: newest first, filters (action prefix with `*`, actor,
 * target), "load older" paging by id, and the hash chain's verify status.
 * Records are not live events: "Apply" (re)loads with the current filters.
 */
import { api, withQuery } from './api.js';
import { h, put, time } from './dom.js';
import { busy, emptyState, errorBox, field, section } from './ui.js';
import type { AuditView as AuditRecord, ChainCheck } from './types.js';

const PAGE = 100;

export class AuditView {
  readonly el: HTMLElement;
  private readonly body: HTMLTableSectionElement;
  private readonly verify: HTMLElement;
  private readonly more: HTMLButtonElement;
  private readonly err = errorBox();
  private readonly action: HTMLInputElement;
  private readonly actor: HTMLInputElement;
  private readonly target: HTMLInputElement;
  private next: number | null = null;
  private loaded = false;

  constructor() {
    this.action = h('input', { type: 'search', placeholder: 'e.g. killswitch.* or task.transition', list: 'audit-actions' });
    this.actor = h('input', { type: 'search', placeholder: 'admin, system, session:…' });
    this.target = h('input', { type: 'search', placeholder: 'task id, graph id…' });
    this.verify = h('div', { class: 'verify', role: 'status', 'aria-live': 'polite' });
    this.body = h('tbody');
    this.more = h('button', { type: 'button', class: 'btn', hidden: true }, 'Load older');
    this.more.addEventListener('click', () => void busy(this.more, () => this.load(false), this.err));
    const verifyBtn = h('button', { type: 'button', class: 'btn btn-small' }, 'Verify chain');
    verifyBtn.addEventListener('click', () => void busy(verifyBtn, () => this.checkChain(), this.err));
    const filters = h(
      'form',
      { class: 'filters', role: 'search' },
      h(
        'datalist',
        { id: 'audit-actions' },
        ...['task.transition', 'graph.submitted', 'attempt.finished', 'killswitch.*', 'admin.*', 'session.*', 'lan.*'].map((a) => h('option', { value: a })),
      ),
      field('Action', this.action),
      field('Actor', this.actor),
      field('Target', this.target),
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Apply'),
    );
    filters.addEventListener('submit', (e) => {
      e.preventDefault();
      void busy(null, () => this.load(true), this.err);
    });
    this.el = section(
      'Audit log',
      {
        id: 'audit',
        actions: [verifyBtn],
        description: 'Append-only and hash-chained: editing, deleting or reordering a record breaks the chain from that record on.',
      },
      this.verify,
      filters,
      this.err,
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'table audit-table' },
          h('thead', {}, h('tr', {}, ...['#', 'Time', 'Actor', 'Origin', 'Action', 'Target', 'Detail'].map((c) => h('th', { scope: 'col' }, c)))),
          this.body,
        ),
      ),
      h('div', { class: 'form-actions' }, this.more),
    );
  }

  ensureLoaded(): void {
    if (this.loaded) return;
    this.loaded = true;
    void busy(
      null,
      async () => {
        await Promise.all([this.load(true), this.checkChain()]);
      },
      this.err,
    );
  }

  private async checkChain(): Promise<void> {
    const r = await api.get<ChainCheck>('/admin/audit/verify');
    put(
      this.verify,
      r.ok
        ? h('span', { class: 'verify-ok' }, '✓ Chain intact', h('span', { class: 'muted' }, ` · ${r.count} records · last hash ${r.last_hash.slice(0, 12)}…`))
        : h(
            'span',
            { class: 'verify-bad' },
            `✗ Chain broken at record #${r.broken_id}: ${r.reason}`,
            h('span', { class: 'muted' }, ` (${r.count} records verified before it)`),
          ),
    );
  }

  private async load(reset: boolean): Promise<void> {
    const q = {
      action: this.action.value.trim(),
      actor: this.actor.value.trim(),
      target: this.target.value.trim(),
      limit: PAGE,
      before_id: reset ? null : this.next,
    };
    const r = await api.get<{ records: AuditRecord[]; next_before_id: number | null }>(withQuery('/admin/audit', q));
    if (reset) this.body.replaceChildren();
    for (const rec of r.records) this.body.append(row(rec));
    if (reset && r.records.length === 0) this.body.append(h('tr', {}, h('td', { colspan: '7' }, emptyState('No audit record matches these filters.'))));
    this.next = r.next_before_id;
    this.more.hidden = this.next === null;
  }
}

function row(r: AuditRecord): HTMLElement {
  const detail = r.detail === null || r.detail === undefined ? '' : JSON.stringify(r.detail);
  return h(
    'tr',
    {},
    h('td', { class: 'mono muted' }, String(r.id)),
    h('td', { class: 'nowrap' }, time(r.at)),
    h('td', { class: 'mono' }, r.actor),
    h('td', { class: 'mono' }, r.origin),
    h('td', { class: 'mono' }, h('span', { class: `tag action-${r.action.split('.')[0] ?? ''}` }, r.action)),
    h('td', { class: 'mono small' }, r.target ?? ''),
    h('td', { class: 'mono small detail-cell', title: detail }, detail.length > 160 ? detail.slice(0, 159) + '…' : detail),
  );
}
