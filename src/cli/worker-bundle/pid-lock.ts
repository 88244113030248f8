/**
 * The bundled worker's stand-in for store/host-lock.ts (same export), swapped
 * in by scripts/build-worker.mjs: the downloadable worker cannot load
 * better-sqlite3's native module. A lock file created exclusively holds our
 * PID; a file naming a dead process is stale and taken over.
 */
import { openSync, closeSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { ColonyError } from '../../core/errors.js';

export interface HostLock {
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function holder(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function tryCreate(file: string): boolean {
  try {
    const fd = openSync(file, 'wx', 0o600);
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new ColonyError('E_STORE', `cannot take the lock ${file}: ${(e as Error).message}`);
  }
}

export function acquireHostLock(file: string, what: string): HostLock {
  const lock = `${file}.pid`;
  if (!tryCreate(lock)) {
    const pid = holder(lock);
    if (pid !== null && pid !== process.pid && alive(pid)) {
      throw new ColonyError('E_CONFLICT', `another colony worker (pid ${pid}) is using this home; stop it or use another --home (${what})`);
    }
    rmSync(lock, { force: true }); // stale: its process is gone
    if (!tryCreate(lock)) throw new ColonyError('E_CONFLICT', `another colony worker took this home just now (${what})`);
  }
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.removeListener('exit', release);
    if (holder(lock) === process.pid) rmSync(lock, { force: true });
  };
  process.once('exit', release);
  return { release };
}
