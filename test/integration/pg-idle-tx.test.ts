/**
 * A host cut off from PostgreSQL in the middle of a transaction must not hold
 * its locks (the one write lock of several hosts) until TCP gives up, hours
 * later: the server ends a session idle inside a transaction after the
 * store's call timeout. Real server, the store's real worker connection
 * through a TCP proxy the test black-holes; the lock's holder is watched from
 * a second, direct connection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPgDb } from '../../src/store/pg/open.js';
import type { PgDb } from '../../src/store/pg/pg-db.js';
import { pgMissing, pgQuery, startPg, type PgCluster } from '../helpers/pg.js';
import { waitFor } from '../helpers/proc.js';
import { startTcpProxyProcess, type TcpProxy } from '../helpers/tcp-proxy.js';

const missing = pgMissing();
const LOCK = 4242;
let pgc: PgCluster | null = null;
let proxy: TcpProxy | null = null;
let url = '';
let db: PgDb | null = null;

beforeAll(async () => {
  if (missing) return;
  pgc = await startPg();
  url = await pgc.createDatabase('idle_tx');
  proxy = await startTcpProxyProcess(pgc.port);
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  try {
    db?.close();
  } catch {
    // its connection was cut on purpose
  }
  pgc?.destroy();
});

async function lockHolders(): Promise<number> {
  const rows = await pgQuery<{ n: number }>(url, `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted`, [LOCK]);
  return rows[0]?.n ?? 0;
}

describe.skipIf(missing)('a store partitioned inside a transaction', () => {
  it('loses its session and its locks after the call timeout, so other hosts can write again', async () => {
    const via = url.replace(`:${pgc?.port}/`, `:${proxy?.port}/`);
    expect(via).not.toBe(url);
    db = openPgDb(via, [], 1_500);
    db.exec(`BEGIN; SELECT pg_advisory_xact_lock(${LOCK})`);
    expect(await lockHolders()).toBe(1);
    // Healthy, a transaction idle for less than the timeout keeps its lock.
    await new Promise((r) => setTimeout(r, 500));
    expect(await lockHolders()).toBe(1);
    await proxy?.partition();
    await waitFor(async () => (await lockHolders()) === 0, 'the cut-off session to lose its lock', 20_000);
    // The lock is free for anyone: a direct session takes it at once.
    const rows = await pgQuery<{ ok: boolean }>(url, `SELECT pg_try_advisory_lock(${LOCK}) AS ok`);
    expect(rows[0]?.ok).toBe(true);
  }, 60_000);
});
