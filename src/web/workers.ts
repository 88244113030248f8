/**
 * Worker cards (seed §2.5): id, engine / model, status, current task, session
 * cost (4 decimals), tokens used, origin IP; remote workers carry their owner.
 * A snapshot is loaded once, then every `worker` event patches its card in place.
 */
import { engineModel, h, num, put, str, tokens, usd } from './dom.js';
import type { Live } from './live.js';
import { confirmDialog, showError } from './ui.js';
import type { WorkerCard } from './types.js';

export interface WorkerBoardOptions {
  live: Live;
  load: () => Promise<WorkerCard[]>;
  /** Admin only: revoke a remote worker's key. */
  revoke?: (w: WorkerCard) => Promise<void>;
  empty: () => HTMLElement;
  onTaskClick?: (taskId: string) => void;
  /** Which live `worker` events belong on this board (default: all). */
  accept?: (w: WorkerCard, known: boolean) => boolean;
  /** Called with every card after the board changed (a load or a live event). */
  onChange?: (cards: WorkerCard[]) => void;
}

interface Card {
  root: HTMLElement;
  view: WorkerCard;
}

export class WorkerBoard {
  readonly el: HTMLElement;
  readonly summary: HTMLElement;
  private readonly grid: HTMLElement;
  private readonly cards = new Map<string, Card>();

  constructor(private readonly o: WorkerBoardOptions) {
    this.grid = h('div', { class: 'worker-grid', role: 'list' });
    this.summary = h('span', { class: 'muted worker-summary' });
    this.el = h('div', { class: 'workers' }, this.grid);
    o.live.on('worker', (e) => {
      const w = toWorker(e.data);
      if (w && (!o.accept || o.accept(w, this.cards.has(w.id)))) this.apply(w);
    });
    o.live.onResync(() => void this.refresh());
  }

  async refresh(): Promise<void> {
    try {
      const list = await this.o.load();
      for (const w of list) this.apply(w);
      const ids = new Set(list.map((w) => w.id));
      for (const [id, c] of this.cards) if (!ids.has(id)) (c.root.remove(), this.cards.delete(id));
      this.renderEmpty();
      this.o.onChange?.([...this.cards.values()].map((c) => c.view));
    } catch (e) {
      showError(e, 'workers');
    }
  }

  private apply(w: WorkerCard | null): void {
    if (!w) return;
    let card = this.cards.get(w.id);
    if (!card) {
      card = { root: h('article', { class: 'worker-card', role: 'listitem', 'data-worker-id': w.id }), view: w };
      this.cards.set(w.id, card);
      this.grid.append(card.root);
      this.sort();
    }
    card.view = { ...card.view, ...w };
    this.render(card);
    this.renderEmpty();
    this.o.onChange?.([...this.cards.values()].map((c) => c.view));
  }

  private sort(): void {
    const sorted = [...this.cards.values()].sort(
      (a, b) => a.view.kind.localeCompare(b.view.kind) || a.view.id.localeCompare(b.view.id, undefined, { numeric: true }),
    );
    for (const c of sorted) this.grid.append(c.root);
  }

  private renderEmpty(): void {
    const empty = this.grid.querySelector(':scope > .empty');
    if (this.cards.size === 0 && !empty) this.grid.append(this.o.empty());
    if (this.cards.size > 0) empty?.remove();
    // A list with no listitem is an ARIA error (axe aria-required-children): the empty state is not a list.
    if (this.cards.size > 0) this.grid.setAttribute('role', 'list');
    else this.grid.removeAttribute('role');
    const busyCount = [...this.cards.values()].filter((c) => c.view.status === 'running').length;
    this.summary.textContent = this.cards.size ? `${this.cards.size} worker${this.cards.size === 1 ? '' : 's'} · ${busyCount} busy` : '';
  }

  private render(card: Card): void {
    const w = card.view;
    const status = w.kind === 'remote' && w.connected === false ? 'offline' : w.status;
    card.root.className = `worker-card status-${status}${w.kind === 'remote' ? ' remote' : ''}`;
    const owner = w.owner_name ?? w.owner;
    const task = w.task_id
      ? this.o.onTaskClick && !w.redacted
        ? h('button', { type: 'button', class: 'link', onclick: () => this.o.onTaskClick?.(w.task_id as string), title: w.task_id }, w.task_title ?? w.task_id)
        : h('span', { title: w.task_id }, w.task_title ?? (w.redacted ? 'another user’s task' : w.task_id))
      : h('span', { class: 'muted' }, 'no task');
    put(
      card.root,
      h(
        'header',
        { class: 'worker-head' },
        h('div', { class: 'worker-title' }, h('span', { class: 'status-dot', 'aria-hidden': 'true' }), h('h3', { class: 'worker-id' }, w.id)),
        h('span', { class: `pill worker-status status-${status}` }, status),
      ),
      w.kind === 'remote'
        ? h(
            'p',
            { class: 'worker-owner' },
            h('span', { class: 'tag' }, 'remote'),
            // Another visitor's machine: whose it is stays private unless the admin shares owners.
            owner && owner !== 'other' ? [' owned by ', h('strong', {}, owner)] : ' someone else’s machine',
          )
        : null,
      h(
        'dl',
        { class: 'worker-facts' },
        // The engine of the task it runs: an idle worker runs none (the last one it ran is history, not state).
        fact('Engine / model', h('span', { class: 'worker-engine mono' }, w.task_id ? engineModel(w.engine, w.model) : '—')),
        fact('Current task', h('span', { class: 'worker-task' }, task)),
        fact('Session cost', h('span', { class: 'worker-cost mono' }, usd(w.session_cost_usd))),
        fact('Tokens used', h('span', { class: 'worker-tokens mono' }, tokens(w.tokens_used))),
        fact('Origin IP', h('span', { class: 'worker-ip mono' }, w.origin_ip || '—')),
        w.engines ? fact('Engines', h('span', { class: 'worker-engines mono' }, w.engines.join(', ') || '—')) : null,
      ),
      w.kind === 'remote' && this.o.revoke
        ? h(
            'div',
            { class: 'worker-actions' },
            h('button', { type: 'button', class: 'btn btn-small btn-danger-outline', onclick: () => void this.revoke(w) }, 'Revoke key'),
          )
        : null,
    );
  }

  private async revoke(w: WorkerCard): Promise<void> {
    const ok = await confirmDialog({
      title: `Revoke worker ${w.id}?`,
      body: `Its key stops working at once: the worker is disconnected and its running task is requeued. ${w.owner_name ?? w.owner ?? 'The owner'} must pair again to reconnect.`,
      confirm: 'Revoke',
      danger: true,
    });
    if (!ok) return;
    try {
      await this.o.revoke?.(w);
      await this.refresh();
    } catch (e) {
      showError(e, `revoke ${w.id}`);
    }
  }
}

function fact(label: string, value: HTMLElement): HTMLElement {
  return h('div', { class: 'fact' }, h('dt', {}, label), h('dd', {}, value));
}

/** A `worker` event payload as a WorkerCard (its `id`/`kind` are the worker's, not the event's). */
function toWorker(d: Record<string, unknown>): WorkerCard | null {
  const id = str(d['id']);
  if (!id) return null;
  const w: WorkerCard = {
    id,
    kind: d['kind'] === 'remote' ? 'remote' : 'local',
    status: str(d['status']) ?? 'idle',
    task_id: str(d['task_id']),
    task_title: str(d['task_title']),
    owner: str(d['owner']),
    owner_name: 'owner_name' in d ? str(d['owner_name']) : undefined,
    engine: str(d['engine']),
    model: str(d['model']),
    session_cost_usd: num(d['session_cost_usd']) ?? 0,
    tokens_used: num(d['tokens_used']) ?? 0,
    origin_ip: str(d['origin_ip']),
    connected: typeof d['connected'] === 'boolean' ? d['connected'] : undefined,
    redacted: d['redacted'] === true,
    name: str(d['name']) ?? undefined,
    engines: Array.isArray(d['engines']) ? d['engines'].filter((e): e is string => typeof e === 'string') : undefined,
  };
  for (const k of Object.keys(w) as (keyof WorkerCard)[]) if (w[k] === undefined) delete w[k];
  return w;
}
