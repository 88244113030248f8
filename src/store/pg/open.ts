/**
 * Opens a PostgreSQL database as a store handle: connects, then brings the
 * schema up to date under a session advisory lock (hosts starting together
 * migrate one at a time). Each migration's PostgreSQL DDL is its `pg` text or
 * its SQLite text translated (translateDdl): the versions are the same on both.
 */
import { ColonyError } from '../../core/errors.js';
import { migrate } from '../db.js';
import { MIGRATIONS, type Migration } from '../migrations.js';
import { PgDb } from './pg-db.js';
import { translateDdl } from './translate.js';

/** Any constant both hosts agree on; names the migration lock in pg_locks. */
const MIGRATION_LOCK = 0x636f6c6f; // 'colo'

export function isPostgresUrl(target: string): boolean {
  return /^postgres(ql)?:\/\//i.test(target);
}

/** `listen`: the channel a host's store LISTENs on (store/cluster.ts); null for tools (doctor, audit verify). */
export function openPgDb(url: string, migrations: readonly Migration[] = MIGRATIONS, timeoutMs?: number, listen: string | null = null): PgDb {
  const db = new PgDb(url, timeoutMs, listen);
  try {
    db.prepare('SELECT 1').get();
  } catch (e) {
    db.close();
    throw new ColonyError('E_STORE', `cannot open database ${redactUrl(url)}: ${(e as Error).message}`);
  }
  try {
    db.prepare(`SELECT pg_advisory_lock(${MIGRATION_LOCK})`).get();
    migrate(db, migrations, (sql, m) => m?.pg ?? translateDdl(sql));
  } catch (e) {
    db.close();
    throw e;
  } finally {
    if (db.open) db.prepare(`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`).get();
  }
  return db;
}

/** The URL without its password, for messages and `colony doctor`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable url)';
  }
}
