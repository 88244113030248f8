/**
 * The synchronous SQL port (sql-port.ts) over PostgreSQL: statements are
 * translated from the store's SQLite SQL once (translate.ts) and run through
 * the blocking worker client; transactions are BEGIN/COMMIT on one
 * connection, nested ones savepoints. Pragmas mean nothing here and are ignored.
 *
 * Deferred writes (`deferWrites`, set by the store around transactions it can
 * replay): BEGIN, savepoints and writes are queued (write-queue.ts) and sent
 * in one message with the next read or with COMMIT, so a transaction costs
 * one round trip when it reads nothing. If such a batch fails, the
 * transaction is rolled back and DeferredBatchFailed thrown: the store
 * replays it with deferWrites off, statement by statement as before.
 */
import { ColonyError } from '../../core/errors.js';
import { DeferredBatchFailed, type ArgumentTypes, type SqlDb, type SqlRunResult, type SqlStatement } from '../sql-port.js';
import { merge, resultsOf } from './batch.js';
import { checkedUpdateTable, shapeQuery, type UpdateShape } from './merge-update.js';
import type { PgBeat, PgNotice } from './protocol.js';
import { PgSyncClient } from './sync-client.js';
import { translate, type SchemaFacts, type Translated } from './translate.js';
import { WriteQueue } from './write-queue.js';

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
  private readonly queue = new WriteQueue();
  /** Checked UPDATE texts → what the server said of them (merge-update.ts); pending ones are learned after the next commit. */
  private readonly shapes = new Map<string, UpdateShape | null>();
  private readonly unlearned = new Set<string>();
  /** A deferred batch of this transaction failed: it is aborted on the server; only the final ROLLBACK is sent. */
  private doomed = false;
  /** Batches sent so far, and per savepoint level where the queue stood when it began (deferred savepoints are not sent). */
  private flushes = 0;
  private readonly marks: { length: number; flushes: number }[] = [];
  deferWrites = false;
  /** Round trips to the worker (each one to the server), statements sent, and checked UPDATEs merged into an earlier one of their text (benchmarks, tests). */
  readonly stats = { round_trips: 0, statements: 0, merged_updates: 0 };

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

  /** Shared with the worker thread: when the last acknowledged lease renewal was sent, and the self-fence flag (lease-slot.ts). */
  get leaseSlot(): SharedArrayBuffer {
    return this.client.leaseSlot;
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
        throw this.abort(level) ?? e;
      }
      try {
        // A failed batch and someone caught its error: the server would turn this COMMIT into a ROLLBACK silently.
        if (this.doomed) throw new DeferredBatchFailed('an earlier batch of this transaction failed');
        if (level > 0 && this.deferring()) this.marks.pop();
        else if (level > 0) this.raw(`RELEASE SAVEPOINT sp${level}`);
        else {
          this.commit();
          this.learnShapes();
        }
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
    if (this.queue.length > 0) this.flush(null, []);
    this.client.call({ op: 'exec', sql, session: this.session });
    this.facts = null; // DDL may have added tables
    this.shapes.clear(); // or changed a column's type
  }

  pragma(): unknown {
    return undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.end();
  }

  /** Runs one translated statement (with the queued writes before it, in one message). */
  query(sql: string, params: unknown[]): { rows: Row[]; rowCount: number } {
    if (this.closed) throw new ColonyError('E_STORE', 'the database connection is closed');
    if (this.queue.length > 0) return this.flush(sql, params);
    this.count(1);
    const r = this.client.call({ op: 'query', sql, params, session: this.session });
    return { rows: r.rows, rowCount: r.rowCount };
  }

  /** True while writes of the current transaction are queued rather than run. */
  deferring(): boolean {
    return this.deferWrites && this.depth > 0 && !this.doomed;
  }

  /** Queues a write; `check`: it must change a row (else the batch fails). Its result is read lazily (a read forces the flush). */
  defer(sql: string, params: unknown[], check: boolean): { result: () => { rows: Row[]; rowCount: number } } {
    const slot = this.queue.push(check ? checked(sql) : sql, params);
    return {
      result: () => {
        if (slot.queued) this.flush(null, []);
        return slot.result ?? { rows: [], rowCount: 0 };
      },
    };
  }

  /** Sends the queued statements (and `sql` after them, if any) in one message; returns the last one's result. */
  private flush(sql: string | null, params: unknown[]): { rows: Row[]; rowCount: number } {
    const items = this.queue.take();
    if (sql !== null) items.push({ sql, params });
    this.count(items.length);
    const plan = merge(items, (text) => this.shapeOf(text));
    let r;
    try {
      r = this.client.call(
        plan ? { op: 'batch', script: plan.texts.join(';\n'), items: [], session: this.session } : { op: 'batch', script: null, items, session: this.session },
      );
    } catch (e) {
      // Lost connection: E_STORE at once, as a single statement would (the server rolled back).
      if (e instanceof ColonyError && e.message.startsWith('database unavailable')) throw e;
      this.doomed = true;
      throw new DeferredBatchFailed((e as Error).message);
    }
    this.flushes += 1;
    this.session = r.session;
    if (plan) this.stats.merged_updates += plan.updates;
    const results = plan ? resultsOf(plan.of, r.results ?? []) : (r.results ?? []);
    this.queue.settle(results);
    return results[results.length - 1] ?? { rows: [], rowCount: 0 };
  }

  private shapeOf(text: string): UpdateShape | null | undefined {
    const shape = this.shapes.get(text);
    if (shape === undefined && this.unlearned.size < 64) this.unlearned.add(text);
    return shape;
  }

  /**
   * Asks the server the parameter types and the key of the checked UPDATEs seen unmerged (once per text, outside any
   * transaction, right after a commit). A text the server cannot prepare alone is never merged; a lost connection leaves it for later.
   */
  private learnShapes(): void {
    for (const text of this.unlearned) {
      const table = checkedUpdateTable(text);
      this.unlearned.delete(text);
      if (table === null) {
        this.shapes.set(text, null);
        continue;
      }
      try {
        this.count(1);
        const r = this.client.call({ op: 'batch', script: shapeQuery(text, table), items: [], session: null });
        const row = r.results?.[1]?.rows[0] as { types?: unknown; key?: unknown } | undefined;
        const ok = Array.isArray(row?.types) && Array.isArray(row?.key);
        this.shapes.set(text, ok ? { types: (row?.types as unknown[]).map(String), key: (row?.key as unknown[]).map(String) } : null);
      } catch (e) {
        if (e instanceof ColonyError && e.message.startsWith('database unavailable')) return;
        this.shapes.set(text, null);
      }
    }
  }

  translated(sql: string): Translated {
    let t = this.cache.get(sql);
    if (!t) this.cache.set(sql, (t = translate(sql, this.schemaFacts())));
    return t;
  }

  private count(statements: number): void {
    this.stats.round_trips += 1;
    this.stats.statements += statements;
  }

  /** A statement sent now, after whatever is queued (so nothing overtakes a deferred BEGIN or write). */
  private raw(sql: string): number {
    if (this.queue.length > 0) {
      this.flush(sql, []);
      return this.session ?? 0;
    }
    this.count(1);
    return this.client.call({ op: 'query', sql, params: [], session: this.session }).session;
  }

  private begin(level: number): void {
    if (level > 0) {
      // Deferred, a savepoint is where the queue stands: any failure of the batch replays the whole transaction anyway.
      if (this.deferWrites && !this.doomed) this.marks[level - 1] = { length: this.queue.length, flushes: this.flushes };
      else this.raw(`SAVEPOINT sp${level}`);
      return;
    }
    const hooks = this.hooks;
    if (!hooks) {
      if (this.deferWrites && !this.doomed) return void this.queue.push('BEGIN', []);
      this.count(1);
      this.session = this.client.call({ op: 'query', sql: 'BEGIN', params: [], session: null }).session;
      return;
    }
    // Several hosts: the prologue's answer (the heads re-read under the write lock) is needed before fn runs.
    this.count(1);
    const r = this.client.call({ op: 'exec', sql: `BEGIN; ${hooks.prologue}`, session: null });
    this.session = r.session;
    try {
      hooks.opened(r.rows[0]);
    } catch (e) {
      this.abort(0);
      throw e;
    }
  }

  /** COMMIT, after the queued writes and the hooks' closing statement (a NOTIFY), in one message. */
  private commit(): void {
    const closing = this.hooks?.closing() ?? null;
    if (this.queue.length > 0) {
      if (closing !== null) this.queue.push(closing, []);
      this.flush('COMMIT', []);
      return;
    }
    if (closing === null) return void this.raw('COMMIT');
    this.count(1);
    this.client.call({ op: 'exec', sql: `${closing}; COMMIT`, session: this.session });
  }

  /** Rolls back to where `level` began; returns an error to throw instead of the original one, if any. */
  private abort(level: number): Error | null {
    if (level > 0 && this.deferring()) {
      const mark = this.marks.splice(level - 1)[0];
      if (mark && mark.flushes === this.flushes) {
        this.queue.truncate(mark.length); // nothing of this savepoint was sent: drop it
        return null;
      }
      // Part of it reached the server without a savepoint to return to: replay the transaction step by step.
      this.doomed = true;
      return new DeferredBatchFailed('a savepoint rolled back after its writes were sent');
    }
    if (level > 0 && this.doomed) return null; // the final ROLLBACK ends it all
    const unsent = level === 0 && this.session === null && !this.doomed;
    this.queue.take();
    this.marks.length = 0;
    try {
      if (unsent) return null; // nothing of it reached the server
      if (level === 0) this.raw('ROLLBACK');
      else this.raw(`ROLLBACK TO SAVEPOINT sp${level}`);
    } catch {
      // the connection is gone: the server rolled the transaction back
    } finally {
      if (level === 0) {
        this.session = null;
        this.doomed = false;
      }
    }
    return null;
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
    const [sql, values] = this.bind(params);
    const given = this.db.translated(this.sql).idParam;
    const rowid = (r: { rows: Row[] }): number => {
      const id = given === undefined ? r.rows[0]?.id : Number(values[given]);
      return typeof id === 'number' && Number.isFinite(id) ? id : 0;
    };
    if (this.db.deferring()) {
      const d = this.db.defer(sql, values, false);
      return {
        get changes() {
          return d.result().rowCount;
        },
        get lastInsertRowid() {
          return rowid(d.result());
        },
      };
    }
    const r = this.db.query(sql, values);
    return { changes: r.rowCount, lastInsertRowid: rowid(r) };
  }

  runChecked(none: () => Error, ...params: unknown[]): void {
    if (this.db.deferring()) return void this.db.defer(...this.bind(params), true);
    if (this.exec(params).rowCount === 0) throw none();
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
    return this.db.query(...this.bind(params));
  }

  private bind(params: unknown[]): [string, unknown[]] {
    const t = this.db.translated(this.sql);
    const values = t.names ? t.names.map((n) => (params[0] as Row | undefined)?.[n]) : params.flat();
    return [t.text, values.map(toPg)];
  }
}

/** The write made to fail (division by zero) when it changes no row, so a COMMIT later in its batch is skipped. */
function checked(sql: string): string {
  const body = /\bRETURNING\b/i.test(sql) ? sql : `${sql} RETURNING 1`;
  return `WITH changed AS (${body}) SELECT 1 / COUNT(*) AS ok FROM changed`;
}

function toPg(v: unknown): unknown {
  if (v === undefined) return null;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v;
}
