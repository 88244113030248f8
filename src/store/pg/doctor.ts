/**
 * `colony doctor`'s store check: the PostgreSQL database answers and its
 * schema version is the one this colony knows (older: the next start
 * migrates; newer: upgrade colony). Reads only; the URL is shown without its
 * password, and error texts are scrubbed of it by the worker.
 */
import { listHosts, type HostRow } from '../cluster.js';
import { MIGRATIONS } from '../migrations.js';
import { redactUrl } from './open.js';
import { PgDb } from './pg-db.js';

export interface StoreCheck {
  url: string;
  reachable: boolean;
  schema_version: number | null;
  expected_version: number;
  ok: boolean;
  problem: string | null;
  /** The colony hosts on this database with their lease state (several hosts, issue 19); null before migration 15. */
  hosts: HostRow[] | null;
}

export function checkPgStore(url: string, timeoutMs = 10_000): StoreCheck {
  const expected = Math.max(...MIGRATIONS.map((m) => m.version));
  const base = { url: redactUrl(url), expected_version: expected };
  const db = new PgDb(url, timeoutMs);
  try {
    db.prepare('SELECT 1').get();
  } catch (e) {
    db.close();
    return { ...base, reachable: false, schema_version: null, ok: false, problem: (e as Error).message, hosts: null };
  }
  try {
    const has = db.prepare("SELECT to_regclass('schema_version') IS NOT NULL AS t").pluck().get() === true;
    const v = has ? Number(db.prepare('SELECT COALESCE(MAX(version), 0) FROM schema_version').pluck().get()) : 0;
    const problem =
      v > expected
        ? `schema version ${v} is newer than this colony (${expected}): upgrade colony`
        : v < expected
          ? `schema version ${v}: the next start migrates to ${expected}`
          : null;
    const hosts = has && db.prepare("SELECT to_regclass('hosts') IS NOT NULL AS t").pluck().get() === true ? listHosts(db) : null;
    return { ...base, reachable: true, schema_version: v, ok: v <= expected, problem, hosts };
  } catch (e) {
    return { ...base, reachable: true, schema_version: null, ok: false, problem: (e as Error).message, hosts: null };
  } finally {
    db.close();
  }
}
