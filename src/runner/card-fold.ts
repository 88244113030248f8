/**
 * Worker cards on the live bus, folded per group commit (issue 17): a slot's
 * card changes at least twice per task (start, release), and each was a log
 * row. Only the newest card of each worker is worth storing, so cards wait
 * for the next group commit and go out once per worker there. A card the
 * store refuses is only a stale card (the dashboards also read cards live).
 */
import type { WorkerCard } from '../core/live-types.js';
import type { Store } from '../store/store.js';

export class CardFold {
  private readonly latest = new Map<string, WorkerCard>();

  constructor(private readonly store: Pick<Store, 'grouped' | 'publish'>) {}

  add(card: WorkerCard): void {
    const first = this.latest.size === 0;
    this.latest.set(card.id, card);
    if (first) this.store.grouped(() => this.flush()).catch(() => undefined);
  }

  private flush(): void {
    const cards = [...this.latest.values()];
    this.latest.clear();
    for (const c of cards) this.store.publish('worker', c.owner, { ...c });
  }
}
