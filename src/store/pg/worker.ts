/**
 * The worker thread of the PostgreSQL port: owns one node-postgres connection,
 * runs each request and wakes the blocked main thread (Atomics.notify on the
 * shared flag, after posting the answer). A lost connection is dropped and
 * reopened at the next request; a request bound to a session (a transaction
 * begun on an earlier connection) fails instead of running on a new one.
 */
import { workerData } from 'node:worker_threads';
import pg from 'pg';
import { runBatch } from './batch.js';
import { startListener } from './listener.js';
import type { PgRequest, PgResponse, PgWorkerData } from './protocol.js';

const data = workerData as PgWorkerData;
const flag = new Int32Array(data.flag);
const password = passwordOf(data.url);

// BIGINT (ids, ms timestamps, counts) and NUMERIC (SUM of integers) as numbers, like SQLite gives them.
pg.types.setTypeParser(20, (v) => Number(v));
pg.types.setTypeParser(1700, (v) => Number(v));

let client: pg.Client | null = null;
let connecting: Promise<pg.Client> | null = null;
let session = 0;

async function connection(): Promise<pg.Client> {
  if (client) return client;
  if (connecting) return connecting;
  connecting = (async () => {
    // A host cut off mid-transaction would hold the write lock until TCP gave up (hours): the server ends
    // such a session once it has been idle in its transaction as long as the main thread waits for any call.
    const c = new pg.Client({
      connectionString: data.url,
      connectionTimeoutMillis: data.connectTimeoutMs,
      keepAlive: true,
      options: `-c idle_in_transaction_session_timeout=${data.idleTxMs}`,
    });
    // Without a listener an idle connection's error would crash the thread; the next request reconnects.
    c.on('error', () => drop(c));
    c.on('end', () => drop(c));
    try {
      await c.connect();
    } catch (e) {
      void c.end().catch(() => undefined);
      throw e;
    }
    session += 1;
    client = c;
    return c;
  })();
  try {
    return await connecting;
  } finally {
    connecting = null;
  }
}

function drop(c: pg.Client): void {
  if (client === c) client = null;
  void c.end().catch(() => undefined);
}

async function handle(req: PgRequest): Promise<PgResponse> {
  if (req.op === 'end') {
    if (client) await client.end().catch(() => undefined);
    client = null;
    return { id: req.id, ok: true, rows: [], rowCount: 0, session };
  }
  // A transaction lives on one connection: never carry on with it on another.
  if (req.session !== null && (client === null || req.session !== session))
    return failure(req.id, new Error('the connection of this transaction was lost'), true);
  let c: pg.Client;
  try {
    c = await connection();
  } catch (e) {
    return failure(req.id, e, true);
  }
  try {
    if (req.op === 'batch') {
      const results = await runBatch(c, req.script, req.items);
      const last = results[results.length - 1];
      return { id: req.id, ok: true, rows: last?.rows ?? [], rowCount: last?.rowCount ?? 0, session, results };
    }
    const r = req.op === 'query' ? await c.query({ text: req.sql, values: req.params }) : await c.query(req.sql);
    const last = Array.isArray(r) ? (r[r.length - 1] as pg.QueryResult | undefined) : r;
    return { id: req.id, ok: true, rows: (last?.rows ?? []) as Record<string, unknown>[], rowCount: last?.rowCount ?? 0, session };
  } catch (e) {
    const lost = isConnectionError(e);
    if (lost) drop(c);
    return failure(req.id, e, lost);
  }
}

/** No SQLSTATE (socket errors), class 08 (connection exception), 57P0x (shutdown), 53300 (too many connections). */
function isConnectionError(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true;
  return code.startsWith('08') || code.startsWith('57P') || code === '53300';
}

function failure(id: number, e: unknown, unavailable: boolean): PgResponse {
  const err = e as { message?: unknown; code?: unknown };
  let message = typeof err.message === 'string' ? err.message : String(e);
  if (password) message = message.split(password).join('***'); // node-postgres errors may carry connection settings
  const sqlstate = typeof err.code === 'string' && /^[0-9A-Z]{5}$/.test(err.code) ? err.code : null;
  return { id, ok: false, unavailable, message, sqlstate };
}

function passwordOf(url: string): string {
  try {
    return decodeURIComponent(new URL(url).password);
  } catch {
    return '';
  }
}

if (data.listen !== null) startListener(data.url, data.connectTimeoutMs, data.listen, data.notices, data.lease);

const port = data.port;
let chain: Promise<void> = Promise.resolve();
port.on('message', (req: PgRequest) => {
  // One request at a time, in order (the main thread waits for each anyway).
  chain = chain.then(async () => {
    const res = await handle(req);
    port.postMessage(res);
    Atomics.add(flag, 0, 1);
    Atomics.notify(flag, 0);
  });
});
