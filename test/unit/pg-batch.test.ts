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
});
