/**
 * The LISTEN side of several hosts (runs in the PostgreSQL worker thread, on
 * its own connection: the request connection is busy with statements and
 * transactions). Each notification is posted to the main thread as it comes;
 * a lost connection is reopened with a growing delay, LISTEN is issued again
 * and `resumed` is posted so the main thread catches up on what it missed
 * meanwhile (notifications are not queued for a listener that is away).
 *
 * The same connection renews the host's lease once asked (`beat`): the main
 * thread blocks on long synchronous work (a big submission is thousands of
 * statements), which must not make a live host look dead. A renewal that
 * finds the row claimed tells the main thread (`fenced`); each one acknowledged
 * is noted in the lease slot (lease-slot.ts) for the self-fence check.
 */
import type { MessagePort } from 'node:worker_threads';
import pg from 'pg';
import { isFencedSlot, noteRenewal, type LeaseSlot } from './lease-slot.js';
import type { PgBeat, PgNotice } from './protocol.js';

const DB_NOW = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

export function startListener(url: string, connectTimeoutMs: number, channel: string, port: MessagePort, slot: LeaseSlot): void {
  const post = (n: PgNotice): void => port.postMessage(n);
  let delay = 100;
  let first = true;
  let client: pg.Client | null = null;
  let beat: PgBeat | null = null;
  let timer: NodeJS.Timeout | null = null;
  let fenced = false;

  const renew = async (): Promise<void> => {
    const c = client;
    // A host that fenced itself stops renewing: its lease runs out and another host takes its graphs.
    if (!c || !beat || fenced || isFencedSlot(slot)) return;
    // Counted from the send: the database's expiry runs from when it ran the statement, never earlier.
    const sent = process.hrtime.bigint();
    try {
      const r = await c.query(`UPDATE hosts SET lease_until = ${DB_NOW} + $1::bigint WHERE id = $2 AND claimed_by IS NULL AND lease_until > 0 RETURNING id`, [
        beat.leaseMs,
        beat.hostId,
      ]);
      if (r.rowCount !== 0) noteRenewal(slot, sent);
      else {
        const by = await c.query<{ claimed_by: string | null }>('SELECT claimed_by FROM hosts WHERE id = $1', [beat.hostId]);
        // Released by a clean stop (cluster.ts release): stop renewing, fence nothing.
        if (by.rows[0] !== undefined && by.rows[0].claimed_by === null) {
          beat = null;
          return;
        }
        fenced = true;
        post({ kind: 'fenced', by: by.rows[0]?.claimed_by ?? 'another host' });
      }
    } catch {
      // the connection is down: reconnecting renews at the next tick
    }
  };

  port.on('message', (m: PgBeat) => {
    if (m.kind !== 'beat') return;
    beat = m;
    if (timer) clearInterval(timer);
    timer = setInterval(() => void renew(), m.everyMs);
    timer.unref();
  });

  const open = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs, keepAlive: true });
    let retried = false;
    const retry = (): void => {
      if (retried) return;
      retried = true;
      if (client === c) client = null;
      void c.end().catch(() => undefined);
      setTimeout(() => void open(), delay);
      delay = Math.min(delay * 2, 2_000);
    };
    c.on('error', retry);
    c.on('end', retry);
    c.on('notification', (m) => post({ kind: 'notify', payload: m.payload ?? '' }));
    try {
      await c.connect();
      await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    } catch {
      retry();
      return;
    }
    client = c;
    delay = 100;
    if (!first) post({ kind: 'resumed' });
    first = false;
  };
  void open();
}
