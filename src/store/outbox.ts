/**
 * The webhook outbox (issue 18): one row per delivery, written in the same
 * transaction as what caused it, so a restart loses none. The notifier
 * (runner/notify) claims due rows, sends them and records each attempt here
 * and in the audit log.
 */
import { dbOf } from './internal.js';
import { SYSTEM, type Store } from './store.js';

export type OutboxState = 'pending' | 'delivered' | 'failed';

export interface OutboxRow {
  id: number;
  hook: string;
  event: string;
  payload: string; // the Notification JSON; formatted and signed at each send
  state: OutboxState;
  attempts: number;
  next_at: number;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface AttemptResult {
  ok: boolean;
  status: number | null;
  error: string | null;
}

export class OutboxStore {
  constructor(private readonly store: Store) {}

  enqueue(hook: string, event: string, payload: string, at: number): number {
    const r = dbOf(this.store)
      .prepare(`INSERT INTO notify_outbox (hook, event, payload, state, next_at, created_at, updated_at) VALUES (?, ?, ?, 'pending', ?, ?, ?)`)
      .run(hook, event, payload, at, at, at);
    return Number(r.lastInsertRowid);
  }

  get(id: number): OutboxRow | null {
    return (dbOf(this.store).prepare('SELECT * FROM notify_outbox WHERE id = ?').get(id) as OutboxRow | undefined) ?? null;
  }

  due(now: number, limit: number): OutboxRow[] {
    return dbOf(this.store)
      .prepare(`SELECT * FROM notify_outbox WHERE state = 'pending' AND next_at <= ? ORDER BY next_at, id LIMIT ?`)
      .all(now, limit) as OutboxRow[];
  }

  /** When the next pending row is due, or null when none is pending. */
  nextDue(): number | null {
    const r = dbOf(this.store).prepare(`SELECT MIN(next_at) AS at FROM notify_outbox WHERE state = 'pending'`).get() as { at: number | null };
    return r.at;
  }

  /** One attempt's outcome and its audit record, together. `retryAt` null: no more attempts. */
  recordAttempt(row: OutboxRow, r: AttemptResult, retryAt: number | null, now: number): OutboxRow {
    const attempts = row.attempts + 1;
    const state: OutboxState = r.ok ? 'delivered' : retryAt === null ? 'failed' : 'pending';
    this.store.transaction(() => {
      dbOf(this.store)
        .prepare('UPDATE notify_outbox SET state = ?, attempts = ?, next_at = ?, last_status = ?, last_error = ?, updated_at = ? WHERE id = ?')
        .run(state, attempts, retryAt ?? row.next_at, r.status, r.error, now, row.id);
      this.store.appendAudit({
        ...SYSTEM,
        action: 'webhook.delivery',
        target: row.hook,
        detail: { delivery_id: row.id, event: row.event, attempt: attempts, state, status: r.status, error: r.error },
      });
    });
    return { ...row, state, attempts, next_at: retryAt ?? row.next_at, last_status: r.status, last_error: r.error, updated_at: now };
  }

  recent(limit: number): OutboxRow[] {
    return dbOf(this.store).prepare('SELECT * FROM notify_outbox ORDER BY id DESC LIMIT ?').all(limit) as OutboxRow[];
  }
}
