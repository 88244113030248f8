import type { MessagePort } from 'node:worker_threads';

/** Messages between the PostgreSQL port (main thread, blocking) and its worker thread (node-postgres). */
export type PgRequest =
  | { id: number; op: 'query'; sql: string; params: unknown[]; session: number | null }
  | { id: number; op: 'exec'; sql: string; session: number | null }
  /**
   * Statements run back to back, stopping at the first error: `script`, one simple query (batch.ts, made on the main
   * thread: one string crosses the thread boundary), its results one per statement; or else `items` one by one.
   */
  | { id: number; op: 'batch'; script: string | null; items: { sql: string; params: unknown[] }[]; session: number | null }
  | { id: number; op: 'end' };

export type PgResponse =
  | { id: number; ok: true; rows: Record<string, unknown>[]; rowCount: number; session: number; results?: BatchResult[] }
  /** `unavailable`: the connection is down or was lost (retry later); otherwise the statement failed. */
  | { id: number; ok: false; unavailable: boolean; message: string; sqlstate: string | null };

export interface PgWorkerData {
  url: string;
  flag: SharedArrayBuffer;
  /** Requests in, answers out (the main thread reads answers with receiveMessageOnPort). */
  port: MessagePort;
  connectTimeoutMs: number;
  /** The server ends a session idle inside a transaction this long (a partitioned host's write lock must not outlive it). */
  idleTxMs: number;
  /** LISTEN on this channel on a second connection (store/pg/listener.ts); null: none. */
  listen: string | null;
  /** Where the listener posts notifications (async messages to the main thread). */
  notices: MessagePort;
  /** The lease slot (lease-slot.ts): the listener notes each acknowledged renewal's send time there. */
  lease: SharedArrayBuffer;
}

/**
 * Listener → main thread: a notification's payload, `resumed` after the listener reconnected (catch up),
 * `fenced` when the heartbeat found this host's row claimed by another host.
 */
export type PgNotice = { kind: 'notify'; payload: string } | { kind: 'resumed' } | { kind: 'fenced'; by: string };

/** Main thread → listener: renew this host's lease every `everyMs` on the listener's connection (not blocked by the main thread). */
export interface PgBeat {
  kind: 'beat';
  hostId: string;
  leaseMs: number;
  everyMs: number;
}

export interface BatchResult {
  rows: Record<string, unknown>[];
  rowCount: number;
}
