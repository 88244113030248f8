/**
 * The synchronous SQL port (sql-port.ts) over PostgreSQL: statements are
 * translated from the store's SQLite SQL once (translate.ts) and run through
 * the blocking worker client; transactions are BEGIN/COMMIT on one
 * connection, nested ones savepoints. Pragmas mean nothing here and are ignored.
 */
import { ColonyError } from '../../core/errors.js';
import type { ArgumentTypes, SqlDb, SqlRunResult, SqlStatement } from '../sql-port.js';
import type { PgBeat, PgNotice } from './protocol.js';
import { PgSyncClient } from './sync-client.js';
import { translate, type SchemaFacts, type Translated } from './translate.js';

type Row = Record<string, unknown>;

/**
 * Statements of several hosts on one database (store/cluster.ts) around each
 * top-level transaction: `prologue` runs right after BEGIN (in the same round
 * trip) and its last row goes to `opened`, which may throw to refuse the
 * transaction; `closing()` gives SQL to run right before COMMIT (same round trip), or null.
 */
export interface TxHooks {
  prologue: string;
  opened(row: Row | undefined): void;
  closing(): string | null;
}

export class PgDb implements SqlDb {
  private readonly client: PgSyncClient;
  private depth = 0;
  /** The connection a transaction began on (its statements must not run on another). */
  private session: number | null = null;
  private closed = false;
  private facts: { identity: Set<string>; keys: Map<string, string[]> } | null = null;
  private readonly cache = new Map<string, Translated>();

  /** Set by store/cluster.ts on a host's store; null: plain BEGIN/COMMIT. */
  hooks: TxHooks | null = null;

  /** `listen`: a channel the worker LISTENs on (its notifications reach `onNotify`); null: none. */
  constructor(url: string, timeoutMs?: number, listen: string | null = null) {
    this.client = new PgSyncClient(url, timeoutMs, undefined, listen);
  }

  /** The listener's notices (asynchronously, on the main thread): notifications on the `listen` channel, reconnects, a lost lease. */
  onNotice(fn: (n: PgNotice) => void): void {
    this.client.onNotice(fn);
  }

  /** Renew a host's lease from the worker thread (store/cluster.ts), on the listener's connection. */
  beat(b: Omit<PgBeat, 'kind'>): void {
    this.client.beat({ kind: 'beat', ...b });
  }

  get open(): boolean {
    return !this.closed;
  }

  get inTransaction(): boolean {
    return this.depth > 0;
  }

  prepare(sql: string): SqlStatement {
    return new PgStatement(this, sql);
  }

  transaction<F extends (...args: never[]) => unknown>(fn: F): (...args: ArgumentTypes<F>) => ReturnType<F> {
    return (...args: ArgumentTypes<F>): ReturnType<F> => {
      const level = this.depth;
      this.begin(level);
      this.depth = level + 1;
      let result: ReturnType<F>;
      try {
        result = fn(...args) as ReturnType<F>;
      } catch (e) {
        this.depth = level;
        this.abort(level);
        throw e;
      }
      try {
        if (level === 0) this.commit();
        else this.raw(`RELEASE SAVEPOINT sp${level}`);
      } catch (e) {
        this.depth = level;
        this.abort(level);
        throw e;
      } finally {
        this.depth = level;
        if (level === 0) this.session = null;
      }
      return result;
    };
  }

  exec(sql: string): void {
    this.client.call({ op: 'exec', sql, session: this.session });
    this.facts = null; // DDL may have added tables
  }

  pragma(): unknown {
    return undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.end();
  }

  /** Runs one translated statement. */
  query(sql: string, params: unknown[]): { rows: Row[]; rowCount: number } {
    if (this.closed) throw new ColonyError('E_STORE', 'the database connection is closed');
    const r = this.client.call({ op: 'query', sql, params, session: this.session });
    return { rows: r.rows, rowCount: r.rowCount };
  }

  translated(sql: string): Translated {
    let t = this.cache.get(sql);
    if (!t) this.cache.set(sql, (t = translate(sql, this.schemaFacts())));
    return t;
  }

  private raw(sql: string): number {
    return this.client.call({ op: 'query', sql, params: [], session: this.session }).session;
  }

  private begin(level: number): void {
    if (level > 0) return void this.raw(`SAVEPOINT sp${level}`);
    const hooks = this.hooks;
    if (!hooks) return void (this.session = this.client.call({ op: 'query', sql: 'BEGIN', params: [], session: null }).session);
    const r = this.client.call({ op: 'exec', sql: `BEGIN; ${hooks.prologue}`, session: null });
    this.session = r.session;
    try {
      hooks.opened(r.rows[0]);
    } catch (e) {
      this.abort(0);
      throw e;
    }
  }

  private commit(): void {
    const closing = this.hooks?.closing() ?? null;
    if (closing === null) return void this.raw('COMMIT');
    this.client.call({ op: 'exec', sql: `${closing}; COMMIT`, session: this.session });
  }

  private abort(level: number): void {
    try {
      if (level === 0) this.raw('ROLLBACK');
      else this.raw(`ROLLBACK TO SAVEPOINT sp${level}`);
    } catch {
      // the connection is gone: the server rolled the transaction back
    } finally {
      if (level === 0) this.session = null;
    }
  }

  private schemaFacts(): SchemaFacts {
    if (!this.facts) {
      const rows = this.query(
        "SELECT table_name AS t FROM information_schema.columns WHERE table_schema = current_schema() AND column_name = 'id' AND is_identity = 'YES'",
        [],
      ).rows;
      this.facts = { identity: new Set(rows.map((r) => String(r.t))), keys: new Map() };
    }
    const facts = this.facts;
    return {
      identityTables: facts.identity,
      primaryKey: (table) => {
        let key = facts.keys.get(table);
        if (!key) {
          const rows = this.query(
            `SELECT a.attname AS c FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
            WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)`,
            [table],
          ).rows;
          key = rows.map((r) => String(r.c));
          if (key.length === 0) throw new ColonyError('E_STORE', `INSERT OR REPLACE into ${table}: the table has no primary key`);
          facts.keys.set(table, key);
        }
        return key;
      },
    };
  }
}

class PgStatement implements SqlStatement {
  private plucked = false;
  constructor(
    private readonly db: PgDb,
    private readonly sql: string,
  ) {}

  pluck(toggle = true): this {
    this.plucked = toggle;
    return this;
  }

  run(...params: unknown[]): SqlRunResult {
    const r = this.exec(params);
    const id = r.rows[0]?.id;
    return { changes: r.rowCount, lastInsertRowid: typeof id === 'number' ? id : 0 };
  }

  get(...params: unknown[]): unknown {
    const row = this.exec(params).rows[0];
    return row === undefined ? undefined : this.shape(row);
  }

  all(...params: unknown[]): unknown[] {
    return this.exec(params).rows.map((r) => this.shape(r));
  }

  iterate(...params: unknown[]): IterableIterator<unknown> {
    return this.all(...params)[Symbol.iterator]();
  }

  private shape(row: Row): unknown {
    return this.plucked ? Object.values(row)[0] : row;
  }

  private exec(params: unknown[]): { rows: Row[]; rowCount: number } {
    const t = this.db.translated(this.sql);
    const values = t.names ? t.names.map((n) => (params[0] as Row | undefined)?.[n]) : params.flat();
    return this.db.query(t.text, values.map(toPg));
  }
}

function toPg(v: unknown): unknown {
  if (v === undefined) return null;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v;
}
