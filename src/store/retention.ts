/**
 * Retention (issue 14): old live events and old task output are deleted by a
 * periodic prune, so a long-running host's database does not grow without
 * bound. The audit log is never pruned (it is the hash chain). Kept here:
 * only src/store talks SQL.
 */
import { dbOf } from './internal.js';
import type { Store } from './store.js';

export interface RetentionPolicy {
  events_days: number | null;
  output_days: number | null;
}

const DAY_MS = 86_400_000;

/**
 * Deletes events and output rows older than the policy allows; returns how many rows went.
 * A log row that is also an audit record stays (the chain is never pruned): only its event
 * part is cleared, which the hash does not cover.
 */
export function pruneOld(store: Store, policy: RetentionPolicy, now: number): { events: number; output: number } {
  const db = dbOf(store);
  const events = (days: number | null): number => {
    if (days === null) return 0;
    const cut = now - days * DAY_MS;
    const gone = db.prepare('DELETE FROM log WHERE at < ? AND audit_id IS NULL').run(cut).changes;
    const cleared = db
      .prepare('UPDATE log SET kind = NULL, task_id = NULL, owner = NULL, data = NULL WHERE at < ? AND audit_id IS NOT NULL AND kind IS NOT NULL')
      .run(cut).changes;
    return gone + cleared;
  };
  const output = (days: number | null): number => (days === null ? 0 : db.prepare('DELETE FROM task_output WHERE at < ?').run(now - days * DAY_MS).changes);
  return store.transaction(() => ({ events: events(policy.events_days), output: output(policy.output_days) }));
}
