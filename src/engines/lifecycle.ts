/**
 * Binds an attempt's process tree to the process that runs it (DESIGN: a
 * task's processes never outlive their attempt), with the OS sandbox off:
 *
 *   setpriv --pdeathsig KILL -- /bin/sh -c 'echo $$ > CG/cgroup.procs; exec "$@"' CG cmd args…
 * (the exec engine's own `sh -c SCRIPT` joins the cgroup on its first line instead: one exec less)
 *
 * - the leader gets SIGKILL from the kernel the moment its parent dies
 *   (`setpriv` from util-linux sets PR_SET_PDEATHSIG, kept across exec);
 * - it moves itself into the attempt's own cgroup before exec, so nothing it
 *   starts can leave it (when a cgroup v2 can be made: attempt-cgroup.ts);
 * - its environment carries a random COLONY_ATTEMPT_TAG;
 * - the reaper (reaper.ts) knows it and ends the rest of the tree if we die;
 * - what identifies it (pid/pgid, start time, boot id, cgroup, tag) goes to
 *   the caller (onProcess), who records it for the sweep at recovery.
 * `setpriv` and `sh` exec in place: the pid, exit code and signal are the command's.
 * A `contained` command (the OS sandbox's bubblewrap: `--die-with-parent`,
 * its own PID namespace) needs neither: it is spawned as is, with the tag,
 * the reaper and the record (two exec hops and a cgroup less per attempt).
 * The command is resolved on the child's PATH first, so a missing program is
 * still a spawn error (ENOENT), not a wrapper's exit code.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { AttemptProcess } from '../core/engine.js';
import { endAttemptCgroup, makeAttemptCgroup } from './attempt-cgroup.js';
import { bootId, startTicks, sweepAttempts, TAG_VAR } from './process-tree.js';
import { forgetAttempt, watchAttempt } from './reaper.js';

export interface Bound {
  command: string;
  args: string[];
  env: Record<string, string>;
  cgroup: string | null;
  /** The tree ends with its leader (a PID namespace): no sweep when it ended normally. */
  contained: boolean;
  tag: string;
  info: AttemptProcess | null;
  released: boolean;
  swept: boolean;
  started(pid: number | undefined): AttemptProcess | null;
}

const ENTER_CGROUP = '{ echo $$ > "$0/cgroup.procs"; } 2>/dev/null; exec "$@"';

/**
 * The exec engine's `sh -c SCRIPT` joins its cgroup on the script's first line
 * instead of through a wrapper shell (an exec less per attempt; the sandbox's
 * limits do the same: os-sandbox/limits.ts inlineLimits).
 */
function isShellScript(resolved: string, args: readonly string[]): boolean {
  return /\/(?:ba|da)?sh$/.test(resolved) && args.length === 2 && args[0] === '-c';
}

const enterLine = (cgroup: string): string => `{ echo $$ > '${cgroup.replace(/'/g, `'\\''`)}/cgroup.procs'; } 2>/dev/null`;

let setprivCache: string | null | undefined;

/** util-linux `setpriv` (sets the parent-death signal before exec), or null (absent, or COLONY_PDEATHSIG=off). */
export function setpriv(): string | null {
  if (setprivCache !== undefined) return setprivCache;
  setprivCache = null;
  if (process.env['COLONY_PDEATHSIG'] === 'off') return null;
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin', ...(process.env['PATH'] ?? '').split(delimiter)]) {
    if (dir && executable(join(dir, 'setpriv'))) return (setprivCache = join(dir, 'setpriv'));
  }
  return null;
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The program as spawn would find it (env.PATH of the child), or null. */
export function resolveCommand(command: string, cwd: string, env: Record<string, string>): string | null {
  if (command.includes('/')) {
    const p = isAbsolute(command) ? command : resolve(cwd, command);
    return executable(p) ? p : null;
  }
  for (const dir of (env['PATH'] ?? process.env['PATH'] ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = resolve(cwd, dir, command);
    if (executable(p)) return p;
  }
  return null;
}

export function boundSpawn(
  command: string,
  args: readonly string[],
  cwd: string,
  env: Record<string, string>,
  label: string,
  contained = false,
): Bound | { error: NodeJS.ErrnoException } {
  const resolved = resolveCommand(command, cwd, env);
  if (!resolved) {
    const error = Object.assign(new Error(`spawn ${command} ENOENT`), {
      code: 'ENOENT',
      errno: -2,
      syscall: `spawn ${command}`,
      path: command,
    }) as NodeJS.ErrnoException;
    return { error };
  }
  const tag = randomBytes(12).toString('hex');
  const cgroup = contained ? null : makeAttemptCgroup(`${label}.${tag.slice(0, 8)}`);
  let argv = [resolved, ...args];
  if (cgroup && isShellScript(resolved, args)) argv = [resolved, '-c', `${enterLine(cgroup)}\n${args[1] as string}`];
  else if (cgroup) argv = ['/bin/sh', '-c', ENTER_CGROUP, cgroup, ...argv];
  const sp = contained ? null : setpriv();
  if (sp) argv = [sp, '--pdeathsig', 'KILL', '--', ...argv];
  const b: Bound = {
    command: argv[0] as string,
    args: argv.slice(1),
    env: { ...env, [TAG_VAR]: tag },
    cgroup,
    contained,
    tag,
    info: null,
    released: false,
    swept: false,
    started(pid) {
      if (pid === undefined) return null;
      const start = startTicks(pid);
      if (start === null) return null;
      b.info = { pid, pgid: pid, start_ticks: start, boot_id: bootId(), cgroup, tag };
      watchAttempt(tag, b.info);
      return b.info;
    },
  };
  return b;
}

/**
 * The attempt is over: whatever is left of its tree is ended (cgroup.kill),
 * the reaper forgets it. Also a sweep by process group and environment tag
 * (one pass over /proc, waiting until nothing is left) when it was `stopped`
 * (cancel, timeout: always, in case the leader never made it into its
 * cgroup) or `ended` without a cgroup nor a PID namespace (a daemon that left the group);
 * `quick` skips it.
 */
export function releaseBound(b: Bound, how: 'stopped' | 'ended' | 'quick'): void {
  const sweep = how === 'stopped' || (how === 'ended' && !b.cgroup && !b.contained);
  if (sweep && !b.swept && b.info) {
    b.swept = true;
    sweepAttempts([b.info], 1000);
  }
  if (b.released) return;
  b.released = true;
  endAttemptCgroup(b.cgroup);
  forgetAttempt(b.tag);
}
