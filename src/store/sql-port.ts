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
}
