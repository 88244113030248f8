/**
 * Bans the admin attaches to a revoked LAN session (issue 14, "revoke means
 * revoke"): the person may not come back with a new session from the same
 * browser (its device cookie) or address, nor pair workers again. Kinds:
 *   device   a device id (the user app's long-lived colony_device cookie)
 *   address  a client address: no new session from it
 *   pairing  an address or `device:<id>`: no pairing code, no enrolment
 */
import { dbOf } from './internal.js';
import type { Actor, Store } from './store.js';

export type BanKind = 'device' | 'address' | 'pairing';

export interface Ban {
  kind: BanKind;
  value: string;
  session_id: string | null;
  created_at: number;
  created_by: string;
}

export class BanStore {
  constructor(private readonly store: Store) {}

  /** Adds the bans (idempotent) and audits them as one record. */
  add(bans: Array<{ kind: BanKind; value: string }>, sessionId: string | null, now: number, who: Actor): void {
    if (bans.length === 0) return;
    this.store.transaction(() => {
      const ins = dbOf(this.store).prepare('INSERT OR IGNORE INTO bans (kind, value, session_id, created_at, created_by) VALUES (?, ?, ?, ?, ?)');
      for (const b of bans) ins.run(b.kind, b.value, sessionId, now, who.actor);
      this.store.appendAudit({ ...who, action: 'session.banned', target: sessionId, detail: { bans } });
    });
  }

  /** True when any of `values` is banned under `kind` (undefined values are skipped). */
  has(kind: BanKind, ...values: Array<string | null | undefined>): boolean {
    const q = dbOf(this.store).prepare('SELECT 1 FROM bans WHERE kind = ? AND value = ?');
    return values.some((v) => typeof v === 'string' && v !== '' && q.get(kind, v) !== undefined);
  }

  list(): Ban[] {
    return dbOf(this.store).prepare('SELECT * FROM bans ORDER BY created_at').all() as Ban[];
  }
}
