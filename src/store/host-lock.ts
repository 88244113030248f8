/**
 * One host process per COLONY_HOME: the store keeps the audit chain head in
 * memory and recovery assumes running attempts belong to a dead process, so
 * two writers must never share a home.
 *
 * The lock is an SQLite database file held with `locking_mode=EXCLUSIVE` and
 * an open write transaction for the life of the process. The OS releases it
 * when the process dies however it dies (SIGKILL, OOM, power), so there is no
 * stale lock to clean up and a reused PID can never block a home. The PID is
 * written next to it (`<lock>.pid`) only to name the holder in the message.
 * This file lives in src/store because only the store talks to SQLite.
 *
 * POSIX record locks are per process and dropped when the process closes ANY
 * descriptor of the file, so nothing else in the host may open the lock file
 * (its name ends in .db, which the protected-file guard never reads).
 */
import Database from 'better-sqlite3';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { ColonyError } from '../core/errors.js';

export interface HostLock {
  release(): void;
}

type Db = Database.Database;
type Take = { ok: true; db: Db } | { ok: false; busy: boolean; error: unknown };

const pidFileOf = (file: string): string => `${file}.pid`;

/** Opens the lock file and tries to hold it; never waits for another holder. */
function take(file: string): Take {
  let db: Db | null = null;
  try {
    db = new Database(file, { timeout: 0 });
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    return { ok: true, db };
  } catch (e) {
    db?.close();
    return { ok: false, busy: sqliteCode(e) === 'SQLITE_BUSY' || sqliteCode(e) === 'SQLITE_LOCKED', error: e };
  }
}

function sqliteCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** The PID the holder wrote, for the message only (it is never checked). */
function namedPid(file: string): number | null {
  try {
    const pid = Number(readFileSync(pidFileOf(file), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

export function acquireHostLock(file: string, what: string): HostLock {
  let t = take(file);
  if (!t.ok && !t.busy && sqliteCode(t.error) === 'SQLITE_NOTADB') {
    rmSync(file, { force: true }); // a PID file from an older colony: nobody can hold it
    t = take(file);
  }
  if (!t.ok) {
    if (!t.busy) throw new ColonyError('E_STORE', `cannot take the host lock ${file}: ${t.error instanceof Error ? t.error.message : String(t.error)}`);
    const pid = namedPid(file);
    const who = pid === null ? 'another colony process' : `another colony process (pid ${pid})`;
    throw new ColonyError('E_CONFLICT', `${who} is using this home; stop it or use \`colony submit\` to send it work (${what})`);
  }
  const db = t.db;
  writeFileSync(pidFileOf(file), String(process.pid), { mode: 0o600 });
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.removeListener('exit', release);
    if (namedPid(file) === process.pid) rmSync(pidFileOf(file), { force: true });
    db.close(); // ends the transaction: the lock is free
  };
  process.once('exit', release);
  return { release };
}

/** The PID of the process holding the lock, 0 if it is held but names none, null if nobody holds it. */
export function lockHolder(file: string): number | null {
  const t = take(file);
  if (t.ok) {
    t.db.close();
    return null;
  }
  return t.busy ? (namedPid(file) ?? 0) : null;
}
