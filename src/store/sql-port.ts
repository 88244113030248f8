/**
 * The narrow synchronous SQL port the store files use: the part of
 * better-sqlite3's API they call. better-sqlite3 satisfies it as it is; the
 * PostgreSQL backend (store/pg) implements it over node-postgres in a worker
 * thread, so one store code base runs on both databases.
 */
export interface SqlRunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

export interface SqlStatement {
  run(...params: unknown[]): SqlRunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  iterate(...params: unknown[]): IterableIterator<unknown>;
  /** Rows become their first column's value. */
  pluck(toggle?: boolean): this;
  /**
   * A write whose result is not read but that must change a row (backends
   * that defer writes only: see `SqlDb.deferWrites`). Deferred, a write that
   * changed none fails the whole batch (DeferredBatchFailed); run at once, it
   * throws `none()`.
   */
  runChecked?(none: () => Error, ...params: unknown[]): void;
}

/**
 * Thrown by a backend that deferred writes when the batch they were sent in
 * failed (a statement's error, or a checked write that changed no row): the
 * transaction was rolled back; the caller replays it step by step
 * (deferWrites off), where each error surfaces at its own statement.
 */
export class DeferredBatchFailed extends Error {
  constructor(readonly reason: string) {
    super(`deferred writes failed: ${reason}`);
  }
}

export type ArgumentTypes<F> = F extends (...args: infer A) => unknown ? A : never;

export interface SqlDb {
  prepare(sql: string): SqlStatement;
  /** A function running fn in a transaction (a savepoint when already in one). */
  transaction<F extends (...args: never[]) => unknown>(fn: F): (...args: ArgumentTypes<F>) => ReturnType<F>;
  exec(sql: string): unknown;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  close(): unknown;
  readonly open: boolean;
  readonly inTransaction: boolean;
  /**
   * Present on backends where each statement is a network round trip
   * (PostgreSQL): while true, writes run in a transaction are queued and sent
   * in one message with the next read or the commit. Set only around
   * transactions that can be replayed (see DeferredBatchFailed).
   */
  deferWrites?: boolean;
}
