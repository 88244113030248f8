/**
 * One cgroup (v2) per attempt, where this process may make one: a child of
 * our own cgroup named `colony-attempts/<name>`. Every process the attempt
 * starts stays in it, `setsid` or not, so `cgroup.kill` ends exactly the
 * attempt's tree. Where cgroup v2 is not mounted writable (containers,
 * unprivileged users without delegation) this returns null and the process
 * group (plus the environment tag) is what finds the tree.
 *
 * COLONY_ATTEMPT_CGROUP=off (colony's own environment) turns it off.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

let baseCache: string | null | undefined;

/** Where cgroup v2 is mounted and this process's cgroup in it, or null (no cgroup v2). */
export function ownCgroupV2(): { mount: string; own: string } | null {
  const mount = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .find((f) => f[f.indexOf('-') + 1] === 'cgroup2')?.[4];
  const own = readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'))
    ?.slice(3);
  return mount && own !== undefined ? { mount, own } : null;
}

/** Where attempt cgroups are made, or null when they cannot be. */
export function attemptCgroupBase(): string | null {
  if (process.env['COLONY_ATTEMPT_CGROUP'] === 'off') return null;
  if (baseCache !== undefined) return baseCache;
  baseCache = null;
  try {
    const cg = ownCgroupV2();
    if (!cg) return null;
    const base = join(cg.mount, cg.own, 'colony-attempts');
    mkdirSync(base, { recursive: true });
    if (!existsSync(join(base, 'cgroup.procs')) || !existsSync(join(base, 'cgroup.kill'))) return null;
    baseCache = base;
  } catch {
    baseCache = null;
  }
  return baseCache;
}

// Emptied attempt cgroups of this process, ready for the next attempt: a mkdir and an rmdir
// per attempt were ~2 ms of the host's event loop each under load. Named `p<pid>-<n>` so the
// prune of another colony process leaves them alone while this one lives (`p<pid>-<n>.<first attempt>`).
const free: string[] = [];
let made = 0;
const POOL_MAX = 64;

/** A cgroup for one attempt (an emptied one of this process, or a fresh one), or null. */
export function makeAttemptCgroup(name: string): string | null {
  const base = attemptCgroupBase();
  if (!base) return null;
  for (let dir = free.pop(); dir !== undefined; dir = free.pop()) {
    if (existsSync(join(dir, 'cgroup.procs'))) return dir; // still there (nobody pruned it)
  }
  // Named after the attempt that made it (later ones reuse it: the record of each attempt names it).
  const dir = join(base, `p${process.pid}-${++made}.${name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 180)}`);
  try {
    mkdirSync(dir);
    return dir;
  } catch {
    return null;
  }
}

const emptied = (dir: string): boolean => /\bpopulated 0\b/.test(readFileSync(join(dir, 'cgroup.events'), 'utf8'));

/**
 * Kills everything left in the cgroup; once it is empty (the kernel ends the
 * tasks asynchronously: retried) it goes back to the pool, or is removed
 * when the pool is full.
 */
export function endAttemptCgroup(dir: string | null, tries = 50): void {
  if (!dir) return;
  try {
    // Most attempts end with their cgroup already empty: one read instead of a kill and a read.
    if (!emptied(dir)) writeFileSync(join(dir, 'cgroup.kill'), '1');
  } catch {
    return; // already removed
  }
  const attempt = (left: number): void => {
    try {
      if (!emptied(dir)) throw new Error('populated');
      if (free.length < POOL_MAX) free.push(dir);
      else rmdirSync(dir);
    } catch {
      if (left > 0) setTimeout(() => attempt(left - 1), 20).unref();
    }
  };
  attempt(tries);
}

/** How many emptied attempt cgroups wait for reuse (tests). */
export const pooledAttemptCgroups = (): number => free.length;

/** The pool's cgroups are removed when this process ends normally (a killed one leaves them to the prune). */
process.once('exit', () => {
  for (const dir of free.splice(0)) {
    try {
      rmdirSync(dir);
    } catch {
      /* in use or gone */
    }
  }
});

const poolOfLiveProcess = (name: string): boolean => {
  const m = /^p(\d+)-\d+\./.exec(name);
  if (!m || Number(m[1]) === process.pid) return false;
  try {
    process.kill(Number(m[1]), 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Removes attempt cgroups left empty by a process that died before it could
 * (e.g. killed while the kernel was still letting go of a killed tree). Only
 * ones older than `minAgeMs`: a fresh one may be about to receive its leader.
 */
export function pruneEmptyAttemptCgroups(minAgeMs = 60_000, now = Date.now(), only: (name: string) => boolean = () => true): number {
  const base = attemptCgroupBase();
  if (!base) return 0;
  let removed = 0;
  let names: string[] = [];
  try {
    names = readdirSync(base, { withFileTypes: true })
      .filter((d) => d.isDirectory() && only(d.name) && !poolOfLiveProcess(d.name) && !free.includes(join(base, d.name)))
      .map((d) => d.name);
  } catch {
    return 0;
  }
  for (const name of names) {
    const dir = join(base, name);
    try {
      if (now - statSync(dir).mtimeMs < minAgeMs) continue;
      if (!/\bpopulated 0\b/.test(readFileSync(join(dir, 'cgroup.events'), 'utf8'))) continue;
      rmdirSync(dir);
      removed++;
    } catch {
      /* in use, or gone meanwhile */
    }
  }
  return removed;
}
