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

/** Deletes events and output rows older than the policy allows; returns how many rows went. */
export function pruneOld(store: Store, policy: RetentionPolicy, now: number): { events: number; output: number } {
  const del = (table: 'events' | 'task_output', days: number | null): number =>
    days === null
      ? 0
      : dbOf(store)
          .prepare(`DELETE FROM ${table} WHERE at < ?`)
          .run(now - days * DAY_MS).changes;
  return store.transaction(() => ({ events: del('events', policy.events_days), output: del('task_output', policy.output_days) }));
}
