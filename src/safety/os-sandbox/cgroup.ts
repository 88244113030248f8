/**
 * Per-attempt control groups for the limits rlimits cannot give us as root:
 * RLIMIT_NPROC is not enforced for uid 0 (also not inside a user namespace
 * mapped to 0), so a fork bomb is stopped by `pids.max`, and memory by the
 * memory controller.
 *
 * cgroup v2 (a unified /sys/fs/cgroup with cgroup.controllers): a
 * `colony-tasks` group at the root with pids+memory delegated. cgroup v1
 * (hybrid hosts, e.g. this project's machines): a `colony-tasks` group
 * under colony's own group in the pids and memory hierarchies, so the
 * limits nest inside whatever limits colony itself runs under.
 * Neither writable (a container without delegation): no cgroup limits; the
 * probe says so and the processes limit is reported as not enforced.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = '/sys/fs/cgroup';

export type CgroupSetup = { kind: 'v2'; base: string } | { kind: 'v1'; pids: string | null; memory: string | null } | { kind: 'none'; why: string };

function ownV1Path(controller: string): string | null {
  try {
    for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
      const [, ctrls, p] = line.split(':');
      if (ctrls?.split(',').includes(controller) && p !== undefined) return p;
    }
  } catch {
    /* not Linux */
  }
  return null;
}

function tryDir(dir: string, probeFile: string): boolean {
  // Only inside a mounted cgroup hierarchy, one level at a time: a recursive mkdir under a bare
  // /sys/fs/cgroup (e.g. in `ip netns exec`, which remounts /sys) never returns on Node 20.
  if (!existsSync(path.join(path.dirname(dir), 'cgroup.procs'))) return false;
  try {
    if (!existsSync(dir)) mkdirSync(dir);
    return existsSync(path.join(dir, probeFile));
  } catch {
    return false;
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Groups left by a colony process that is gone (killed before its exit handler ran): emptied and removed. */
export function sweepStale(base: string): void {
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return;
  }
  for (const n of names) {
    const m = /^a(\d+)-\d+$/.exec(n);
    if (!m || alive(Number(m[1]))) continue;
    const g: Group = { dirs: [path.join(base, n)], pidsEvents: null, memEvents: null };
    remove(g);
  }
}

export function detectCgroups(): CgroupSetup {
  const s = detect();
  if (s.kind === 'v2') sweepStale(s.base);
  if (s.kind === 'v1') for (const b of [s.pids, s.memory]) if (b) sweepStale(b);
  return s;
}

function detect(): CgroupSetup {
  if (existsSync(path.join(ROOT, 'cgroup.controllers'))) {
    const base = path.join(ROOT, 'colony-tasks');
    try {
      writeFileSync(path.join(ROOT, 'cgroup.subtree_control'), '+pids +memory');
      if (!existsSync(base)) mkdirSync(base);
      writeFileSync(path.join(base, 'cgroup.subtree_control'), '+pids +memory');
      return { kind: 'v2', base };
    } catch (e) {
      return { kind: 'none', why: `cgroup v2 not delegated to colony (${(e as Error).message})` };
    }
  }
  const pidsOwn = ownV1Path('pids');
  const memOwn = ownV1Path('memory');
  const pids =
    pidsOwn !== null && tryDir(path.join(ROOT, 'pids', pidsOwn, 'colony-tasks'), 'pids.max') ? path.join(ROOT, 'pids', pidsOwn, 'colony-tasks') : null;
  const memory =
    memOwn !== null && tryDir(path.join(ROOT, 'memory', memOwn, 'colony-tasks'), 'memory.limit_in_bytes')
      ? path.join(ROOT, 'memory', memOwn, 'colony-tasks')
      : null;
  if (!pids && !memory) return { kind: 'none', why: 'no writable cgroup (v1 pids/memory or v2) on this machine' };
  return { kind: 'v1', pids, memory };
}

export interface AttemptCgroup {
  /** cgroup.procs files the task's first process writes its own pid into. */
  procsFiles: string[];
  /** Which limit was hit during this attempt: 'processes' | 'memory' | null. */
  hit(): 'processes' | 'memory' | null;
  /** Kills what is left; the group goes back to the pool once empty (or is removed). Never blocks the caller. */
  release(): void;
}

const readNum = (file: string | null, key: string): number => {
  if (!file) return 0;
  try {
    const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
};

interface Group {
  dirs: string[];
  pidsEvents: string | null;
  memEvents: string | null; // v1 memory.oom_control / v2 memory.events, key oom_kill
}

let seq = 0;

function makeGroup(setup: CgroupSetup, limits: { processes: number | null; memory_mb: number | null }): Group | null {
  if (setup.kind === 'none') return null;
  const name = `a${process.pid}-${++seq}`;
  const g: Group = { dirs: [], pidsEvents: null, memEvents: null };
  const mk = (parent: string): string => {
    const d = path.join(parent, name);
    mkdirSync(d);
    g.dirs.push(d);
    return d;
  };
  const mem = limits.memory_mb === null ? null : String(limits.memory_mb * 1024 * 1024);
  if (setup.kind === 'v2') {
    const d = mk(setup.base);
    if (limits.processes !== null) writeFileSync(path.join(d, 'pids.max'), String(limits.processes));
    if (mem) {
      writeFileSync(path.join(d, 'memory.max'), mem);
      try {
        writeFileSync(path.join(d, 'memory.swap.max'), '0');
      } catch {
        /* no swap accounting */
      }
    }
    g.pidsEvents = path.join(d, 'pids.events');
    g.memEvents = path.join(d, 'memory.events');
  } else {
    if (setup.pids && limits.processes !== null) {
      const d = mk(setup.pids);
      writeFileSync(path.join(d, 'pids.max'), String(limits.processes));
      g.pidsEvents = path.join(d, 'pids.events');
    }
    if (setup.memory && mem) {
      const d = mk(setup.memory);
      writeFileSync(path.join(d, 'memory.limit_in_bytes'), mem);
      g.memEvents = path.join(d, 'memory.oom_control');
    }
  }
  return g.dirs.length > 0 ? g : null;
}

/** Kills what is left in the group; true when it is empty. */
function sweep(g: Group): boolean {
  let empty = true;
  for (const d of g.dirs) {
    try {
      for (const pid of readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        empty = false;
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    } catch {
      /* removed */
    }
  }
  return empty;
}

function remove(g: Group, tries = 0): void {
  sweep(g);
  g.dirs = g.dirs.filter((d) => {
    try {
      rmdirSync(d);
      return false;
    } catch {
      return true; // still draining
    }
  });
  if (g.dirs.length > 0 && tries < 50) setTimeout(() => remove(g, tries + 1), 100).unref();
}

/**
 * Groups are reused: creating and removing cgroups costs milliseconds on the
 * start path, so an emptied group goes back to a free list and the event
 * counters are compared against their value when the attempt took it. All
 * groups of the pool are removed when colony exits.
 */
export class CgroupPool {
  private readonly free: Group[] = [];
  private readonly all = new Set<Group>();
  constructor(
    private readonly setup: CgroupSetup,
    private readonly limits: { processes: number | null; memory_mb: number | null },
  ) {
    process.once('exit', () => {
      for (const g of this.all) {
        sweep(g);
        for (const d of g.dirs) {
          try {
            rmdirSync(d);
          } catch {
            /* busy: left for the next start's sweep */
          }
        }
      }
    });
  }

  acquire(): AttemptCgroup | null {
    if (this.limits.processes === null && this.limits.memory_mb === null) return null;
    const g = this.free.pop() ?? makeGroup(this.setup, this.limits);
    if (!g) return null;
    this.all.add(g);
    if (this.free.length === 0) setImmediate(() => this.spare()); // the next attempt finds one ready
    const pids0 = readNum(g.pidsEvents, 'max');
    const oom0 = readNum(g.memEvents, 'oom_kill');
    let released = false;
    return {
      procsFiles: g.dirs.map((d) => path.join(d, 'cgroup.procs')),
      hit: () => (readNum(g.pidsEvents, 'max') > pids0 ? 'processes' : readNum(g.memEvents, 'oom_kill') > oom0 ? 'memory' : null),
      release: () => {
        if (released) return;
        released = true;
        setImmediate(() => {
          if (sweep(g)) this.free.push(g);
          else {
            this.all.delete(g);
            remove(g);
          }
        });
      },
    };
  }

  private spare(): void {
    if (this.free.length > 0) return;
    try {
      const g = makeGroup(this.setup, this.limits);
      if (g) this.free.push(g);
    } catch {
      /* made on demand next time */
    }
  }
}
