/**
 * The writes of a PostgreSQL transaction queued until the next read or the
 * commit (pg-db.ts), in order, each with a slot that receives its result once
 * the batch ran (read lazily: a `changes` or `lastInsertRowid` asked for).
 */
import type { BatchResult } from './protocol.js';

export interface Slot {
  result: BatchResult | null;
  queued: boolean;
}

export class WriteQueue {
  private items: { sql: string; params: unknown[]; slot: Slot }[] = [];
  private sent: Slot[] = [];

  get length(): number {
    return this.items.length;
  }

  push(sql: string, params: unknown[]): Slot {
    const slot: Slot = { result: null, queued: true };
    this.items.push({ sql, params, slot });
    return slot;
  }

  /** The queued statements, emptying the queue (their results come back through settle). */
  take(): { sql: string; params: unknown[] }[] {
    const items = this.items;
    this.items = [];
    this.sent = items.map((i) => ((i.slot.queued = false), i.slot));
    return items.map(({ sql, params }) => ({ sql, params }));
  }

  /** Drops the statements queued after the first `keep` (a savepoint rolled back before they were sent). */
  truncate(keep: number): void {
    for (const i of this.items.splice(keep)) i.slot.queued = false;
  }

  /** Results of the batch last taken, in order (a read sent after them is extra and ignored). */
  settle(results: readonly BatchResult[]): void {
    this.sent.forEach((slot, i) => (slot.result = results[i] ?? null));
    this.sent = [];
  }
}
