/**
 * Worker cards on the live bus, folded (issue 17): a pool slot's card changes
 * at least twice per task (start, release), and each change was a log row —
 * two of a local task's eight. Only the newest card of each worker is worth
 * storing, so a changed card waits up to FOLD_MS and then goes out, once per
 * worker, in a group commit: at most one row per worker per FOLD_MS whatever
 * the task rate (the remote host already publishes its cards every 250 ms).
 * A card the store refuses is only a stale card (the dashboards also read
 * cards from the APIs when they resync).
 */
import type { WorkerCard } from '../core/live-types.js';
import type { StoreBackend } from '../store/backend.js';

/** How long a changed card may wait for later changes of the same worker. */
export const FOLD_MS = 50;

export class CardFold {
  private readonly latest = new Map<string, WorkerCard>();

  constructor(private readonly store: Pick<StoreBackend, 'grouped' | 'publish'>) {}

  add(card: WorkerCard): void {
    const first = this.latest.size === 0;
    this.latest.set(card.id, card);
    if (first) setTimeout(() => this.store.grouped(() => this.flush()).catch(() => undefined), FOLD_MS).unref();
  }

  private flush(): void {
    const cards = [...this.latest.values()];
    this.latest.clear();
    for (const c of cards) this.store.publish('worker', c.owner, { ...c });
  }
}
