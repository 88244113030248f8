/**
 * A batch of statements in one round trip: their parameters
 * are inlined as quoted literals and the statements joined into one simple
 * query, which PostgreSQL runs in order and stops at the first error (the
 * rest, a COMMIT included, is skipped). An inlined value is an untyped
 * literal, typed from its context as a `$n` parameter is (node-postgres sends
 * every parameter as untyped text too). A batch with a value that has no
 * literal form here (a Buffer) runs statement by statement instead.
 *
 * Plain INSERTs of one statement text become one multi-row INSERT (one parse
 * and plan on the server instead of one per row), placed where the first of
 * them was: a row moves earlier only past statements that do not name its
 * table (and never past a ROLLBACK TO SAVEPOINT).
 */
import type pg from 'pg';
import { checkedUpdateTable, mergedUpdate, updatePlan, type Segment, type Shapes, type UpdatePlan, type UpdateShape } from './merge-update.js';
import type { BatchResult } from './protocol.js';

const LITERAL = /('(?:[^']|'')*')/;
const PLAIN_INSERT = /^\s*(INSERT\s+INTO\s+(\w+)\s*\([^)]*\)\s*VALUES)\s*(\([^;]*\))\s*$/i;

interface Item {
  sql: string;
  params: unknown[];
}

/** Worker side: the script in one round trip (results per statement), or the items one by one (results per item). */
export async function runBatch(c: pg.Client, script: string | null, items: readonly Item[]): Promise<BatchResult[]> {
  if (script !== null) {
    const r = (await c.query(script)) as pg.QueryResult | pg.QueryResult[];
    return (Array.isArray(r) ? r : [r]).map((x) => ({ rows: (x.rows ?? []) as Record<string, unknown>[], rowCount: x.rowCount ?? 0 }));
  }
  const out: BatchResult[] = [];
  for (const i of items) {
    const r = await c.query({ text: i.sql, values: i.params });
    out.push({ rows: r.rows as Record<string, unknown>[], rowCount: r.rowCount ?? 0 });
  }
  return out;
}

/** Main side: each item's result from the script's results (`of`, from merge). */
export function resultsOf(of: readonly number[], results: readonly BatchResult[]): BatchResult[] {
  return of.map((k) => (k < 0 ? { rows: [], rowCount: 1 } : (results[k] ?? { rows: [], rowCount: 0 })));
}

/**
 * The statements to send, and for each item the index of its result among
 * them (-1: a row of a multi-row INSERT, which inserted exactly one row or
 * failed the batch, or of a merged checked UPDATE, whose result is not read).
 * Null if a value cannot be inlined. `shapes`: what the server said of a
 * checked UPDATE's text (merge-update.ts); without it, UPDATEs are not merged.
 */
export function merge(items: readonly Item[], shapes: Shapes = () => null): { texts: string[]; of: number[]; updates: number } | null {
  const texts: string[] = [];
  const runs: (Run | null)[] = []; // per text: the run merged into it, if any
  const of: number[] = [];
  const open = new Map<Template, Run>(); // a run still open for more rows
  let updates = 0; // UPDATEs folded into an earlier one
  for (const item of items) {
    const t = template(item.sql);
    const plan = t.insert ?? updateOf(t, item.sql, shapes);
    // Nothing moves earlier past a statement naming its table (this one included, unless it joins that run).
    if (t.rollback) open.clear();
    for (const [other, run] of open) if (other !== t && t.names(run.table)) open.delete(other);
    if (plan) {
      const run = open.get(t);
      const tuple = fill(run ? plan.rest : plan.first, item.params);
      if (tuple === null) return null;
      if (run) {
        if (plan.kind === 'update') updates += 1;
        run.tuples.push(tuple);
        of.push(-1);
        continue;
      }
      const single = plan.kind === 'update' ? fill(t.segments, item.params) : '';
      if (single === null) return null;
      const fresh: Run = { plan, table: plan.table, tuples: [tuple], single };
      open.set(t, fresh);
      of.push(texts.length);
      texts.push('');
      runs.push(fresh);
      continue;
    }
    const text = fill(t.segments, item.params);
    if (text === null) return null;
    of.push(texts.length);
    texts.push(text);
    runs.push(null);
  }
  return { texts: texts.map((text, i) => (runs[i] ? runText(runs[i] as Run) : text)), of, updates };
}

interface Run {
  plan: Insert | UpdateRun;
  table: string;
  tuples: string[];
  /** An UPDATE run of one row: its own statement, as it was. */
  single: string;
}

function runText(run: Run): string {
  if (run.plan.kind === 'insert') return `${run.plan.head} ${run.tuples.join(', ')}`;
  return run.tuples.length === 1 ? run.single : mergedUpdate(run.plan, run.tuples);
}

/** A checked UPDATE's merge plan once its shape is known (cached per shape: each database's port has its own), or null. */
function updateOf(t: Template, sql: string, shapes: Shapes): UpdateRun | null {
  if (t.update === null) return null;
  const shape = shapes(sql);
  if (!shape) return null; // not mergeable, or not learned yet: sent as it is
  let plan = plans.get(shape);
  if (plan === undefined) {
    const p = updatePlan(sql, shape, cut);
    plans.set(shape, (plan = p ? { ...p, kind: 'update', table: t.update.table } : null));
  }
  return plan;
}

type UpdateRun = UpdatePlan & { kind: 'update'; table: string };
const plans = new WeakMap<UpdateShape, UpdateRun | null>();

/** The statement with its `$n` replaced by literals (outside string literals), or null if a value has no literal form here. */
export function inline(sql: string, params: unknown[]): string | null {
  return fill(template(sql).segments, params);
}

/** A statement cut once into text and parameter positions (statements repeat: the cache is bounded by the store's SQL). */
interface Template {
  segments: Segment[];
  insert: Insert | null;
  /** A checked UPDATE (merge-update.ts): its table. */
  update: { table: string } | null;
  rollback: boolean;
  names(table: string): boolean;
}
interface Insert {
  kind: 'insert';
  head: string; // INSERT INTO t (…) VALUES
  table: string;
  first: Segment[]; // the tuple (the same for every row)
  rest: Segment[];
}

const templates = new Map<string, Template>();

function template(sql: string): Template {
  let t = templates.get(sql);
  if (t) return t;
  const ins = PLAIN_INSERT.exec(sql);
  const plain = ins !== null && !/\b(RETURNING|ON\s+CONFLICT)\b/i.test(sql);
  const named = new Map<string, boolean>();
  const updateTable = checkedUpdateTable(sql);
  t = {
    segments: cut(sql),
    insert: plain ? insertOf(ins[1] as string, ins[2] as string, cut(ins[3] as string)) : null,
    update: updateTable === null ? null : { table: updateTable },
    rollback: /^\s*ROLLBACK\b/i.test(sql),
    names: (table) => {
      let n = named.get(table);
      if (n === undefined) named.set(table, (n = new RegExp(`\\b${table}\\b`, 'i').test(sql)));
      return n;
    },
  };
  if (templates.size > 5_000) templates.clear();
  templates.set(sql, t);
  return t;
}

function insertOf(head: string, table: string, tuple: Segment[]): Insert {
  return { kind: 'insert', head, table, first: tuple, rest: tuple };
}

function cut(sql: string): Segment[] {
  const out: Segment[] = [];
  sql.split(LITERAL).forEach((part, i) => {
    if (i % 2 === 1) return void out.push(part);
    part.split(/\$(\d+)/).forEach((p, j) => out.push(j % 2 === 1 ? Number(p) - 1 : p));
  });
  return out;
}

function fill(segments: readonly Segment[], params: readonly unknown[]): string | null {
  let s = '';
  for (const seg of segments) {
    if (typeof seg === 'string') s += seg;
    else {
      const l = seg < params.length ? literal(params[seg]) : `$${seg + 1}`;
      if (l === null) return null;
      s += l;
    }
  }
  return s;
}

/** pg's escapeLiteral, without its character loop: doubled quotes; with a backslash, an E'' literal with doubled backslashes. */
function literal(v: unknown): string | null {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number' || typeof v === 'bigint') return `'${String(v)}'`;
  if (typeof v !== 'string') return null;
  const quoted = v.includes("'") ? v.replace(/'/g, "''") : v;
  return v.includes('\\') ? ` E'${quoted.replace(/\\/g, '\\\\')}'` : `'${quoted}'`;
}
