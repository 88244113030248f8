/**
 * The batch a PostgreSQL transaction's deferred writes are sent in (store/pg/batch.ts):
 * values inlined as literals that cannot break out of their quotes, and plain INSERTs
 * of one statement merged into a multi-row INSERT only where moving a row is safe.
 */
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { inline, merge } from '../../src/store/pg/batch.js';

const LOG = 'INSERT INTO log (id, kind) VALUES ($1, $2)';

describe('pg batch', () => {
  it('inlines values as quoted literals; placeholders inside string literals stay as they are', () => {
    expect(inline("UPDATE t SET a = $1, b = $2, c = '$1' WHERE id = $3", [5, null, "o'k"])).toBe("UPDATE t SET a = '5', b = NULL, c = '$1' WHERE id = 'o''k'");
    expect(
      inline(
        'SELECT $10, $1',
        Array.from({ length: 10 }, (_, i) => i + 1),
      ),
    ).toBe("SELECT '10', '1'");
  });

  it('keeps an attacker value inside its literal (quotes, backslashes, comments)', () => {
    expect(inline('UPDATE t SET a = $1', ["x'; DROP TABLE t; --"])).toBe("UPDATE t SET a = 'x''; DROP TABLE t; --'");
    expect(inline('UPDATE t SET a = $1', ["\\'; DROP TABLE t; --"])).toBe("UPDATE t SET a =  E'\\\\''; DROP TABLE t; --'");
    expect(inline('UPDATE t SET a = 1 -$1', [-5])).toBe("UPDATE t SET a = 1 -'-5'"); // never `--5`, a comment
  });

  it('quotes strings exactly as node-postgres escapeLiteral does', () => {
    for (const v of ['plain', "it's", 'a\\b', "a\\'b''", '', '\\', 'x\ny\u0000'.slice(0, 3), 'ünï ✓'])
      expect(inline('SELECT $1', [v])).toBe(`SELECT ${pg.escapeLiteral(v)}`);
  });

  it('has no literal for a Buffer: the batch then runs statement by statement', () => {
    expect(inline('INSERT INTO b (v) VALUES ($1)', [Buffer.from('x')])).toBeNull();
    expect(merge([{ sql: 'INSERT INTO b (v) VALUES ($1)', params: [Buffer.from('x')] }])).toBeNull();
  });

  it('merges plain INSERTs of one statement into a multi-row INSERT where the first was', () => {
    const plan = merge([
      { sql: 'BEGIN', params: [] },
      { sql: LOG, params: [1, 'a'] },
      { sql: 'UPDATE tasks SET state = $1', params: ['x'] },
      { sql: LOG, params: [2, 'b'] },
      { sql: 'COMMIT', params: [] },
    ]);
    expect(plan?.texts).toEqual(['BEGIN', "INSERT INTO log (id, kind) VALUES ('1', 'a'), ('2', 'b')", "UPDATE tasks SET state = 'x'", 'COMMIT']);
    expect(plan?.of).toEqual([0, 1, 2, -1, 3]);
  });

  it('never moves a row past a statement naming its table, a ROLLBACK, or into an INSERT … RETURNING / ON CONFLICT', () => {
    const texts = (items: { sql: string; params: unknown[] }[]): number => merge(items)?.texts.length ?? -1;
    expect(
      texts([
        { sql: LOG, params: [1, 'a'] },
        { sql: 'DELETE FROM log WHERE id = $1', params: [1] },
        { sql: LOG, params: [1, 'b'] },
      ]),
    ).toBe(3);
    expect(
      texts([
        { sql: LOG, params: [1, 'a'] },
        { sql: 'ROLLBACK TO SAVEPOINT sp1', params: [] },
        { sql: LOG, params: [2, 'b'] },
      ]),
    ).toBe(3);
    const ret = 'INSERT INTO o (v) VALUES ($1) RETURNING id';
    expect(
      texts([
        { sql: ret, params: [1] },
        { sql: ret, params: [2] },
      ]),
    ).toBe(2);
    const ignore = 'INSERT INTO o (v) VALUES ($1) ON CONFLICT DO NOTHING';
    expect(
      texts([
        { sql: ignore, params: [1] },
        { sql: ignore, params: [2] },
      ]),
    ).toBe(2);
  });

  describe('checked UPDATEs of one text', () => {
    const SET = 'WITH changed AS (UPDATE tasks SET state = $1 WHERE id = $2 AND state = $3 RETURNING 1) SELECT 1 / COUNT(*) AS ok FROM changed';
    const shape = { types: ['text', 'text', 'text'], key: ['id'] };
    const shapes = (sql: string): typeof shape | null => (sql === SET ? shape : null);
    const set = (id: string): { sql: string; params: unknown[] } => ({ sql: SET, params: ['running', id, 'assigned'] });

    it('become one UPDATE … FROM (VALUES …), typed by its first row, that fails unless every row was changed', () => {
      const plan = merge([{ sql: 'BEGIN', params: [] }, set('a'), { sql: LOG, params: [1, 'x'] }, set("b'"), { sql: 'COMMIT', params: [] }], shapes);
      expect(plan?.texts).toEqual([
        'BEGIN',
        "WITH changed AS (UPDATE tasks SET state = _v._p1 FROM (VALUES ('running'::text, 'a'::text, 'assigned'::text), ('running', 'b''', 'assigned'))" +
          ' AS _v(_p1, _p2, _p3) WHERE id = _v._p2 AND state = _v._p3 RETURNING 1) SELECT 1 / (COUNT(*) = 2)::int AS ok FROM changed',
        "INSERT INTO log (id, kind) VALUES ('1', 'x')",
        'COMMIT',
      ]);
      expect(plan?.of).toEqual([0, 1, 2, -1, 3]);
      expect(plan?.updates).toBe(1);
    });

    it('stay apart when the text is not known yet, or alone, or with a statement naming the table between them', () => {
      expect(merge([set('a'), set('b')])?.texts).toHaveLength(2); // no shapes: not learned
      expect(merge([set('a')], shapes)?.texts).toEqual([
        "WITH changed AS (UPDATE tasks SET state = 'running' WHERE id = 'a' AND state = 'assigned' RETURNING 1) SELECT 1 / COUNT(*) AS ok FROM changed",
      ]);
      const between = merge([set('a'), { sql: 'UPDATE tasks SET seq = $1', params: [1] }, set('b')], shapes);
      expect(between?.texts).toHaveLength(3);
      expect(between?.updates).toBe(0);
    });

    it('are never merged unless the WHERE pins the whole key, without OR, parentheses or a subquery', () => {
      const wrap = (body: string): string => `WITH changed AS (${body} RETURNING 1) SELECT 1 / COUNT(*) AS ok FROM changed`;
      const texts = [
        wrap('UPDATE tasks SET state = $1 WHERE graph_id = $2 AND state = $3'), // the key is not pinned: one write could change several rows
        wrap('UPDATE tasks SET state = $1 WHERE id = $2 OR state = $3'),
        wrap('UPDATE tasks SET state = $1 WHERE id = $2 AND (state = $3)'),
        wrap('UPDATE tasks SET state = (SELECT $1) WHERE id = $2 AND state = $3'),
        wrap('UPDATE attempts SET state = $1 WHERE task_id = $2 AND state = $3'), // attempts' key is (task_id, attempt)
      ];
      for (const sql of texts) {
        const keyed = { types: ['text', 'text', 'text'], key: sql.includes('attempts') ? ['task_id', 'attempt'] : ['id'] };
        const plan = merge(
          [1, 2].map((i) => ({ sql, params: ['x', `k${i}`, 'y'] })),
          () => keyed,
        );
        expect(plan?.texts).toHaveLength(2);
      }
    });
  });
});
