/**
 * The LISTEN side of several hosts (runs in the PostgreSQL worker thread, on
 * its own connection: the request connection is busy with statements and
 * transactions). Each notification is posted to the main thread as it comes;
 * a lost connection is reopened with a growing delay, LISTEN is issued again
 * and `resumed` is posted so the main thread catches up on what it missed
 * meanwhile (notifications are not queued for a listener that is away).
 */
import pg from 'pg';
import type { PgNotice } from './protocol.js';

export function startListener(url: string, connectTimeoutMs: number, channel: string, post: (n: PgNotice) => void): void {
  let delay = 100;
  let first = true;
  const open = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs, keepAlive: true });
    let retried = false;
    const retry = (): void => {
      if (retried) return;
      retried = true;
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
    delay = 100;
    if (!first) post({ kind: 'resumed' });
    first = false;
  };
  void open();
}
