/** Shared by the reliability suite: a seeded rng, the built CLI, reading a host's store from outside, tmpfs mounts. */
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync } from 'node:fs';

/** The shared seeded PRNG (mulberry32), to pick kill points reproducibly. */
export { mulberry32 as rng } from '../../src/core/rng.js';

/** The seed: RELIABILITY_SEED when set (to replay a failure), else a fixed default. Printed by the tests. */
export function seedFromEnv(fallback: number): number {
  const raw = process.env['RELIABILITY_SEED'];
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isInteger(n) ? n : fallback;
}

/** Opens the host's SQLite file with a separate connection (the host is stopped or tolerates a WAL reader). */
export function withDb<T>(file: string, fn: (db: Database.Database) => T): T {
  const db = new Database(file, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    return fn(db);
  } finally {
    db.close();
  }
}

export interface TmpfsMount {
  dir: string;
  unmount(): void;
}

/** Mounts a tmpfs of `size` (e.g. '8m') on a new directory; needs root. unmount() is idempotent. */
export function mountTmpfs(dir: string, size: string): TmpfsMount {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`the disk-full test needs root to mount a tmpfs (mount -t tmpfs): ${stderr || (e as Error).message}`);
  }
  let mounted = true;
  return {
    dir,
    unmount() {
      if (!mounted) return;
      try {
        execFileSync('umount', [dir], { stdio: 'pipe' });
      } catch {
        execFileSync('umount', ['-l', dir], { stdio: 'pipe' }); // something still holds a file: detach lazily
      }
      mounted = false;
      try {
        rmdirSync(dir);
      } catch {
        /* left for the temp-dir cleanup */
      }
    },
  };
}

/** A process's resident set size in MiB, from /proc. */
export function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readProc(pid));
  return m ? Number(m[1]) / 1024 : NaN;
}

function readProc(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return '';
  }
}
