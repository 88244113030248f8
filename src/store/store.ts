/**
 * The store behind a semantic interface: callers say what happened (a graph
 * was submitted, transitions were decided, an attempt started or finished) and
 * each call is one transaction that also appends the audit record(s) and the
 * live event(s). Only this folder writes SQL.
 *
 * Single writer: one host process owns a COLONY_HOME (see store/host-lock),
 * so the audit chain's last hash can be kept in memory. Several hosts on one
 * PostgreSQL (store/cluster.ts): each write transaction takes the database's
 * write lock and re-reads the head, ids and seq under it (adoptHeads).
 *
 * Group commit (`grouped`): a hot path that runs many small writes (the local
 * pool starting and finishing tasks) queues them; every write queued in one
 * event-loop turn commits in one SQLite transaction, each in its own savepoint
 * so a failing write rolls back alone, and each caller's promise settles only
 * after the commit. Any other write or a full reload first flushes the queue,
 * so the store sees writes in the order they were asked for.
 */
import { auditHash, GENESIS_HASH, verifyChain, type AuditEntry, type AuditRecord, type ChainCheck } from '../core/audit-chain.js';
import { ColonyError, type ErrorCode } from '../core/errors.js';
import type { AttemptProcess } from '../core/engine.js';
import type { Transition } from '../core/scheduler.js';
import type { TaskSpec, TaskState, TokenUsage } from '../core/task.js';
import { openDb, type Db } from './db.js';
import { registerDb } from './internal.js';
import { DeferredBatchFailed, type SqlStatement } from './sql-port.js';
import { TaskFacts } from './task-facts.js';
import { taskFromRow, type AttemptRow, type EventRecord, type GraphRow, type OutputRow, type StoredTask, type TaskRow } from './rows.js';

export interface Actor {
  actor: string; // 'admin', 'system', 'session:<id>', 'worker:<id>'
  origin: string; // remote address or 'local'
}

export const SYSTEM: Actor = Object.freeze({ actor: 'system', origin: 'local' });

export interface NewGraph {
  id: string;
  name: string;
  budget_usd: number | null;
  submitted_by: string;
  workspace: string;
  source: string | null; // the graph file it came from, for `colony run --resume`
}

export interface NewTask extends TaskSpec {
  lane: string;
  state: TaskState; // 'waiting' or 'awaiting_approval'
}

export interface AttemptStart {
  engine: string | null;
  model: string | null;
  worker_id: string;
  route_rule: string | null;
  route_explanation: string | null;
}

export interface AttemptEnd {
  state: 'succeeded' | 'failed' | 'timed_out' | 'cancelled' | 'lost';
  engine: string | null;
  model: string | null;
  cost_usd: number | null;
  cost_source: string;
  usage: TokenUsage;
  error_code: ErrorCode | null;
  summary: string;
}

export interface TaskFilter {
  state?: TaskState;
  graph_id?: string;
  submitted_by?: string;
  engine?: string;
  search?: string;
  limit?: number;
  offset?: number;
}

export interface AuditFilter {
  action?: string;
  actor?: string;
  target?: string;
  before_id?: number;
  limit?: number;
}

type Listener = (events: EventRecord[]) => void;

interface LogEvent {
  kind: string;
  task_id: string | null;
  owner: string | null;
  data: Record<string, unknown>;
  liveOnly?: Record<string, unknown> | undefined;
}

interface GroupedWrite {
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Several hosts: the tasks of this host's graphs. */
const MINE = 'JOIN graphs g ON g.id = t.graph_id WHERE g.owner_host = ?';

export class Store {
  private readonly db: Db;
  private lastHash: string;
  private nextAuditId: number;
  private nextLogId: number; // single writer: log ids are assigned here, so a row's event id is known before it is written
  private seq: number;
  private readonly listeners = new Set<Listener>();
  private pendingEvents: EventRecord[] = [];
  private readonly now: () => number;
  private readonly st;
  private readonly tx: <T>(fn: () => T) => T;
  private group: GroupedWrite[] = [];
  private groupScheduled = false;
  /**
   * Several hosts on one PostgreSQL (store/cluster.ts): this host's id (its
   * new graphs are its own, it loads only those) — null on SQLite (one host, owns all).
   */
  hostId: string | null = null;
  /** Several hosts: live listeners get every host's events by reading the log in id order (relayLive). */
  private relay: { seen: number; scheduled: boolean; listeners: Set<Listener> } | null = null;
  /** Owner, graph and attempt counter of tasks, for writes that need not read them back (deferred writes only). */
  private readonly facts: TaskFacts;
  /** Writes conditioned on `facts` instead of returning them; prepared only on a backend that defers writes. */
  private readonly known;

  static open(file: string, now: () => number = Date.now): Store {
    return new Store(openDb(file), now);
  }

  constructor(db: Db, now: () => number = Date.now) {
    this.db = db;
    registerDb(this, db);
    this.now = now;
    const last = db.prepare('SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1').get() as { id: number; hash: string } | undefined;
    this.lastHash = last?.hash ?? GENESIS_HASH;
    this.nextAuditId = (last?.id ?? 0) + 1;
    this.nextLogId = (db.prepare('SELECT COALESCE(MAX(id), 0) AS id FROM log').get() as { id: number }).id + 1;
    this.seq = (db.prepare('SELECT COALESCE(MAX(seq), 0) AS s FROM tasks').get() as { s: number }).s;
    // One wrapper for every transaction (better-sqlite3 builds a new one per db.transaction call);
    // nested calls become savepoints.
    const run = db.transaction((fn: () => unknown) => fn());
    this.tx = <T>(fn: () => T): T => run(fn) as T;
    this.st = {
      insertGraph: db.prepare(
        'INSERT INTO graphs (id, name, budget_usd, submitted_by, workspace, source, created_at, owner_host) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      insertTask: db.prepare(`INSERT INTO tasks (id, seq, graph_id, title, prompt, engine, model, budget_usd, workspace, target, lane,
        wait_timeout_s, run_timeout_s, max_attempts, trigger, state, state_reason, submitted_by, created_at, updated_at)
        VALUES (@id, @seq, @graph_id, @title, @prompt, @engine, @model, @budget_usd, @workspace, @target, @lane,
        @wait_timeout_s, @run_timeout_s, @max_attempts, @trigger, @state, @state_reason, @submitted_by, @created_at, @updated_at)`),
      insertEdge: db.prepare('INSERT INTO edges (task_id, depends_on) VALUES (?, ?)'),
      setState: db.prepare('UPDATE tasks SET state = ?, state_reason = ?, updated_at = ? WHERE id = ? AND state = ? RETURNING submitted_by, graph_id'),
      insertLog: db.prepare(`INSERT INTO log (id, at, kind, task_id, owner, data, audit_id, actor, origin, action, target, detail, prev_hash, hash)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      bumpAttempt: db.prepare('UPDATE tasks SET attempt = attempt + 1 WHERE id = ? RETURNING attempt, submitted_by'),
      // The attempt counter or cost fold and the task's own transition, in one row update (issue 17).
      bumpAttemptAndSetState: db.prepare(`UPDATE tasks SET attempt = attempt + 1, state = ?, state_reason = ?, updated_at = ?
        WHERE id = ? AND state = ? RETURNING attempt, submitted_by, graph_id`),
      insertAttempt: db.prepare(`INSERT INTO attempts (task_id, attempt, state, engine, model, worker_id, route_rule, route_explanation, started_at)
        VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?)`),
      endAttempt: db.prepare(`UPDATE attempts SET state = @state, engine = COALESCE(@engine, engine), model = COALESCE(@model, model),
        finished_at = @at, cost_usd = @cost_usd, cost_source = @cost_source, tokens_in = @input, tokens_out = @output,
        tokens_cache_read = @cache_read, tokens_cache_write = @cache_write, error_code = @error_code, summary = @summary
        WHERE task_id = @task_id AND attempt = @attempt AND finished_at IS NULL`),
      addTaskCost: db.prepare(`UPDATE tasks SET cost_usd = cost_usd + @cost, cost_unknown = MAX(cost_unknown, @unknown),
        tokens_in = tokens_in + @input, tokens_out = tokens_out + @output, tokens_cache_read = tokens_cache_read + @cache_read,
        tokens_cache_write = tokens_cache_write + @cache_write WHERE id = @task_id RETURNING submitted_by`),
      addTaskCostAndSetState: db.prepare(`UPDATE tasks SET cost_usd = cost_usd + @cost, cost_unknown = MAX(cost_unknown, @unknown),
        tokens_in = tokens_in + @input, tokens_out = tokens_out + @output, tokens_cache_read = tokens_cache_read + @cache_read,
        tokens_cache_write = tokens_cache_write + @cache_write, state = @to, state_reason = @reason, updated_at = @at
        WHERE id = @task_id AND state = @from RETURNING submitted_by, graph_id`),
      insertOutput: db.prepare('INSERT INTO task_output (task_id, attempt, stream, text, at) VALUES (?, ?, ?, ?, ?)'),
      getTask: db.prepare('SELECT * FROM tasks WHERE id = ?'),
      depsOf: db.prepare('SELECT depends_on FROM edges WHERE task_id = ?'),
      attemptsOf: db.prepare('SELECT * FROM attempts WHERE task_id = ? ORDER BY attempt'),
      ownerOf: db.prepare('SELECT submitted_by FROM tasks WHERE id = ?'),
      setApproved: db.prepare('UPDATE tasks SET approved = 1 WHERE id = ?'),
      getSetting: db.prepare('SELECT value FROM settings WHERE key = ?'),
      putSetting: db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
    };
    this.known = db.deferWrites === undefined ? null : knownWrites(db);
    this.facts = new TaskFacts(this.known !== null);
  }

  isOpen(): boolean {
    return this.db.open;
  }

  close(): void {
    if (!this.db.open) return;
    this.flushGroup();
    this.db.close();
  }

  /** Live events are published to listeners only after their transaction committed. */
  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Runs fn in one transaction; events and audit records it appends commit or vanish together. */
  transaction<T>(fn: () => T): T {
    return this.atomic(fn, false);
  }

  /**
   * A transaction; `replayable`: fn touches nothing but the store (or only
   * idempotently), so on a backend that defers writes it may run with its
   * writes deferred and, if their batch fails, run again step by step.
   */
  private atomic<T>(fn: () => T, replayable: boolean): T {
    if (this.db.inTransaction) return fn();
    if (this.group.length > 0) this.flushGroup();
    const saved = { hash: this.lastHash, id: this.nextAuditId, logId: this.nextLogId, seq: this.seq };
    const restore = (): void => {
      this.lastHash = saved.hash;
      this.nextAuditId = saved.id;
      this.nextLogId = saved.logId;
      this.seq = saved.seq;
      this.pendingEvents = [];
      this.facts.clear(); // may hold what this transaction wrote
      this.outputBytes.clear(); // likewise (read again from the table when needed)
    };
    let result: T;
    try {
      result = this.runTx(fn, replayable);
    } catch (e) {
      restore();
      if (!(e instanceof DeferredBatchFailed)) throw wrapStoreError(e);
      try {
        result = this.runTx(fn, false); // step by step: each error at its own statement (and savepoint)
      } catch (e2) {
        restore();
        throw wrapStoreError(e2);
      }
    }
    const events = this.pendingEvents;
    this.pendingEvents = [];
    if (events.length > 0) for (const l of this.listeners) l(events);
    if (events.length > 0 && this.relay) this.scheduleRelay();
    return result;
  }

  /** Events written by the open transaction so far (several hosts: it then notifies the others at commit). */
  get pendingEventCount(): number {
    return this.pendingEvents.length;
  }

  /** Several hosts: the audit head, next log id and task seq as re-read under the write lock at a transaction's start. */
  adoptHeads(h: { auditId: number; hash: string | null; logId: number; seq: number }): void {
    this.lastHash = h.hash ?? GENESIS_HASH;
    this.nextAuditId = h.auditId + 1;
    this.nextLogId = h.logId + 1;
    this.seq = h.seq;
  }

  /**
   * Live streams (admin and user apps): every host's events. With one host
   * the same as subscribe; with several (enableLiveRelay) they are read back
   * from the log in id order after a commit here or a notification from
   * another host — ids follow commit order (one writer at a time), so a
   * read past the last id delivered has no gaps and no duplicates.
   */
  subscribeLive(fn: Listener): () => void {
    const relay = this.relay;
    if (!relay) return this.subscribe(fn);
    if (relay.listeners.size === 0) relay.seen = this.lastEventId();
    relay.listeners.add(fn);
    return () => relay.listeners.delete(fn);
  }

  enableLiveRelay(): void {
    this.relay ??= { seen: 0, scheduled: false, listeners: new Set() };
  }

  /** Reads the events past the last one delivered to live listeners (coalesced: at most once per event-loop turn). */
  scheduleRelay(): void {
    const relay = this.relay;
    if (!relay || relay.scheduled || relay.listeners.size === 0) return;
    relay.scheduled = true;
    setImmediate(() => {
      relay.scheduled = false;
      if (!this.db.open) return;
      try {
        for (;;) {
          const batch = this.eventsSince(relay.seen, 1000);
          if (batch.length === 0) break;
          relay.seen = (batch[batch.length - 1] as EventRecord).id;
          for (const l of relay.listeners) l(batch);
          if (batch.length < 1000) break;
        }
      } catch {
        // the database is out of reach: the next commit, notification or heartbeat reads again from relay.seen
      }
    });
  }

  private runTx<T>(fn: () => T, defer: boolean): T {
    if (this.db.deferWrites === undefined) return this.tx(fn);
    this.db.deferWrites = defer;
    try {
      return this.tx(fn);
    } finally {
      this.db.deferWrites = false;
    }
  }

  /**
   * Group commit: runs fn in the transaction shared by every write queued in
   * this event-loop turn, in its own savepoint (if fn throws, only its writes
   * roll back and only its promise rejects). Resolves with fn's result after
   * the commit; if the commit fails, every write of the group rejects with E_STORE.
   * On PostgreSQL the group may be run twice (its deferred writes failed, then
   * step by step): fn's effects outside the store must bear that.
   */
  grouped<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.group.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.groupScheduled) {
        this.groupScheduled = true;
        setImmediate(() => {
          this.groupScheduled = false;
          if (this.db.open) this.flushGroup();
        });
      }
    });
  }

  /** Commits the queued grouped writes now (also done before any other write, a reload and close). */
  flushGroup(): void {
    const items = this.group;
    if (items.length === 0) return;
    this.group = [];
    const outcomes: Outcome[] = [];
    try {
      this.atomic(() => {
        outcomes.length = 0; // a replay starts over
        for (const item of items) {
          const o = this.savepoint(item.fn);
          // SQLite may roll back the whole transaction on some errors (disk full, I/O):
          // then the writes before this one are gone too, so the group fails as a whole.
          if (!o.ok && !this.db.inTransaction) throw o.error;
          outcomes.push(o);
        }
      }, true);
    } catch (e) {
      for (const item of items) item.reject(e);
      return;
    }
    items.forEach((item, i) => {
      const o = outcomes[i] as Outcome;
      if (o.ok) item.resolve(o.value);
      else item.reject(o.error);
    });
  }

  // ---- writes ------------------------------------------------------------

  submitGraph(graph: NewGraph, tasks: readonly NewTask[], initial: readonly Transition[], who: Actor): void {
    this.atomic(() => {
      const at = this.now();
      // A task's first transition (waiting → ready) is written with its row: one statement, not an INSERT and an UPDATE.
      const first = new Map<string, Transition>();
      const states = new Map(tasks.map((t) => [t.id, t.state]));
      for (const tr of initial) if (!first.has(tr.id) && states.get(tr.id) === tr.from) first.set(tr.id, tr);
      this.st.insertGraph.run(graph.id, graph.name, graph.budget_usd, graph.submitted_by, graph.workspace, graph.source, at, this.hostId);
      for (const t of tasks) {
        const tr = first.get(t.id);
        this.st.insertTask.run({
          id: t.id,
          seq: ++this.seq,
          graph_id: graph.id,
          title: t.title,
          prompt: t.prompt,
          engine: t.engine,
          model: t.model,
          budget_usd: t.budget_usd,
          workspace: t.workspace,
          target: t.target,
          lane: t.lane,
          wait_timeout_s: t.wait_timeout_s,
          run_timeout_s: t.run_timeout_s,
          max_attempts: t.max_attempts,
          trigger: t.trigger,
          state: tr?.to ?? t.state,
          state_reason: tr?.reason ?? null,
          submitted_by: graph.submitted_by,
          created_at: at,
          updated_at: at,
        });
        for (const dep of t.depends_on) this.st.insertEdge.run(t.id, dep);
        this.facts.set(t.id, graph.submitted_by, graph.id, 0);
      }
      this.logRow(
        at,
        { kind: 'graph.submitted', task_id: null, owner: graph.submitted_by, data: { graph_id: graph.id, name: graph.name, tasks: tasks.map((t) => t.id) } },
        { at, ...who, action: 'graph.submitted', target: graph.id, detail: { name: graph.name, tasks: tasks.length, budget_usd: graph.budget_usd } },
      );
      const folded = new Set(first.values());
      for (const tr of initial) {
        if (folded.has(tr)) this.transitionRow(at, tr, { submitted_by: graph.submitted_by, graph_id: graph.id }, who);
        else this.applyTransitions([tr], who);
      }
    }, true);
  }

  /** Persists scheduler transitions; each gets its event and audit record. Fails if a row's state moved underneath. */
  applyTransitions(trs: readonly Transition[], who: Actor): void {
    if (trs.length === 0) return;
    this.atomic(() => {
      const at = this.now();
      for (const t of trs) {
        const fact = this.deferring() ? this.facts.get(t.id) : undefined;
        if (fact && this.known) {
          runChecked(this.known.setState, () => notIn(t), t.to, t.reason, at, t.id, t.from, fact.owner, fact.graph);
          this.transitionRow(at, t, { submitted_by: fact.owner, graph_id: fact.graph }, who);
          continue;
        }
        const row = this.st.setState.get(t.to, t.reason, at, t.id, t.from) as { submitted_by: string; graph_id: string } | undefined;
        if (!row) throw notIn(t);
        this.facts.set(t.id, row.submitted_by, row.graph_id);
        this.transitionRow(at, t, row, who);
      }
    }, true);
  }

  /** True while this transaction's writes are deferred (PostgreSQL, a replayable transaction). */
  private deferring(): boolean {
    return this.db.deferWrites === true;
  }

  /** A transition's one log row: its audit record and its live event. */
  private transitionRow(at: number, t: Transition, row: { submitted_by: string; graph_id: string }, who: Actor): void {
    this.logRow(
      at,
      { kind: 'task.state', task_id: t.id, owner: row.submitted_by, data: { graph_id: row.graph_id, from: t.from, to: t.to, reason: t.reason } },
      { at, ...who, action: 'task.transition', target: t.id, detail: { from: t.from, to: t.to, reason: t.reason } },
    );
  }

  /** assigned → running plus a new attempt row; returns the attempt number. */
  startAttempt(taskId: string, info: AttemptStart, trs: readonly Transition[], who: Actor): number {
    return this.atomic(() => {
      const own = trs[0]?.id === taskId ? (trs[0] as Transition) : null;
      const at = this.now();
      const bumped = this.bumpAttempt(taskId, own, at);
      const { attempt, submitted_by: owner } = bumped;
      this.st.insertAttempt.run(taskId, attempt, info.engine, info.model, info.worker_id, info.route_rule, info.route_explanation, at);
      if (own) this.transitionRow(at, own, { submitted_by: owner, graph_id: bumped.graph_id ?? '' }, who);
      this.applyTransitions(own ? trs.slice(1) : trs, who);
      this.event('attempt.started', taskId, owner, { attempt, ...info });
      return attempt;
    }, true);
  }

  /** The attempt counter's bump (with the task's own transition, if any): from what is known, or read back. */
  private bumpAttempt(taskId: string, own: Transition | null, at: number): { attempt: number; submitted_by: string; graph_id?: string } {
    const fact = own && this.deferring() ? this.facts.get(taskId) : undefined;
    if (own && fact && fact.attempt !== null && this.known) {
      const args = [own.to, own.reason, at, taskId, own.from, fact.attempt, fact.owner, fact.graph];
      runChecked(this.known.bumpAttemptAndSetState, () => notIn(own), ...args);
      fact.attempt += 1;
      return { attempt: fact.attempt, submitted_by: fact.owner, graph_id: fact.graph };
    }
    const bumped = (own ? this.st.bumpAttemptAndSetState.get(own.to, own.reason, at, taskId, own.from) : this.st.bumpAttempt.get(taskId)) as
      { attempt: number; submitted_by: string; graph_id?: string } | undefined;
    if (!bumped) throw this.missing(taskId, own);
    this.facts.setAttempt(taskId, bumped.attempt);
    return bumped;
  }

  finishAttempt(taskId: string, attempt: number, end: AttemptEnd, trs: readonly Transition[], who: Actor): void {
    this.atomic(() => {
      const at = this.now();
      const notRunning = (): ColonyError => new ColonyError('E_INVALID_TRANSITION', `attempt ${attempt} of task ${taskId} is not running`);
      const ended = {
        task_id: taskId,
        attempt,
        state: end.state,
        engine: end.engine,
        model: end.model,
        at,
        cost_usd: end.cost_usd,
        cost_source: end.cost_source,
        ...end.usage,
        error_code: end.error_code,
        summary: end.summary.slice(0, 4000),
      };
      if (this.deferring()) runChecked(this.st.endAttempt, notRunning, ended);
      else if (this.st.endAttempt.run(ended).changes === 0) throw notRunning();
      const own = trs[0]?.id === taskId ? (trs[0] as Transition) : null;
      const fold = { task_id: taskId, cost: end.cost_usd ?? 0, unknown: end.cost_usd === null ? 1 : 0, ...end.usage };
      const row = this.foldCost(fold, own, at);
      this.logRow(
        at,
        { kind: 'attempt.finished', task_id: taskId, owner: row?.submitted_by ?? null, data: { attempt, ...end, summary: end.summary.slice(0, 500) } },
        { at, ...who, action: 'attempt.finished', target: taskId, detail: { attempt, state: end.state, cost_usd: end.cost_usd, error_code: end.error_code } },
      );
      if (own && row) this.transitionRow(at, own, { submitted_by: row.submitted_by, graph_id: row.graph_id ?? '' }, who);
      this.applyTransitions(own ? trs.slice(1) : trs, who);
    }, true);
  }

  /** The attempt's cost folded into its task (with the task's own transition, if any); the task's owner and graph, known or read back. */
  private foldCost(
    fold: Record<string, unknown> & { task_id: string },
    own: Transition | null,
    at: number,
  ): { submitted_by: string; graph_id?: string } | undefined {
    const fact = this.deferring() ? this.facts.get(fold.task_id) : undefined;
    if (fact && this.known) {
      const known = { ...fold, owner: fact.owner, graph: fact.graph };
      if (own) runChecked(this.known.addTaskCostAndSetState, () => notIn(own), { ...known, to: own.to, reason: own.reason, at, from: own.from });
      else runChecked(this.known.addTaskCost, () => new ColonyError('E_NOT_FOUND', `no task ${fold.task_id}`), known);
      return { submitted_by: fact.owner, graph_id: fact.graph };
    }
    const row = (own ? this.st.addTaskCostAndSetState.get({ ...fold, to: own.to, reason: own.reason, at, from: own.from }) : this.st.addTaskCost.get(fold)) as
      { submitted_by: string; graph_id?: string } | undefined;
    if (own && !row) throw this.missing(fold.task_id, own);
    return row;
  }

  /** What identifies the processes of a running attempt (the engine reports it once its leader runs). */
  recordAttemptProcess(taskId: string, attempt: number, p: AttemptProcess): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO attempt_processes (task_id, attempt, pid, pgid, start_ticks, boot_id, cgroup, tag, recorded_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(taskId, attempt, p.pid, p.pgid, p.start_ticks, p.boot_id, p.cgroup, p.tag, this.now());
  }

  /** Process records of attempts that never finished (their host died), for the sweep at recovery; `graphs`: only those graphs' tasks. */
  openAttemptProcesses(graphs?: readonly string[]): (AttemptProcess & { task_id: string; attempt: number })[] {
    if (graphs?.length === 0) return [];
    const only = graphs ? ` AND a.task_id IN (SELECT id FROM tasks WHERE graph_id IN (${graphs.map(() => '?').join(', ')}))` : '';
    return this.db
      .prepare(
        `SELECT p.task_id, p.attempt, p.pid, p.pgid, p.start_ticks, p.boot_id, p.cgroup, p.tag FROM attempt_processes p
        JOIN attempts a ON a.task_id = p.task_id AND a.attempt = p.attempt WHERE a.finished_at IS NULL${only}`,
      )
      .all(...(graphs ?? [])) as (AttemptProcess & { task_id: string; attempt: number })[];
  }

  /** Several hosts: the graphs of this host with a task assigned or running (what recovery looks at); null on one host: all. */
  ownedGraphsInFlight(): string[] | null {
    if (this.hostId === null) return null;
    return this.db
      .prepare(`SELECT DISTINCT t.graph_id FROM tasks t JOIN graphs g ON g.id = t.graph_id WHERE g.owner_host = ? AND t.state IN ('assigned', 'running')`)
      .pluck()
      .all(this.hostId) as string[];
  }

  /** Several hosts: the host owning a task's graph (null: unknown task, or one host). */
  hostOfTask(taskId: string): string | null {
    const row = this.db.prepare('SELECT g.owner_host AS h FROM tasks t JOIN graphs g ON g.id = t.graph_id WHERE t.id = ?').get(taskId) as
      { h: string | null } | undefined;
    return row?.h ?? null;
  }

  /**
   * Remote attempts closed as lost since `since` whose task is waiting to run
   * again: after a host restart, their worker may still be running them.
   */
  remoteAttemptsLostSince(since: number): { task_id: string; worker_id: string; finished_at: number }[] {
    return this.db
      .prepare(
        `SELECT a.task_id, a.worker_id, a.finished_at FROM attempts a JOIN tasks t ON t.id = a.task_id
        WHERE a.state = 'lost' AND a.finished_at >= ? AND a.attempt = t.attempt AND t.lane != 'host'
        AND t.state IN ('waiting', 'ready')`,
      )
      .all(since) as { task_id: string; worker_id: string; finished_at: number }[];
  }

  /**
   * Drops process records of attempts that finished more than `keepMs` ago
   * (they matter while an attempt may run; kept a while to tell which attempt
   * a stray process or an effect came from).
   */
  pruneAttemptProcesses(keepMs = 7 * 24 * 3600_000): number {
    return this.db
      .prepare(
        `DELETE FROM attempt_processes WHERE EXISTS (SELECT 1 FROM attempts a WHERE a.task_id = attempt_processes.task_id
        AND a.attempt = attempt_processes.attempt AND a.finished_at IS NOT NULL AND a.finished_at < ?)`,
      )
      .run(this.now() - keepMs).changes;
  }

  /** Per-task output cap in bytes (config retention.max_output_bytes_per_task); output past it is dropped and the cut marked once. */
  outputCapBytes = 10 * 1024 * 1024;
  private readonly outputBytes = new Map<string, number>();

  /**
   * Output is stored once, in task_output, in rows of at most OUTPUT_CHUNK
   * characters. Each row's `task.output` event stores only a reference
   * (output_id, bytes); the live event carries the text too, and a replay
   * reads it back from task_output (eventsSince).
   */
  appendOutput(taskId: string, attempt: number, stream: string, text: string): void {
    this.transaction(() => {
      const at = this.now();
      const owner = this.ownerOf(taskId);
      let used = this.outputBytes.get(taskId) ?? outputBytesOf(this.db, taskId);
      if (used >= this.outputCapBytes) return; // already cut (and marked)
      for (let i = 0; i < text.length; i += OUTPUT_CHUNK) {
        let chunk = text.slice(i, i + OUTPUT_CHUNK);
        let chunkStream = stream;
        const bytes = Buffer.byteLength(chunk);
        if (used + bytes >= this.outputCapBytes) {
          chunk = `${chunk.slice(0, Math.max(0, this.outputCapBytes - used))}\n[colony: output of this task cut at ${this.outputCapBytes} bytes; the rest was discarded]\n`;
          chunkStream = 'stderr';
          used = this.outputCapBytes;
        } else used += bytes;
        const id = Number(this.st.insertOutput.run(taskId, attempt, chunkStream, chunk, at).lastInsertRowid);
        this.event('task.output', taskId, owner, { attempt, stream: chunkStream, output_id: id, bytes: Buffer.byteLength(chunk) }, { text: chunk });
        if (used >= this.outputCapBytes) break;
      }
      this.outputBytes.set(taskId, used);
      if (this.outputBytes.size > 10_000) this.outputBytes.delete(this.outputBytes.keys().next().value as string);
    });
  }

  deleteEdge(taskId: string, dependsOn: string): void {
    this.db.prepare('DELETE FROM edges WHERE task_id = ? AND depends_on = ?').run(taskId, dependsOn);
  }

  markApproved(taskId: string): void {
    this.st.setApproved.run(taskId);
  }

  /** A security or control event not tied to a transition (kill switch, refusals, logins). */
  appendAudit(entry: Omit<AuditEntry, 'at'> & { at?: number }): AuditRecord {
    return this.atomic(() => this.audit({ ...entry, at: entry.at ?? this.now() }), true);
  }

  /** A live event not tied to a task row change (worker status, kill switch state). */
  publish(kind: string, owner: string | null, data: Record<string, unknown>, taskId: string | null = null): void {
    this.atomic(() => this.event(kind, taskId, owner, data), true);
  }

  getSetting(key: string): string | null {
    return (this.st.getSetting.get(key) as { value: string } | undefined)?.value ?? null;
  }

  setSetting(key: string, value: string): void {
    this.st.putSetting.run(key, value);
  }

  // ---- reads -------------------------------------------------------------

  getTask(id: string): StoredTask | null {
    const row = this.st.getTask.get(id) as TaskRow | undefined;
    return row ? taskFromRow(row, this.depsOf(id)) : null;
  }

  /** Several tasks in one pass (one statement per 100 ids: the rows joined with their edges), e.g. the tasks a pool just claimed. */
  getTasks(ids: readonly string[]): Map<string, StoredTask> {
    const out = new Map<string, StoredTask>();
    for (let i = 0; i < ids.length; i += 100) {
      const chunk = ids.slice(i, i + 100);
      const rows = this.db
        .prepare(
          `SELECT t.*, e.depends_on AS edge_dep FROM tasks t LEFT JOIN edges e ON e.task_id = t.id
          WHERE t.id IN (${chunk.map(() => '?').join(', ')}) ORDER BY t.id, e.depends_on`,
        )
        .all(...chunk) as (TaskRow & { edge_dep: string | null })[];
      const deps = new Map<string, string[]>();
      for (const r of rows) {
        const l = deps.get(r.id) ?? [];
        if (r.edge_dep !== null) l.push(r.edge_dep);
        if (!deps.has(r.id)) out.set(r.id, taskFromRow(r, l));
        deps.set(r.id, l);
      }
    }
    return out;
  }

  depsOf(id: string): string[] {
    return (this.st.depsOf.all(id) as { depends_on: string }[]).map((r) => r.depends_on);
  }

  attemptsOf(id: string): AttemptRow[] {
    return this.st.attemptsOf.all(id) as AttemptRow[];
  }

  outputOf(id: string, opts: { attempt?: number; after_id?: number; limit?: number } = {}): OutputRow[] {
    return this.db
      .prepare(`SELECT * FROM task_output WHERE task_id = ? AND (? IS NULL OR attempt = ?) AND id > ? ORDER BY id LIMIT ?`)
      .all(id, opts.attempt ?? null, opts.attempt ?? null, opts.after_id ?? 0, opts.limit ?? 10_000) as OutputRow[];
  }

  listTasks(f: TaskFilter = {}): StoredTask[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.state) (where.push('state = ?'), args.push(f.state));
    if (f.graph_id) (where.push('graph_id = ?'), args.push(f.graph_id));
    if (f.submitted_by) (where.push('submitted_by = ?'), args.push(f.submitted_by));
    if (f.engine) (where.push('engine = ?'), args.push(f.engine));
    if (f.search)
      (where.push('(instr(lower(title), lower(?)) > 0 OR instr(lower(prompt), lower(?)) > 0 OR instr(id, ?) > 0)'), args.push(f.search, f.search, f.search));
    const sql = `SELECT * FROM tasks ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY seq LIMIT ? OFFSET ?`;
    const rows = this.db.prepare(sql).all(...args, f.limit ?? 1000, f.offset ?? 0) as TaskRow[];
    return this.withDeps(rows);
  }

  /** The distinct values of one task column (for the dashboard's filters), most used first. */
  taskFacet(column: 'engine' | 'submitted_by', limit = 200): { value: string; n: number }[] {
    return this.db.prepare(`SELECT ${column} AS value, COUNT(*) AS n FROM tasks GROUP BY ${column} ORDER BY n DESC, value LIMIT ?`).all(limit) as {
      value: string;
      n: number;
    }[];
  }

  /** Every task with its dependencies, for rebuilding the scheduler at start. One pass over each table. */
  loadAll(): StoredTask[] {
    if (!this.db.inTransaction) this.flushGroup(); // the rebuilt scheduler must see every write already decided
    const rows =
      this.hostId === null
        ? (this.db.prepare('SELECT * FROM tasks ORDER BY seq').all() as TaskRow[])
        : (this.db.prepare(`SELECT t.* FROM tasks t ${MINE} ORDER BY t.seq`).all(this.hostId) as TaskRow[]);
    for (const r of rows) this.facts.set(r.id, r.submitted_by, r.graph_id, r.attempt);
    if (this.hostId === null) return this.withDeps(rows);
    // Several hosts: this host's graphs only, their edges in one pass too.
    const edges = this.db.prepare(`SELECT e.task_id, e.depends_on FROM edges e JOIN tasks t ON t.id = e.task_id ${MINE}`).all(this.hostId);
    return this.withDeps(rows, edges as Iterable<{ task_id: string; depends_on: string }>);
  }

  /** The newest graph submitted from this file that still has unfinished tasks. */
  unfinishedGraphFrom(source: string): GraphRow | null {
    return (
      (this.db
        .prepare(
          `SELECT g.* FROM graphs g WHERE g.source = ? AND EXISTS (SELECT 1 FROM tasks t WHERE t.graph_id = g.id
          AND t.state NOT IN ('succeeded','failed','cancelled','timed_out','upstream_failed','skipped')) ORDER BY g.created_at DESC LIMIT 1`,
        )
        .get(source) as GraphRow | undefined) ?? null
    );
  }

  getGraph(id: string): GraphRow | null {
    return (this.db.prepare('SELECT * FROM graphs WHERE id = ?').get(id) as GraphRow | undefined) ?? null;
  }

  listGraphs(limit = 200): (GraphRow & { counts: Record<string, number>; cost_usd: number })[] {
    const graphs = this.db.prepare('SELECT * FROM graphs ORDER BY created_at DESC LIMIT ?').all(limit) as GraphRow[];
    const counts = this.db.prepare('SELECT state, COUNT(*) AS n, SUM(cost_usd) AS c FROM tasks WHERE graph_id = ? GROUP BY state');
    return graphs.map((g) => {
      const rows = counts.all(g.id) as { state: string; n: number; c: number }[];
      return { ...g, counts: Object.fromEntries(rows.map((r) => [r.state, r.n])), cost_usd: rows.reduce((s, r) => s + r.c, 0) };
    });
  }

  eventsSince(afterId: number, limit = 1000): EventRecord[] {
    const rows = this.db
      .prepare(
        `SELECT e.id, e.at, e.kind, e.task_id, e.owner, e.data, o.text AS out_text FROM events e LEFT JOIN task_output o ON e.kind = 'task.output' AND o.id = json_extract(e.data, '$.output_id')
        WHERE e.id > ? ORDER BY e.id LIMIT ?`,
      )
      .all(afterId, limit) as (Omit<EventRecord, 'data'> & { data: string; out_text: string | null })[];
    return rows.map(({ out_text, ...r }) => {
      const data = JSON.parse(r.data) as Record<string, unknown>;
      // Output is stored once (task_output): put the text back; a pruned row leaves an empty, marked chunk.
      if (r.kind === 'task.output' && 'output_id' in data) Object.assign(data, out_text === null ? { text: '', pruned: true } : { text: out_text });
      return { ...r, data };
    });
  }

  lastEventId(): number {
    return (this.db.prepare('SELECT COALESCE(MAX(id), 0) AS id FROM log WHERE kind IS NOT NULL').get() as { id: number }).id;
  }

  listAudit(f: AuditFilter = {}): AuditRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.action) (where.push('action LIKE ?'), args.push(f.action.endsWith('*') ? f.action.slice(0, -1) + '%' : f.action));
    if (f.actor) (where.push('actor = ?'), args.push(f.actor));
    if (f.target) (where.push('target = ?'), args.push(f.target));
    if (f.before_id) (where.push('id < ?'), args.push(f.before_id));
    const sql = `SELECT * FROM audit ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, Math.min(f.limit ?? 100, 1000)) as (Omit<AuditRecord, 'detail'> & { detail: string })[]).map((r) => ({
      ...r,
      detail: JSON.parse(r.detail) as unknown,
    }));
  }

  verifyAudit(): ChainCheck {
    const rows = this.db.prepare('SELECT * FROM audit ORDER BY id').iterate() as IterableIterator<Omit<AuditRecord, 'detail'> & { detail: string }>;
    return verifyChain(mapIter(rows, (r) => ({ ...r, detail: safeParse(r.detail) })));
  }

  /** Cost and tokens grouped by a dimension, for the dashboard and the APIs. */
  costBy(
    dim: 'engine' | 'model' | 'submitted_by' | 'graph_id' | 'worker_id',
    submittedBy?: string,
  ): { key: string | null; cost_usd: number; tokens: number; attempts: number }[] {
    const col = dim === 'submitted_by' || dim === 'graph_id' ? `t.${dim}` : `a.${dim}`;
    return this.db
      .prepare(
        `SELECT ${col} AS key, COALESCE(SUM(a.cost_usd), 0) AS cost_usd, SUM(a.tokens_in + a.tokens_out) AS tokens, COUNT(*) AS attempts
        FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE (? IS NULL OR t.submitted_by = ?) GROUP BY ${col} ORDER BY cost_usd DESC`,
      )
      .all(submittedBy ?? null, submittedBy ?? null) as { key: string | null; cost_usd: number; tokens: number; attempts: number }[];
  }

  /** Finished attempts as the adaptive router's history. */
  attemptHistory(limit = 5000): (AttemptRow & { prompt: string })[] {
    return this.db
      .prepare(`SELECT a.*, t.prompt FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE a.finished_at IS NOT NULL ORDER BY a.finished_at DESC LIMIT ?`)
      .all(limit) as (AttemptRow & { prompt: string })[];
  }

  // ---- internals ---------------------------------------------------------

  /** An audit record alone (a log row in the hash chain that is no live event). */
  private audit(e: AuditEntry): AuditRecord {
    return this.logRow(e.at, null, e);
  }

  /** A live event alone. `liveOnly` fields go to live listeners but are not stored (e.g. output text, stored in task_output). */
  private event(kind: string, taskId: string | null, owner: string | null, data: Record<string, unknown>, liveOnly?: Record<string, unknown>): void {
    this.logRow(this.now(), { kind, task_id: taskId, owner, data, liveOnly }, null);
  }

  /**
   * One log row: a live event, an audit record, or both (a transition). The chain head and
   * the ids live in memory (single writer) and roll back with a failed transaction or savepoint.
   */
  private logRow(at: number, ev: LogEvent | null, au: AuditEntry | null): AuditRecord {
    const id = this.nextLogId;
    let rec: AuditRecord | null = null;
    if (au) {
      const auditId = this.nextAuditId;
      const hash = auditHash(auditId, au, this.lastHash);
      rec = { id: auditId, ...au, prev_hash: this.lastHash, hash };
    }
    this.st.insertLog.run(
      id,
      at,
      ev?.kind ?? null,
      ev?.task_id ?? null,
      ev?.owner ?? null,
      ev ? JSON.stringify(ev.data) : null,
      rec?.id ?? null,
      rec?.actor ?? null,
      rec?.origin ?? null,
      rec?.action ?? null,
      rec?.target ?? null,
      rec ? JSON.stringify(rec.detail ?? null) : null,
      rec?.prev_hash ?? null,
      rec?.hash ?? null,
    );
    this.nextLogId = id + 1;
    if (rec) {
      this.lastHash = rec.hash;
      this.nextAuditId = rec.id + 1;
    }
    if (ev)
      this.pendingEvents.push({ id, at, kind: ev.kind, task_id: ev.task_id, owner: ev.owner, data: ev.liveOnly ? { ...ev.data, ...ev.liveOnly } : ev.data });
    return rec as AuditRecord;
  }

  /** The error for a row update that matched nothing: no such task, or it is not in the state the transition starts from. */
  private missing(taskId: string, t: Transition | null): ColonyError {
    if (!t || !this.st.ownerOf.get(taskId)) return new ColonyError('E_NOT_FOUND', `no task ${taskId}`);
    return new ColonyError('E_INVALID_TRANSITION', `task ${t.id} is not ${t.from} in the store`);
  }

  private ownerOf(taskId: string): string | null {
    return (this.st.ownerOf.get(taskId) as { submitted_by: string } | undefined)?.submitted_by ?? null;
  }

  /** fn in a savepoint; on failure its SQL, audit-chain head and events roll back alone. */
  private savepoint(fn: () => unknown): Outcome {
    const saved = { hash: this.lastHash, id: this.nextAuditId, logId: this.nextLogId, events: this.pendingEvents.length };
    try {
      return { ok: true, value: this.tx(fn) };
    } catch (e) {
      if (e instanceof DeferredBatchFailed) throw e; // the whole transaction is replayed
      this.lastHash = saved.hash;
      this.nextAuditId = saved.id;
      this.nextLogId = saved.logId;
      this.pendingEvents.length = saved.events;
      return { ok: false, error: wrapStoreError(e) };
    }
  }

  /** `edges`: the rows' edges when the caller read them already. */
  private withDeps(rows: TaskRow[], edges?: Iterable<{ task_id: string; depends_on: string }>): StoredTask[] {
    if (rows.length === 0) return [];
    const deps = new Map<string, string[]>();
    if (rows.length > 200 || edges) {
      for (const e of edges ??
        (this.db.prepare('SELECT task_id, depends_on FROM edges').iterate() as IterableIterator<{ task_id: string; depends_on: string }>)) {
        let l = deps.get(e.task_id);
        if (!l) deps.set(e.task_id, (l = []));
        l.push(e.depends_on);
      }
    } else {
      for (const r of rows) deps.set(r.id, this.depsOf(r.id));
    }
    return rows.map((r) => taskFromRow(r, deps.get(r.id) ?? []));
  }
}

function notIn(t: Transition): ColonyError {
  return new ColonyError('E_INVALID_TRANSITION', `task ${t.id} is not ${t.from} in the store`);
}

/** A write that must change a row: deferred where the statement can be (its batch fails if not), else run and checked. */
function runChecked(st: SqlStatement, none: () => Error, ...params: unknown[]): void {
  if (st.runChecked) st.runChecked(none, ...params);
  else if (st.run(...params).changes === 0) throw none();
}

/** The hot writes conditioned on what the store knows (TaskFacts) rather than returning it. */
function knownWrites(db: Db): Record<'setState' | 'bumpAttemptAndSetState' | 'addTaskCost' | 'addTaskCostAndSetState', SqlStatement> {
  const fold = `cost_usd = cost_usd + @cost, cost_unknown = MAX(cost_unknown, @unknown), tokens_in = tokens_in + @input, tokens_out = tokens_out + @output,
    tokens_cache_read = tokens_cache_read + @cache_read, tokens_cache_write = tokens_cache_write + @cache_write`;
  return {
    setState: db.prepare('UPDATE tasks SET state = ?, state_reason = ?, updated_at = ? WHERE id = ? AND state = ? AND submitted_by = ? AND graph_id = ?'),
    bumpAttemptAndSetState: db.prepare(`UPDATE tasks SET attempt = attempt + 1, state = ?, state_reason = ?, updated_at = ?
      WHERE id = ? AND state = ? AND attempt = ? AND submitted_by = ? AND graph_id = ?`),
    addTaskCost: db.prepare(`UPDATE tasks SET ${fold} WHERE id = @task_id AND submitted_by = @owner AND graph_id = @graph`),
    addTaskCostAndSetState: db.prepare(`UPDATE tasks SET ${fold}, state = @to, state_reason = @reason, updated_at = @at
      WHERE id = @task_id AND state = @from AND submitted_by = @owner AND graph_id = @graph`),
  };
}

/** Output rows are at most this many characters: a live event and a replayed one stay bounded. */
const OUTPUT_CHUNK = 16 * 1024;

function outputBytesOf(db: Db, taskId: string): number {
  return (db.prepare('SELECT COALESCE(SUM(length(CAST(text AS BLOB))), 0) AS n FROM task_output WHERE task_id = ?').get(taskId) as { n: number }).n;
}

function* mapIter<A, B>(it: Iterable<A>, fn: (a: A) => B): Generator<B> {
  for (const a of it) yield fn(a);
}

function safeParse(s: string): unknown {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return s;
  }
}

function wrapStoreError(e: unknown): unknown {
  if (e instanceof ColonyError) return e;
  const err = e as { code?: string; message?: string };
  if (typeof err.code === 'string' && err.code.startsWith('SQLITE_')) {
    const hint = err.code === 'SQLITE_FULL' ? ' (disk full: free space and retry)' : err.code === 'SQLITE_READONLY' ? ' (database is read-only)' : '';
    return new ColonyError('E_STORE', `database write failed: ${err.message ?? err.code}${hint}`);
  }
  return e;
}
