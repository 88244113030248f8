/**
 * Finding and ending an attempt's processes when the process that started
 * them is gone (host or worker crash), without ever killing a stranger:
 *
 *  - boot: a record from another boot names nothing alive (a reboot ended it);
 *  - cgroup: the attempt's own cgroup v2 (made by us, one per attempt) is
 *    ended with `cgroup.kill`, which also reaches `setsid`-escaped children;
 *  - process group: the leader's pid is the group id. Linux keeps a pid
 *    allocated while it names a live group, so either the leader is still
 *    there with the recorded start time (ours), or /proc/<pgid> is absent and
 *    every member of the group is ours; a leader with another start time means
 *    the pid was reused and the group is someone else's: left alone;
 *  - tag: a random COLONY_ATTEMPT_TAG in the children's environment finds
 *    escaped children where no cgroup could be made.
 * Only processes that started at or after the leader are candidates.
 *
 * `sweepCore` is self-contained on purpose (its dependencies are parameters):
 * the reaper (reaper.ts) runs its source text in a separate `node -e` process.
 */
import * as fs from 'node:fs';
import type { AttemptProcess } from '../core/engine.js';

export const TAG_VAR = 'COLONY_ATTEMPT_TAG';

export interface SweepResult {
  /** Processes that were found alive and sent SIGKILL. */
  killed: number;
  /** The same, per record (in the order given). */
  killedPer: number[];
  /** Pids still alive when the timeout passed (empty on success). */
  remaining: number[];
}

type Fs = Pick<typeof fs, 'readFileSync' | 'readdirSync' | 'writeFileSync' | 'rmdirSync'>;

/**
 * Kills every process of `recs` (SIGKILL; these attempts are already given
 * up) and waits until none is alive or `timeoutMs` passed. Synchronous: the
 * caller must not requeue anything before it returns. One pass over /proc per
 * round serves every record.
 */
export function sweepCore(fsx: Fs, recs: readonly AttemptProcess[], bootId: string, timeoutMs: number, selfPid: number): SweepResult {
  const statOf = (pid: number): { state: string; pgid: number; start: number } | null => {
    try {
      const s = fsx.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      return { state: f[0] ?? '?', pgid: Number(f[2]), start: Number(f[19]) };
    } catch {
      return null;
    }
  };
  const live = (st: { state: string } | null): boolean => st !== null && st.state !== 'Z' && st.state !== 'X';
  const killedPer = recs.map(() => 0);
  // Records of this boot; a group is ours when its leader is gone or still the recorded process.
  const groups = recs
    .map((r, i) => ({ r, i }))
    .filter(({ r }) => r.boot_id === bootId && r.pid > 1 && r.pgid > 1 && r.pgid !== selfPid)
    .map(({ r, i }) => {
      const leader = statOf(r.pgid);
      return { r, i, ours: leader === null || leader.start === r.start_ticks };
    });
  const byPgid = new Map(groups.filter((g) => g.ours).map((g) => [g.r.pgid, g]));
  const byTag = new Map(groups.filter((g) => g.r.tag).map((g) => [g.r.tag, g]));
  const minStart = Math.min(...groups.map((g) => g.r.start_ticks));
  const cgroupPids = (cg: string): number[] => {
    try {
      return fsx.readFileSync(`${cg}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  const tagOf = (pid: number): string | null => {
    try {
      const m = /(?:^|\u0000)COLONY_ATTEMPT_TAG=([0-9a-f]+)(?:\u0000|$)/.exec(fsx.readFileSync(`/proc/${pid}/environ`, 'latin1'));
      return m ? (m[1] ?? null) : null;
    } catch {
      return null; // exited, or not ours to read
    }
  };
  /** Live processes of the attempts, each with the record it belongs to. */
  const find = (): Map<number, number> => {
    const out = new Map<number, number>();
    for (const g of groups) {
      if (!g.r.cgroup) continue;
      try {
        fsx.writeFileSync(`${g.r.cgroup}/cgroup.kill`, '1');
      } catch {
        /* gone already, or a kernel without cgroup.kill: members are still found below */
      }
      for (const p of cgroupPids(g.r.cgroup)) if (p !== selfPid && live(statOf(p))) out.set(p, g.i);
    }
    let entries: string[] = [];
    try {
      entries = fsx.readdirSync('/proc');
    } catch {
      return out;
    }
    for (const e of entries) {
      const pid = Number(e);
      if (!Number.isInteger(pid) || pid <= 1 || pid === selfPid || out.has(pid)) continue;
      const st = statOf(pid);
      if (st === null || !live(st) || st.start < minStart) continue;
      let g = byPgid.get(st.pgid);
      if (!g || st.start < g.r.start_ticks) {
        const tag = byTag.size > 0 ? tagOf(pid) : null;
        g = tag === null ? undefined : byTag.get(tag);
        if (g && st.start < g.r.start_ticks) g = undefined;
      }
      if (g) out.set(pid, g.i);
    }
    return out;
  };
  const pause = (ms: number): void => {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  };
  let killed = 0;
  const seen = new Set<number>();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = groups.length > 0 ? find() : new Map<number, number>();
    for (const g of groups) {
      if (!g.ours) continue;
      try {
        process.kill(-g.r.pgid, 'SIGKILL'); // the whole group at once: nothing in it can fork away meanwhile
      } catch {
        /* no such group: its members are gone */
      }
    }
    for (const [pid, i] of alive) {
      if (!seen.has(pid)) {
        seen.add(pid);
        killed++;
        killedPer[i] = (killedPer[i] ?? 0) + 1;
      }
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* exited meanwhile */
      }
    }
    if (alive.size === 0) break;
    if (Date.now() > deadline) return { killed, killedPer, remaining: [...alive.keys()] };
    pause(10);
  }
  // The cgroups go too; the kernel lets go of killed tasks a moment after they die (EBUSY until then).
  for (const g of groups) {
    if (!g.r.cgroup) continue;
    for (let tries = 0; tries < 20; tries++) {
      try {
        fsx.rmdirSync(g.r.cgroup);
        break;
      } catch (e) {
        if ((e as { code?: string }).code === 'ENOENT') break;
        pause(10);
      }
    }
  }
  return { killed, killedPer, remaining: [] };
}

let bootIdCache: string | null = null;

export function bootId(): string {
  if (bootIdCache === null) {
    try {
      bootIdCache = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      bootIdCache = 'unknown';
    }
  }
  return bootIdCache;
}

/** Start time in clock ticks since boot (/proc/<pid>/stat field 22); null when the process is gone. */
export function startTicks(pid: number): number | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const v = Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[19]);
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

/** Ends the processes of these attempts (see the file comment) and waits until they are gone. */
export function sweepAttempts(recs: readonly AttemptProcess[], timeoutMs = 5000): SweepResult {
  if (recs.length === 0) return { killed: 0, killedPer: [], remaining: [] };
  return sweepCore(fs, recs, bootId(), timeoutMs, process.pid);
}
