/**
 * One host process per COLONY_HOME: the store keeps the audit chain head in
 * memory and recovery assumes running attempts belong to a dead process, so
 * two writers must never share a home. A pid file with O_EXCL; a stale one
 * (its pid is gone) is taken over.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { ColonyError } from '../core/errors.js';

export interface HostLock {
  release(): void;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function lockHolder(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && pidAlive(pid) ? pid : null;
  } catch {
    return null;
  }
}

export function acquireHostLock(file: string, what: string): HostLock {
  for (let tries = 0; tries < 2; tries++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx', mode: 0o600 });
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        if (lockHolder(file) === process.pid) rmSync(file, { force: true });
      };
      process.once('exit', release);
      return { release };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = lockHolder(file);
      if (holder !== null && holder !== process.pid) {
        throw new ColonyError('E_CONFLICT', `another colony process (pid ${holder}) is using this home; stop it or use \`colony submit\` to send it work (${what})`);
      }
      rmSync(file, { force: true }); // stale: its process is gone
    }
  }
  throw new ColonyError('E_CONFLICT', `cannot take the host lock ${file}`);
}
