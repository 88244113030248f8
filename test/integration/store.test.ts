/**
 * The store over a real SQLite file in a temp dir: the shared conformance
 * suite (store-conformance.ts), then what only SQLite has (migrations table,
 * WAL, synchronous=NORMAL, visibility to a second connection).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/core/scheduler.js';
import { openDb, schemaVersion } from '../../src/store/db.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { Store, SYSTEM } from '../../src/store/store.js';
import { makeTempDir } from '../helpers/proc.js';
import { codeOf, describeStoreConformance, submit, task, type StoreFixture } from './store-conformance.js';
import { dbOf } from '../../src/store/internal.js';

// ---- the SQLite backend -----------------------------------------------------

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()?.();
});

function sqliteFixture(): StoreFixture & { file: string } {
  const tmp = makeTempDir('colony-store-');
  const file = join(tmp.dir, 'colony.db');
  let store = Store.open(file);
  return {
    file,
    get store() {
      return store;
    },
    reopen() {
      store.close();
      store = Store.open(file);
      return store;
    },
    dispose() {
      store.close();
      tmp.cleanup();
    },
  };
}

describeStoreConformance(sqliteFixture, 'SQLite file');

describe('SQLite store specifics', () => {
  it('applies the numbered migrations at open and records them in schema_version, once', () => {
    const fx = sqliteFixture();
    cleanups.push(() => fx.dispose());
    const latest = Math.max(...MIGRATIONS.map((m) => m.version));
    expect(schemaVersion(dbOf(fx.store))).toBe(latest);
    const rows = dbOf(fx.store).prepare('SELECT version, name FROM schema_version ORDER BY version').all();
    expect(rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
    const tables = (dbOf(fx.store).prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name);
    expect(tables).toEqual(expect.arrayContaining(['graphs', 'tasks', 'edges', 'attempts', 'log', 'schema_version']));
    // One log row per fact (migration 14): events and audit records are read-only views of it.
    const views = (dbOf(fx.store).prepare("SELECT name FROM sqlite_master WHERE type = 'view'").all() as { name: string }[]).map((r) => r.name);
    expect(views).toEqual(expect.arrayContaining(['events', 'audit']));

    const again = fx.reopen();
    expect(dbOf(again).prepare('SELECT COUNT(*) AS n FROM schema_version').get()).toEqual({ n: MIGRATIONS.length });
  });

  it('refuses a database written by a newer colony', () => {
    const fx = sqliteFixture();
    cleanups.push(() => fx.dispose());
    dbOf(fx.store).prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (999, ?, 0)').run('from the future');
    fx.store.close();
    expect(codeOf(() => openDb(fx.file))).toBe('E_STORE');
  });

  it('runs in WAL mode with synchronous=NORMAL (and in-memory sub-journals)', () => {
    const fx = sqliteFixture();
    cleanups.push(() => fx.dispose());
    expect(dbOf(fx.store).pragma('journal_mode', { simple: true })).toBe('wal');
    expect(dbOf(fx.store).pragma('synchronous', { simple: true })).toBe(1); // 0 OFF, 1 NORMAL, 2 FULL
    expect(dbOf(fx.store).pragma('foreign_keys', { simple: true })).toBe(1);
    expect(dbOf(fx.store).pragma('temp_store', { simple: true })).toBe(2); // MEMORY: savepoint sub-journals off disk
    // WAL is a property of the file: a plain connection sees it too.
    const raw = new Database(fx.file, { readonly: true });
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      raw.close();
    }
  });

  it('lets another connection see a transition by the time its event is delivered', () => {
    const fx = sqliteFixture();
    cleanups.push(() => fx.dispose());
    const sched = new Scheduler();
    submit(fx.store, sched, 'g', [task('g:a')]);
    const reader = new Database(fx.file, { readonly: true });
    cleanups.push(() => reader.close());
    const seen: string[] = [];
    fx.store.subscribe(() => seen.push((reader.prepare('SELECT state FROM tasks WHERE id = ?').get('g:a') as { state: string }).state));
    fx.store.applyTransitions(sched.claim('host', 1), SYSTEM);
    expect(seen).toEqual(['assigned']);
  });
});
