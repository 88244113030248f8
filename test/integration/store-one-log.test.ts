/**
 * One log row per transition (issue 17, migration 14): a transition writes a
 * single `log` row that is both its live event and its audit record; a
 * database from before the migration keeps its events (same ids, so replay
 * cursors stay valid) and its audit chain, which new records extend.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { auditHash, GENESIS_HASH } from '../../src/core/audit-chain.js';
import { Scheduler } from '../../src/core/scheduler.js';
import { openDb } from '../../src/store/db.js';
import { dbOf } from '../../src/store/internal.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { Store, SYSTEM } from '../../src/store/store.js';
import { makeTempDir } from '../helpers/proc.js';
import { submit, task } from './store-conformance.js';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function tempDb(): string {
  const tmp = makeTempDir('colony-onelog-');
  cleanups.push(tmp.cleanup);
  return join(tmp.dir, 'colony.db');
}

const logRows = (s: Store): number => (dbOf(s).prepare('SELECT COUNT(*) AS n FROM log').get() as { n: number }).n;

describe('one log row per transition', () => {
  it('a transition adds exactly one row, which is both the live event and the audit record', () => {
    const store = Store.open(tempDb());
    cleanups.push(() => store.close());
    const sched = new Scheduler();
    submit(store, sched, 'g', [task('g:a'), task('g:b', ['g:a'])]);
    const before = logRows(store);
    const live: string[] = [];
    store.subscribe((es) => live.push(...es.map((e) => e.kind)));
    store.applyTransitions(sched.claim('host', 1), SYSTEM);
    expect(logRows(store) - before).toBe(1);
    expect(live).toEqual(['task.state']);
    const row = dbOf(store).prepare('SELECT * FROM log ORDER BY id DESC LIMIT 1').get() as Record<string, unknown>;
    expect(row['kind']).toBe('task.state');
    expect(row['action']).toBe('task.transition');
    expect(row['audit_id']).toBe(store.listAudit({ limit: 1 })[0]?.id);
    expect(store.eventsSince(before)[0]?.data).toEqual({ graph_id: 'g', from: 'ready', to: 'assigned', reason: 'claimed' });
    expect(store.verifyAudit().ok).toBe(true);
  });

  it('migrates a database with separate events and audit tables: event ids, records and the chain survive', () => {
    const file = tempDb();
    const old = openDb(
      file,
      MIGRATIONS.filter((m) => m.version < 14),
    );
    const entries = [1, 2, 3].map((i) => ({ at: 1000 + i, actor: 'admin', origin: 'local', action: 'test.old', target: `x${i}`, detail: { i } }));
    let prev = GENESIS_HASH;
    entries.forEach((e, k) => {
      const hash = auditHash(k + 1, e, prev);
      old
        .prepare('INSERT INTO audit (id, at, actor, origin, action, target, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(k + 1, e.at, e.actor, e.origin, e.action, e.target, JSON.stringify(e.detail), prev, hash);
      prev = hash;
    });
    old.prepare('INSERT INTO events (id, at, kind, task_id, owner, data) VALUES (?, ?, ?, ?, ?, ?)').run(7, 1001, 'old.kind', null, null, '{"a":1}');
    old.close();

    const store = Store.open(file);
    cleanups.push(() => store.close());
    expect(store.eventsSince(0).map((e) => [e.id, e.kind, e.data])).toEqual([[7, 'old.kind', { a: 1 }]]);
    expect(store.listAudit({ limit: 10 }).map((r) => r.target)).toEqual(['x3', 'x2', 'x1']);
    const rec = store.appendAudit({ actor: 'admin', origin: 'local', action: 'test.new', target: null, detail: {} });
    expect(rec.id).toBe(4);
    expect(rec.prev_hash).toBe(prev);
    expect(store.verifyAudit()).toMatchObject({ ok: true, count: 4 });
    store.publish('new.kind', null, { b: 2 });
    const ids = store.eventsSince(0).map((e) => e.id);
    expect(ids[1]).toBeGreaterThan(7); // new events after the old ones: a client's replay cursor still works
  });
});
