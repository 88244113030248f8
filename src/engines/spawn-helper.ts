/**
 * The spawn helper (issue 24): a small long-lived Node process that spawns
 * the attempts' processes for the host (COLONY_SPAWN_HELPER=1), so each
 * fork copies the helper's small address space instead of the host's
 * (~100 MiB). Same program and messages as a spawner thread
 * (spawner-thread.ts), one JSON array per line on its stdin and stdout.
 *
 * No orphans, in layers:
 * - the helper is started under `setpriv --pdeathsig KILL`: the kernel kills
 *   it the moment the host dies (SIGKILL included);
 * - each attempt's leader is bound to the helper the same way (setpriv or
 *   bubblewrap's --die-with-parent, lifecycle.ts), so it dies with it;
 * - the helper also ends every child's process group and exits when its
 *   stdin closes (the host gone, with or without setpriv);
 * - the rest of each tree: its cgroup, the reaper (a child of the host) and
 *   the sweep at recovery, unchanged (they know the attempt by pid and tag).
 * It runs in its own session (detached), so a Ctrl-C to the host's terminal
 * does not end the attempts before the host cancels them; a helper that dies
 * is treated like a dying spawner thread (spawner.ts failAll) and replaced.
 */
import { spawn } from 'node:child_process';
import type { FromThread, ToThread } from './spawner-thread.js';
import { HELPER_MAIN } from './spawner-thread.js';
import { setpriv } from './lifecycle.js';

/** How the host talks to a spawner (a thread or the helper process). */
export interface Channel {
  kind: string;
  /** The thread id, or the helper's pid. */
  id: number;
  post(batch: ToThread[]): void;
  /** Keep the host alive while it holds children. */
  ref(): void;
  unref(): void;
  /** Ends it as if it had crashed (tests). */
  end(): Promise<void>;
}

/** What a spawner tells its owner: a batch of child events, or that it is gone. */
export interface ChannelHooks {
  message(batch: FromThread[]): void;
  died(why: string): void;
}

export function startSpawnHelper(hooks: ChannelHooks): Channel {
  const sp = setpriv();
  const node = [process.execPath, '--max-semi-space-size=1', '-e', HELPER_MAIN];
  const [cmd, ...args] = sp ? [sp, '--pdeathsig', 'KILL', '--', ...node] : node;
  const child = spawn(cmd as string, args, {
    detached: true,
    stdio: ['pipe', 'pipe', 'ignore'],
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...(process.env['COLONY_PDEATHSIG'] === 'off' ? { COLONY_PDEATHSIG: 'off' } : {}) },
  });
  const out = child.stdout;
  const inp = child.stdin;
  let buf = '';
  out.setEncoding('utf8');
  out.on('data', (d: string) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let batch: FromThread[];
      try {
        batch = JSON.parse(line) as FromThread[];
      } catch {
        child.kill('SIGKILL'); // not our helper talking: end it (its 'exit' fails its attempts)
        return;
      }
      hooks.message(batch);
    }
  });
  inp.on('error', () => undefined); // it died: 'exit' says so
  child.on('error', (e) => hooks.died(e.message));
  child.on('exit', (code, sig) => hooks.died(sig ? `killed by ${sig}` : `exit code ${code}`));
  // Handles of a pipe keep the loop alive like the process itself.
  const handles = [child, out, inp] as unknown as { ref(): void; unref(): void }[];
  return {
    kind: 'spawn helper',
    id: child.pid ?? -1,
    post: (batch) => {
      inp.write(JSON.stringify(batch) + '\n');
    },
    ref: () => handles.forEach((h) => h.ref()),
    unref: () => handles.forEach((h) => h.unref()),
    end: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
