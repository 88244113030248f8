/**
 * CPU time of one PostgreSQL cluster's server processes, for benchmarks: the
 * postmaster (found by its port) and its live children, plus the children
 * that exited (the kernel adds them to the postmaster's cutime/cstime once
 * reaped). Other clusters on the machine (other tests) are not counted.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim() || 100);

/** Milliseconds of CPU used so far by the cluster listening on `port`, or null if its processes are not found. */
export function pgServerCpuMs(port: number): number | null {
  const procs = readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map((pid) => ({ pid, stat: read(`/proc/${pid}/stat`), cmd: read(`/proc/${pid}/cmdline`).split('\0') }))
    .filter((p) => p.stat !== '');
  const master = procs.find((p) => p.cmd.some((arg, i) => arg === '-p' && p.cmd[i + 1] === String(port)) && p.stat.includes('(postgres)'));
  if (!master) return null;
  let ticks = fields(master.stat)
    .slice(11, 15)
    .reduce((a, b) => a + b, 0);
  for (const p of procs) {
    const f = fields(p.stat);
    if (String(f[1]) === master.pid) ticks += (f[11] ?? 0) + (f[12] ?? 0);
  }
  return ticks * TICK_MS;
}

/** The numeric fields after the command name (state is NaN, ppid at 1, utime at 11 … cstime at 14). */
function fields(stat: string): number[] {
  return stat
    .slice(stat.lastIndexOf(') ') + 2)
    .split(' ')
    .map(Number);
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return ''; // exited meanwhile
  }
}
