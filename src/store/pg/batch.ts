/**
 * A batch of statements in one round trip (worker side): their parameters
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
import pg from 'pg';
import type { BatchResult } from './protocol.js';

const LITERAL = /('(?:[^']|'')*')/;
const PLAIN_INSERT = /^\s*(INSERT\s+INTO\s+(\w+)\s*\([^)]*\)\s*VALUES)\s*(\([^;]*\))\s*$/i;

interface Item {
  sql: string;
  params: unknown[];
}

export async function runBatch(c: pg.Client, items: Item[]): Promise<BatchResult[]> {
  const plan = merge(items);
  if (plan) {
    const r = (await c.query(plan.texts.join(';\n'))) as pg.QueryResult | pg.QueryResult[];
    const results = (Array.isArray(r) ? r : [r]).map((x) => ({ rows: (x.rows ?? []) as Record<string, unknown>[], rowCount: x.rowCount ?? 0 }));
    return plan.of.map((k) => (k < 0 ? { rows: [], rowCount: 1 } : (results[k] as BatchResult)));
  }
  const out: BatchResult[] = [];
  for (const i of items) {
    const r = await c.query({ text: i.sql, values: i.params });
    out.push({ rows: r.rows as Record<string, unknown>[], rowCount: r.rowCount ?? 0 });
  }
  return out;
}

/**
 * The statements to send, and for each item the index of its result among
 * them (-1: a row of a multi-row INSERT, which inserted exactly one row or
 * failed the batch). Null if a value cannot be inlined.
 */
export function merge(items: readonly Item[]): { texts: string[]; of: number[] } | null {
  const texts: string[] = [];
  const parts: string[][] = []; // per text: its VALUES tuples when it is a multi-row INSERT
  const of: number[] = [];
  const open = new Map<string, { at: number; table: RegExp }>();
  for (const item of items) {
    const ins = PLAIN_INSERT.exec(item.sql);
    if (ins && !/\b(RETURNING|ON\s+CONFLICT)\b/i.test(item.sql)) {
      const tuple = inline(ins[3] as string, item.params);
      if (tuple === null) return null;
      const run = open.get(ins[1] as string);
      if (run) {
        (parts[run.at] as string[]).push(tuple);
        of.push(-1);
        continue;
      }
      open.set(ins[1] as string, { at: texts.length, table: new RegExp(`\\b${ins[2] as string}\\b`, 'i') });
      of.push(texts.length);
      texts.push(ins[1] as string);
      parts.push([tuple]);
      continue;
    }
    const text = inline(item.sql, item.params);
    if (text === null) return null;
    if (/^\s*ROLLBACK\b/i.test(item.sql)) open.clear();
    for (const [key, run] of open) if (run.table.test(item.sql)) open.delete(key);
    of.push(texts.length);
    texts.push(text);
    parts.push([]);
  }
  return { texts: texts.map((t, i) => (parts[i]?.length ? `${t} ${(parts[i] as string[]).join(', ')}` : t)), of };
}

/** The statement with its `$n` replaced by literals (outside string literals), or null if a value has no literal form here. */
export function inline(sql: string, params: unknown[]): string | null {
  const values: string[] = [];
  for (const v of params) {
    const l = literal(v);
    if (l === null) return null;
    values.push(l);
  }
  if (values.length === 0) return sql;
  return sql
    .split(LITERAL)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/\$(\d+)/g, (m, n: string) => values[Number(n) - 1] ?? m)))
    .join('');
}

function literal(v: unknown): string | null {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'string') return pg.escapeLiteral(v);
  if (typeof v === 'number' || typeof v === 'bigint') return `'${String(v)}'`;
  return null;
}
