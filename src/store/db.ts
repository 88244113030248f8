/**
 * Opens the SQLite file (WAL, synchronous=NORMAL) and brings its schema up to
 * date. The only module besides the store files that touches better-sqlite3.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ColonyError } from '../core/errors.js';
import { MIGRATIONS, type Migration } from './migrations.js';
import type { SqlDb } from './sql-port.js';

/** A store's database handle: SQLite (better-sqlite3) or PostgreSQL (store/pg), through one synchronous port. */
export type Db = SqlDb;

export function openDb(file: string, migrations: readonly Migration[] = MIGRATIONS): Db {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  let db: Database.Database;
  try {
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    // Statement and savepoint sub-journals in memory: group commit runs each write in a savepoint,
    // and a temp-file sub-journal costs a pwrite per page first touched (~25% of a grouped commit).
    db.pragma('temp_store = MEMORY');
    // Page cache up to 64 MiB (SQLite's default is 2 MiB; it grows only as pages are used): a 100k-task
    // graph's indexes then stay cached instead of being spilled and read back (issue 17, bench/README.md).
    db.pragma('cache_size = -65536');
  } catch (e) {
    throw new ColonyError('E_STORE', `cannot open database ${file}: ${(e as Error).message}`);
  }
  migrate(db, migrations);
  return db;
}

export function schemaVersion(db: Db): number {
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null };
  return row.v ?? 0;
}

/** Applies the migrations above the schema's version, each in its own transaction; `ddl` gives a migration's text for this database. */
export function migrate(db: Db, migrations: readonly Migration[], ddl: (sql: string, m: Migration | null) => string = (sql) => sql): void {
  db.exec(ddl('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)', null));
  const current = schemaVersion(db);
  const known = Math.max(0, ...migrations.map((m) => m.version));
  if (current > known) {
    throw new ColonyError('E_STORE', `database schema version ${current} is newer than this colony (${known}); upgrade colony`);
  }
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(ddl(m.sql, m));
      db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    })();
  }
}
