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
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = '/sys/fs/cgroup';

export type CgroupSetup =
  | { kind: 'v2'; base: string }
  | { kind: 'v1'; pids: string | null; memory: string | null }
  | { kind: 'none'; why: string };

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
  try {
    mkdirSync(dir, { recursive: true });
    return existsSync(path.join(dir, probeFile));
  } catch {
    return false;
  }
}

export function detectCgroups(): CgroupSetup {
  if (existsSync(path.join(ROOT, 'cgroup.controllers'))) {
    const base = path.join(ROOT, 'colony-tasks');
    try {
      writeFileSync(path.join(ROOT, 'cgroup.subtree_control'), '+pids +memory');
      mkdirSync(base, { recursive: true });
      writeFileSync(path.join(base, 'cgroup.subtree_control'), '+pids +memory');
      return { kind: 'v2', base };
    } catch (e) {
      return { kind: 'none', why: `cgroup v2 not delegated to colony (${(e as Error).message})` };
    }
  }
  const pidsOwn = ownV1Path('pids');
  const memOwn = ownV1Path('memory');
  const pids = pidsOwn !== null && tryDir(path.join(ROOT, 'pids', pidsOwn, 'colony-tasks'), 'pids.max') ? path.join(ROOT, 'pids', pidsOwn, 'colony-tasks') : null;
  const memory = memOwn !== null && tryDir(path.join(ROOT, 'memory', memOwn, 'colony-tasks'), 'memory.limit_in_bytes') ? path.join(ROOT, 'memory', memOwn, 'colony-tasks') : null;
  if (!pids && !memory) return { kind: 'none', why: 'no writable cgroup (v1 pids/memory or v2) on this machine' };
  return { kind: 'v1', pids, memory };
}

export interface AttemptCgroup {
  /** cgroup.procs files the wrapper writes its own pid into before exec'ing the sandbox. */
  procsFiles: string[];
  /** Which limit was hit so far: 'processes' | 'memory' | null. */
  hit(): 'processes' | 'memory' | null;
  /** Kills what is left and removes the groups (retried in the background while processes drain). */
  release(): void;
}

const readNum = (file: string, key: string): number => {
  try {
    const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
};

let seq = 0;

export function createAttemptCgroup(setup: CgroupSetup, limits: { processes: number | null; memory_mb: number | null }): AttemptCgroup | null {
  if (setup.kind === 'none' || (limits.processes === null && limits.memory_mb === null)) return null;
  const name = `a${process.pid}-${++seq}`;
  const dirs: string[] = [];
  let pidsEvents: string | null = null;
  let memEvents: { file: string; key: string } | null = null;
  const mk = (parent: string): string => {
    const d = path.join(parent, name);
    mkdirSync(d);
    dirs.push(d);
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
    pidsEvents = path.join(d, 'pids.events');
    memEvents = { file: path.join(d, 'memory.events'), key: 'oom_kill' };
  } else {
    if (setup.pids && limits.processes !== null) {
      const d = mk(setup.pids);
      writeFileSync(path.join(d, 'pids.max'), String(limits.processes));
      pidsEvents = path.join(d, 'pids.events');
    }
    if (setup.memory && mem) {
      const d = mk(setup.memory);
      writeFileSync(path.join(d, 'memory.limit_in_bytes'), mem);
      memEvents = { file: path.join(d, 'memory.oom_control'), key: 'oom_kill' };
    }
  }
  if (dirs.length === 0) return null;
  return {
    procsFiles: dirs.map((d) => path.join(d, 'cgroup.procs')),
    hit() {
      if (pidsEvents && readNum(pidsEvents, 'max') > 0) return 'processes';
      if (memEvents && readNum(memEvents.file, memEvents.key) > 0) return 'memory';
      return null;
    },
    release() {
      let tries = 0;
      const sweep = (): void => {
        for (const d of [...dirs]) {
          try {
            for (const pid of readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
              try {
                process.kill(Number(pid), 'SIGKILL');
              } catch {
                /* gone */
              }
            }
            rmdirSync(d);
            dirs.splice(dirs.indexOf(d), 1);
          } catch {
            /* still draining */
          }
        }
        if (dirs.length > 0 && ++tries < 50) setTimeout(sweep, 100).unref();
      };
      sweep();
    },
  };
}
