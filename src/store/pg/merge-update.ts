/**
 * Checked single-row UPDATEs of one statement text in a deferred batch,
 * merged into one `UPDATE … FROM (VALUES …)` (batch.ts places it where the
 * first of them was). A checked write (pg-db.ts `checked`) must change a row;
 * the merged one must change exactly one row per write, else it divides by
 * zero and the batch fails: pg-db rolls the transaction back and replays it
 * step by step, where each write fails alone with its own error — the same
 * fallback as any failed batch.
 *
 * Why the result is the one of the writes run one after the other: only
 * texts whose WHERE pins the table's whole primary key (`key = $n` conjuncts,
 * no OR, no parentheses) and that hold no subquery are merged, so each write
 * reads and changes its own row only. Distinct keys → distinct rows, and the
 * order between them does not matter; a key written twice makes the merged
 * statement change fewer rows than writes (a row joined to two VALUES rows
 * is updated once), so it fails and is replayed. The VALUES columns get their
 * types from the statement as the server prepared it (`UpdateShape`, learned
 * once per text: untyped literals in VALUES would all be text).
 */
export interface UpdateShape {
  /** The server's type of each parameter, in order (`pg_prepared_statements.parameter_types`). */
  types: string[];
  /** The table's primary key columns. */
  key: string[];
}

/** A statement text's shape: known, null (not mergeable), or undefined (not learned yet). */
export type Shapes = (sql: string) => UpdateShape | null | undefined;

export type Segment = string | number; // text, or the index of a parameter

/** The merged statement cut into pieces: `head` + typed first tuple + `, ` + more tuples + `tail` + count + `end`. */
export interface UpdatePlan {
  head: string;
  first: Segment[];
  rest: Segment[];
  tail: string;
  end: string;
  params: number;
}

const CHECKED_UPDATE = /^WITH changed AS \(UPDATE\s+(\w+)\s+SET\s+([\s\S]+?)\s+WHERE\s+([\s\S]+?)\s+RETURNING 1\) SELECT 1 \/ COUNT\(\*\) AS ok FROM changed$/;

/** The table of a checked UPDATE a merge could apply to, or null. */
export function checkedUpdateTable(sql: string): string | null {
  const m = CHECKED_UPDATE.exec(sql);
  return m && !/\bSELECT\b/i.test(`${m[2] as string} ${m[3] as string}`) ? (m[1] as string) : null;
}

/** The plan to merge rows of this checked UPDATE, or null if its text does not qualify (see above). */
export function updatePlan(sql: string, shape: UpdateShape, cut: (s: string) => Segment[]): UpdatePlan | null {
  const m = CHECKED_UPDATE.exec(sql);
  // A parameter the server could not type would leave its VALUES column text: not merged.
  if (!m || shape.key.length === 0 || shape.types.length === 0 || shape.types.includes('unknown')) return null;
  const [, table, set, where] = m as unknown as [string, string, string, string];
  if (/\bSELECT\b/i.test(`${set} ${where}`) || /[()]|\bOR\b/i.test(where)) return null;
  const conjuncts = where.split(/\s+AND\s+/i).map((c) => c.trim());
  const pinned = shape.key.every((k) => conjuncts.some((c) => new RegExp(`^${k}\\s*=\\s*\\$\\d+$`, 'i').test(c)));
  if (!pinned) return null;
  const n = shape.types.length;
  const refs = (s: string): string | null => {
    let out = '';
    for (const seg of cut(s)) {
      if (typeof seg === 'string') out += seg;
      else if (seg >= n) return null;
      else out += `_v._p${seg + 1}`;
    }
    return out;
  };
  const setV = refs(set);
  const whereV = refs(where);
  if (setV === null || whereV === null) return null;
  const tuple = (typed: boolean): Segment[] => {
    const segs: Segment[] = ['('];
    shape.types.forEach((ty, i) => {
      if (i > 0) segs.push(', ');
      segs.push(i);
      if (typed) segs.push(`::${ty}`);
    });
    segs.push(')');
    return segs;
  };
  const cols = shape.types.map((_, i) => `_p${i + 1}`).join(', ');
  return {
    head: `WITH changed AS (UPDATE ${table} SET ${setV} FROM (VALUES `,
    first: tuple(true),
    rest: tuple(false),
    tail: `) AS _v(${cols}) WHERE ${whereV} RETURNING 1) SELECT 1 / (COUNT(*) = `,
    end: ')::int AS ok FROM changed',
    params: n,
  };
}

/** The merged statement for these filled tuples (two or more). */
export function mergedUpdate(plan: UpdatePlan, tuples: readonly string[]): string {
  return `${plan.head}${tuples.join(', ')}${plan.tail}${tuples.length}${plan.end}`;
}

/** What to ask the server to learn a text's shape (outside any transaction): PREPARE, read, DEALLOCATE. */
export function shapeQuery(sql: string, table: string): string {
  return `PREPARE colony_shape AS ${sql};
SELECT p.parameter_types::text[] AS types,
  (SELECT array_agg(a.attname::text ORDER BY array_position(i.indkey, a.attnum)) FROM pg_index i
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
    WHERE i.indrelid = '${table}'::regclass AND i.indisprimary) AS key
  FROM pg_prepared_statements p WHERE p.name = 'colony_shape';
DEALLOCATE colony_shape`;
}
