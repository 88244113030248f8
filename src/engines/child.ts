/**
 * Spawning an engine's child process in its own process group, so a cancel
 * or timeout kills everything it started (SIGTERM, grace, SIGKILL to -pid),
 * and turning its stdout/stderr into an async stream of chunks. Timeouts are
 * on wall clock and on silence separately (DESIGN §11: a timeout that starts
 * only after output ends never fires on a stalled stream).
 */
import type { AttemptProcess } from '../core/engine.js';
import { boundSpawn, releaseBound, type Bound } from './lifecycle.js';
import type { SandboxAccess, SandboxPlan } from '../safety/os-sandbox/types.js';
import { tracePhase } from './attempt-trace.js';
import { spawnProc, type Proc, type ProcSink } from './spawner.js';

export type ChildChunk =
  | { kind: 'stdout'; text: string }
  | { kind: 'stderr'; text: string }
  | { kind: 'exit'; code: number | null; signal: NodeJS.Signals | null; reason: StopReason | null; limit?: string | null }
  | { kind: 'spawn_error'; error: NodeJS.ErrnoException };

export type StopReason = 'aborted' | 'wall_timeout' | 'silence_timeout' | 'budget' | 'requested' | 'limit';

export interface ChildOptions {
  command: string;
  args: readonly string[];
  cwd: string;
  env: Record<string, string>;
  signal: AbortSignal;
  wallTimeoutMs: number | null;
  silenceTimeoutMs: number | null;
  killGraceMs: number;
  stdin?: string;
  /** Told what identifies the process tree once the leader runs (see lifecycle.ts). */
  onProcess?: (info: AttemptProcess) => void;
  /** Names the attempt's cgroup (e.g. task id and attempt). */
  label?: string;
  /** The attempt's OS sandbox (safety/os-sandbox): wraps the command just before spawn; null/absent: none. */
  sandbox?: SandboxPlan | null;
  /** What the sandbox must also let this process read, write and reach (agent CLIs: cli-agent.ts). */
  sandboxAccess?: SandboxAccess;
  /** Keep stdin open after `stdin` (a conversation on stdin, e.g. claude's stream-json input); write()/endInput() on the handle. */
  keepStdinOpen?: boolean;
}

export interface ChildHandle {
  pid: number | undefined;
  chunks: AsyncIterable<ChildChunk>;
  /** Stops the process group for a reason of the caller's (e.g. budget spent). */
  stop(reason: StopReason): void;
  /** Writes to the child's stdin (only with keepStdinOpen); false once it is closed. */
  write(text: string): boolean;
  /** Closes the child's stdin. */
  endInput(): void;
  /** Suspends the silence timeout while the child waits on us (an approval); the returned function resumes it. */
  holdSilence(): () => void;
}

/**
 * SIGTERM to the process group now, SIGKILL after the grace (and the whole
 * tree through the bound: setsid-escaped children included); returns what to
 * do when the leader exits first (cancel the SIGKILL timer, end the group).
 */
function killGroup(proc: Proc, graceMs: number, bound: Bound | null = null): (() => void) | null {
  const pid = proc.pid;
  if (pid === undefined || proc.exited) return null;
  const send = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        proc.kill(sig);
      } catch {
        /* already gone */
      }
    }
  };
  send('SIGTERM');
  const t = setTimeout(() => {
    send('SIGKILL');
    if (bound) releaseBound(bound, 'stopped'); // the whole tree, setsid-escaped children included
  }, graceMs);
  t.unref();
  return () => {
    clearTimeout(t);
    // The leader is gone; make sure nothing it left in the group outlives it.
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* group empty */
    }
    if (bound) releaseBound(bound, 'stopped');
  };
}

/** A handle for a child that never started: its stream reports the spawn error, the rest does nothing. */
function spawnFailed(error: NodeJS.ErrnoException): ChildHandle {
  return {
    pid: undefined,
    chunks: (async function* () {
      yield { kind: 'spawn_error' as const, error };
    })(),
    stop: () => undefined,
    write: () => false,
    endInput: () => undefined,
    holdSilence: () => () => undefined,
  };
}

export function startChild(o: ChildOptions): ChildHandle {
  const queue: ChildChunk[] = [];
  let wake: (() => void) | null = null;
  let finished = false;
  let stopReason: StopReason | null = null;
  const push = (c: ChildChunk): void => {
    queue.push(c);
    wake?.();
    wake = null;
  };

  // The OS sandbox wraps the command first; the lifecycle wrapper (parent-death
  // signal, the attempt's cgroup, the reaper: lifecycle.ts) goes around it.
  let sb: ReturnType<SandboxPlan['wrap']> | null = null;
  const wrapPhase = tracePhase('wrap');
  try {
    sb = o.sandbox
      ? o.sandbox.wrap({ command: o.command, args: o.args, env: o.env, cwd: o.cwd, ...(o.sandboxAccess ? { access: o.sandboxAccess } : {}) })
      : null;
  } catch (e) {
    // e.g. the command does not exist: reported like a failed spawn, and nothing ran
    const error = e as NodeJS.ErrnoException;
    return spawnFailed(error);
  }
  const inv = sb ? sb.invocation : o;
  const bound = boundSpawn(inv.command, inv.args, o.cwd, inv.env, o.label ?? 'attempt', sb?.contained === true);
  if ('error' in bound) {
    const error = bound.error;
    return spawnFailed(error);
  }
  wrapPhase();

  let silence: NodeJS.Timeout | undefined;
  let wall: NodeJS.Timeout | undefined;
  let holds = 0;
  let exitTimer: NodeJS.Timeout | undefined;
  let onLeaderExit: (() => void) | null = null; // a stop's: the leader went before the SIGKILL
  const armSilence = (): void => {
    if (o.silenceTimeoutMs === null) return;
    if (holds > 0) return;
    clearTimeout(silence);
    silence = setTimeout(() => stop('silence_timeout'), o.silenceTimeoutMs);
  };
  const killRest = (): void => {
    try {
      if (proc?.pid !== undefined) process.kill(-proc.pid, 'SIGKILL');
    } catch {
      /* group already empty */
    }
  };
  const sink: ProcSink = {
    spawned(pid) {
      const info = bound.started(pid);
      if (info) o.onProcess?.(info);
      if (!finished) sb?.run.started(pid, { stop: () => stop('limit'), note: (text) => push({ kind: 'stderr', text }) });
      // A stop asked before the spawner said the process exists (the pid comes one message later from a spawner thread).
      if (stopReason && pid !== undefined && proc) onLeaderExit = killGroup(proc, o.killGraceMs, bound);
    },
    data(stream, text) {
      armSilence();
      push({ kind: stream, text });
    },
    exit() {
      onLeaderExit?.();
      onLeaderExit = null;
      // A background process left by the task can hold stdout open forever, so
      // 'close' would never come: once the leader exited, give the pipes a moment,
      // then kill what is left of its process group (tasks must not leave daemons).
      exitTimer = setTimeout(() => {
        releaseBound(bound, 'quick');
        killRest();
      }, 1000);
      exitTimer.unref();
    },
    error(error) {
      releaseBound(bound, 'quick');
      if (finished) return;
      finished = true;
      cleanup();
      sb?.run.finished({ code: null, signal: null });
      push({ kind: 'spawn_error', error });
    },
    // 'close' (not 'exit') so every byte of stdout/stderr has been delivered first.
    close(code, sig) {
      clearTimeout(exitTimer);
      // Nothing of the attempt outlives it, also what closed its output and stayed behind (a daemon).
      killRest();
      releaseBound(bound, 'ended');
      if (finished) return;
      finished = true;
      cleanup();
      const limit = sb ? sb.run.finished({ code, signal: sig }) : null;
      push({ kind: 'exit', code, signal: sig, reason: stopReason, limit });
    },
  };
  let proc: Proc | null = null;
  const spawnPhase = tracePhase('spawn');
  proc = spawnProc(
    {
      command: bound.command,
      args: bound.args,
      cwd: o.cwd,
      env: bound.env,
      ...(o.stdin !== undefined ? { input: o.stdin, keepOpen: o.keepStdinOpen === true } : {}),
    },
    sink,
  );
  spawnPhase();
  const p = proc;

  const stop = (reason: StopReason): void => {
    if (stopReason || finished) return;
    stopReason = reason;
    onLeaderExit = killGroup(p, o.killGraceMs, bound); // null until the pid is known: sink.spawned applies it
  };

  if (!finished) {
    wall = o.wallTimeoutMs === null ? undefined : setTimeout(() => stop('wall_timeout'), o.wallTimeoutMs);
    armSilence();
  }
  const onAbort = (): void => stop('aborted');
  if (o.signal.aborted) onAbort();
  else if (!finished) o.signal.addEventListener('abort', onAbort, { once: true });

  function cleanup(): void {
    clearTimeout(silence);
    clearTimeout(wall);
    o.signal.removeEventListener('abort', onAbort);
  }

  async function* chunks(): AsyncGenerator<ChildChunk> {
    for (;;) {
      const c = queue.shift();
      if (c) {
        yield c;
        if (c.kind === 'exit' || c.kind === 'spawn_error') return;
        continue;
      }
      await new Promise<void>((r) => (wake = r));
    }
  }

  const holdSilence = (): (() => void) => {
    holds += 1;
    clearTimeout(silence);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      holds -= 1;
      if (!finished) armSilence();
    };
  };
  return {
    get pid() {
      return p.pid;
    },
    chunks: chunks(),
    stop,
    write: (text) => p.write(text),
    endInput: () => p.endInput(),
    holdSilence,
  };
}

/** Splits a text stream into complete lines, keeping the partial tail for the next chunk. */
export class LineSplitter {
  private tail = '';
  push(text: string): string[] {
    const parts = (this.tail + text).split('\n');
    this.tail = parts.pop() ?? '';
    return parts;
  }
  flush(): string[] {
    const rest = this.tail;
    this.tail = '';
    return rest ? [rest] : [];
  }
}
