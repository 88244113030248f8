/**
 * Limits that are not cgroups: file size and CPU time as rlimits, set by a
 * tiny /bin/sh wrapper that also joins the attempt's cgroups before it
 * exec's the sandbox (so every process the task starts is counted from its
 * first instruction). And the text that names the limit that ended a task.
 */
import type { Invocation, SandboxLimits } from './types.js';

type LimitName = 'processes' | 'memory' | 'cpu' | 'file_size';

export function limitText(name: LimitName, l: SandboxLimits): string {
  switch (name) {
    case 'processes':
      return `process limit reached (safety.os_sandbox.limits.processes = ${l.processes}, processes and threads)`;
    case 'memory':
      return `memory limit reached (safety.os_sandbox.limits.memory_mb = ${l.memory_mb})`;
    case 'cpu':
      return `CPU time limit reached (safety.os_sandbox.limits.cpu_s = ${l.cpu_s} per process)`;
    case 'file_size':
      return `file size limit reached (safety.os_sandbox.limits.file_size_mb = ${l.file_size_mb})`;
  }
}

const SIGXCPU = 24;
const SIGXFSZ = 25;

/** The limit behind a failed exit: a cgroup event, or the rlimit signals (directly, or as 128+n through the shell). */
export function limitFromExit(
  exit: { code: number | null; signal: NodeJS.Signals | null },
  cgroupHit: 'processes' | 'memory' | null,
  l: SandboxLimits,
): string | null {
  if (cgroupHit) return limitText(cgroupHit, l);
  if (exit.signal === 'SIGXCPU' || exit.code === 128 + SIGXCPU) return l.cpu_s === null ? null : limitText('cpu', l);
  if (exit.signal === 'SIGXFSZ' || exit.code === 128 + SIGXFSZ) return l.file_size_mb === null ? null : limitText('file_size', l);
  return null;
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function limitSteps(l: SandboxLimits, procsFiles: readonly string[]): string[] {
  const steps: string[] = [];
  for (const f of procsFiles) steps.push(`echo $$ > ${quote(f)} || exit 125`);
  // POSIX ulimit -f counts 512-byte blocks.
  if (l.file_size_mb !== null) steps.push(`ulimit -f ${l.file_size_mb * 2048} || exit 125`);
  // CPU: SIGXCPU at the soft limit (named in the reason), SIGKILL 5 s later for a process that ignores it.
  if (l.cpu_s !== null) steps.push(`ulimit -S -t ${l.cpu_s} && ulimit -H -t ${l.cpu_s + 5} || exit 125`);
  return steps;
}

/**
 * The same steps as the first line of a `sh -c` script (the exec engine's
 * own shell), with the cgroup.procs files bound into the sandbox: one exec
 * less on every attempt's start. Hard limits cannot be raised again inside.
 */
export function inlineLimits(script: string, l: SandboxLimits, insideProcsFiles: readonly string[]): string {
  const steps = limitSteps(l, insideProcsFiles);
  return steps.length === 0 ? script : `${steps.join('; ')}\n${script}`;
}

/** Wraps the invocation in `sh -c 'join cgroups; ulimit …; exec "$@"'`, or returns it as is when there is nothing to set. */
export function limitWrapper(inv: Invocation, l: SandboxLimits, procsFiles: readonly string[]): Invocation {
  const steps = limitSteps(l, procsFiles);
  if (steps.length === 0) return inv;
  return { command: '/bin/sh', args: ['-c', `${steps.join('; ')}; exec "$@"`, 'colony-sandbox', inv.command, ...inv.args], env: inv.env };
}
