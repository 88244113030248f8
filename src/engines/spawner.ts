/**
 * Where an attempt's process is spawned (issue 24). `child_process.spawn()`
 * is synchronous: the calling thread forks and then waits until the child has
 * exec'd, which on a loaded 2-core machine blocked colony's event loop for
 * about half of a trivial task's time, and a fork of the host copies its
 * whole (~100 MiB) address space. So by default the spawn happens in the
 * spawn helper, a small process running the spawner program (spawn-helper.ts:
 * its guarantees against orphans); with COLONY_SPAWN_HELPER=0 in one
 * of a few spawner threads (worker_threads). Either owns the child processes and
 * streams their output, exit and close back in one message per event-loop
 * turn; the main thread keeps everything else: timeouts, the kill switch,
 * signals to the process group (by pid, from any thread), the cgroup, the
 * reaper and the record (child.ts, lifecycle.ts).
 *
 * - Order: a thread reports a child's events in the order Node gave them
 *   (spawn, output chunks, exit, close); output of one stream that arrives
 *   in the same turn is joined into one chunk.
 * - The pid is known one message later than with a direct spawn: a stop
 *   asked before it arrived is applied when it does (child.ts).
 * - A thread that dies (crash, terminate) fails its attempts: the process
 *   groups it knew are SIGKILLed (the leaders' parent-death signal — setpriv
 *   or bubblewrap's --die-with-parent — follows the spawning thread too), each
 *   attempt gets a note on stderr and an exit by SIGKILL, an attempt whose
 *   pid never came back gets a spawn error; the next spawn starts a new thread.
 * - A thread is referenced only while it has live children (like a child
 *   handle of the main loop, it keeps the process alive until they end).
 *
 * COLONY_SPAWN_THREADS=n sets the number of threads (default 1: a second
 * one cost ~10 % more CPU in wake-ups and batched less); 0 spawns on
 * the main thread as before (helper or not). The helper and the threads
 * behave alike from here: a helper that dies is a thread that dies.
 */
import { spawn as nodeSpawn } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { startSpawnHelper, type Channel, type ChannelHooks } from './spawn-helper.js';
import { THREAD_MAIN, type FromThread, type SpawnSpec, type ToThread } from './spawner-thread.js';

export type { SpawnSpec } from './spawner-thread.js';

/** What the spawner reports about one child, in this order: spawned, data…, exit, close (or error). */
export interface ProcSink {
  spawned(pid: number | undefined): void;
  data(stream: 'stdout' | 'stderr', text: string): void;
  exit(code: number | null, signal: NodeJS.Signals | null): void;
  close(code: number | null, signal: NodeJS.Signals | null): void;
  error(err: NodeJS.ErrnoException): void;
}

export interface Proc {
  readonly pid: number | undefined;
  /** The leader exited (or never started). */
  readonly exited: boolean;
  write(text: string): boolean;
  endInput(): void;
  /** Signals the leader only (its group is signalled by pid, from any thread). */
  kill(sig: NodeJS.Signals): void;
}

/** Spawns here when COLONY_SPAWN_THREADS=0, else in the spawn helper process (default) or, with COLONY_SPAWN_HELPER=0, a spawner thread. */
export function spawnProc(spec: SpawnSpec, sink: ProcSink): Proc {
  const n = threadCount();
  if (n === 0) return spawnHere(spec, sink);
  return spawnInThread(spec, sink, useHelper() ? pickHelper() : pickThread());
}

/** The direct spawn on the calling thread; `spawned` is called before it returns. */
export function spawnHere(spec: SpawnSpec, sink: ProcSink): Proc {
  const piped = spec.input !== undefined;
  const child = nodeSpawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env, detached: true, stdio: [piped ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  let exited = false;
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (t: string) => sink.data('stdout', t));
  child.stderr?.on('data', (t: string) => sink.data('stderr', t));
  child.on('error', (e: NodeJS.ErrnoException) => {
    exited = true;
    sink.error(e);
  });
  child.on('exit', (c, s) => {
    exited = true;
    sink.exit(c, s);
  });
  child.on('close', (c, s) => sink.close(c, s));
  sink.spawned(child.pid);
  if (piped) {
    child.stdin?.on('error', () => undefined); // EPIPE when the child exits before reading: not our failure
    if (spec.keepOpen) child.stdin?.write(spec.input);
    else child.stdin?.end(spec.input);
  }
  return {
    get pid() {
      return child.pid;
    },
    get exited() {
      return exited || child.exitCode !== null || child.signalCode !== null;
    },
    write(text) {
      const s = child.stdin;
      if (!s || s.destroyed || s.writableEnded) return false;
      s.write(text);
      return true;
    },
    endInput() {
      if (child.stdin && !child.stdin.writableEnded) child.stdin.end();
    },
    kill(sig) {
      child.kill(sig);
    },
  };
}

// ---- the spawner threads ----

interface RemoteProc extends Proc {
  sink: ProcSink;
  spawnedYet: boolean;
  pidValue: number | undefined;
  exitedYet: boolean;
  inputOpen: boolean;
  done: boolean;
}

/** A spawner thread or the spawn helper process. */
interface SpawnerThread {
  chan: Channel;
  procs: Map<number, RemoteProc>;
  dead: boolean;
  /** Requests of this event-loop turn, posted together (one message and one wake-up of the thread per turn). */
  outbox: ToThread[];
}

function sendTo(t: SpawnerThread, m: ToThread): void {
  if (t.dead) return;
  if (t.outbox.length === 0) {
    setImmediate(() => {
      const ms = t.outbox;
      t.outbox = [];
      if (!t.dead && ms.length > 0) t.chan.post(ms);
    });
  }
  t.outbox.push(m);
}

const threads: (SpawnerThread | null)[] = [];
let nextId = 1;

function threadCount(): number {
  const v = process.env['COLONY_SPAWN_THREADS'];
  const n = v === undefined || v === '' ? 1 : Number(v);
  return Number.isInteger(n) && n >= 0 ? Math.min(n, 16) : 1;
}

/** A spawner (thread or helper process) around a channel; `gone` clears its slot. */
function startSpawner(open: (hooks: ChannelHooks) => Channel, gone: (t: SpawnerThread) => void): SpawnerThread {
  const t = { procs: new Map(), dead: false, outbox: [] } as unknown as SpawnerThread;
  t.chan = open({
    message: (batch) => {
      for (const m of batch) deliver(t, m);
    },
    died: (why) => {
      if (t.dead) return;
      t.dead = true;
      gone(t);
      failAll(t, why);
    },
  });
  t.chan.unref();
  return t;
}

function threadChannel(hooks: ChannelHooks): Channel {
  const worker = new Worker(THREAD_MAIN, { eval: true });
  worker.on('message', hooks.message);
  worker.on('error', (e) => hooks.died(e instanceof Error ? e.message : String(e)));
  worker.on('exit', (code) => hooks.died(`exit code ${code}`));
  return {
    kind: 'spawner thread',
    id: worker.threadId,
    post: (ms) => worker.postMessage(ms),
    ref: () => worker.ref(),
    unref: () => worker.unref(), // after the 'message' listener: adding one refs the worker again
    end: async () => {
      await worker.terminate();
    },
  };
}

function startThread(slot: number): SpawnerThread {
  return startSpawner(threadChannel, (t) => {
    if (threads[slot] === t) threads[slot] = null;
  });
}

function deliver(t: SpawnerThread, m: FromThread): void {
  const p = t.procs.get(m.id);
  if (!p || p.done) return;
  switch (m.t) {
    case 'spawn':
      p.spawnedYet = true;
      p.pidValue = m.pid;
      p.sink.spawned(m.pid);
      return;
    case 'out':
    case 'err':
      p.sink.data(m.t === 'out' ? 'stdout' : 'stderr', m.text);
      return;
    case 'exit':
      p.exitedYet = true;
      p.inputOpen = false;
      p.sink.exit(m.code, m.signal);
      return;
    case 'close':
      settle(t, m.id, p);
      p.sink.close(m.code, m.signal);
      return;
    case 'error':
      settle(t, m.id, p);
      p.sink.error(Object.assign(new Error(m.error.message), m.error) as NodeJS.ErrnoException);
  }
}

function settle(t: SpawnerThread, id: number, p: RemoteProc): void {
  p.done = true;
  p.exitedYet = true;
  p.inputOpen = false;
  t.procs.delete(id);
  if (t.procs.size === 0 && !t.dead) t.chan.unref();
}

/** The thread is gone: what it spawned is killed and every attempt it held ends (see the file comment). */
function failAll(t: SpawnerThread, why: string): void {
  for (const [id, p] of [...t.procs]) {
    if (p.pidValue !== undefined) {
      try {
        process.kill(-p.pidValue, 'SIGKILL');
      } catch {
        /* group already empty */
      }
    }
    const spawned = p.spawnedYet;
    settle(t, id, p);
    if (!spawned) {
      p.sink.spawned(undefined);
      p.sink.error(Object.assign(new Error(`the ${t.chan.kind} died before the process started (${why})`), { code: 'ESPAWNER' }));
      continue;
    }
    p.sink.data('stderr', `\n[colony: the ${t.chan.kind} holding this process died (${why}); the attempt was ended]\n`);
    p.sink.exit(null, 'SIGKILL');
    p.sink.close(null, 'SIGKILL');
  }
}

function pickThread(): SpawnerThread {
  const n = threadCount();
  let best: SpawnerThread | null = null;
  for (let i = 0; i < n; i++) {
    let t = threads[i] ?? null;
    if (!t || t.dead) t = threads[i] = startThread(i);
    if (!best || t.procs.size < best.procs.size) best = t;
  }
  return best as SpawnerThread;
}

function spawnInThread(spec: SpawnSpec, sink: ProcSink, t: SpawnerThread): Proc {
  const id = nextId++;
  const send = (m: ToThread): void => sendTo(t, m);
  const p: RemoteProc = {
    sink,
    spawnedYet: false,
    pidValue: undefined,
    exitedYet: false,
    inputOpen: spec.input !== undefined && spec.keepOpen === true,
    done: false,
    get pid() {
      return p.pidValue;
    },
    get exited() {
      return p.exitedYet;
    },
    write(text) {
      if (!p.inputOpen) return false;
      send({ op: 'write', id, text });
      return true;
    },
    endInput() {
      if (!p.inputOpen) return;
      p.inputOpen = false;
      send({ op: 'end', id });
    },
    kill(sig) {
      if (!p.done) send({ op: 'kill', id, sig });
    },
  };
  if (t.procs.size === 0) t.chan.ref();
  t.procs.set(id, p);
  send({ op: 'spawn', id, spec: { ...spec, args: [...spec.args] } });
  return p;
}

/** Spawner threads alive and the children each holds (tests, diagnostics). */
export function spawnerThreads(): { index: number; live: number; threadId: number }[] {
  return threads.flatMap((t, index) => (t && !t.dead ? [{ index, live: t.procs.size, threadId: t.chan.id }] : []));
}

/** Ends a spawner thread as if it had crashed (tests: its attempts must fail cleanly and the next spawn gets a new one). */
export async function terminateSpawnerThread(index: number): Promise<void> {
  const t = threads[index];
  if (t && !t.dead) await t.chan.end();
}

// ---- the spawn helper process ----

let helper: SpawnerThread | null = null;

function useHelper(): boolean {
  const v = process.env['COLONY_SPAWN_HELPER'];
  return v !== '0' && v !== 'off';
}

function pickHelper(): SpawnerThread {
  if (!helper || helper.dead) {
    helper = startSpawner(startSpawnHelper, (t) => {
      if (helper === t) helper = null;
    });
  }
  return helper;
}

/** The spawn helper's pid and how many children it holds, or null when none runs (tests, diagnostics). */
export function spawnHelper(): { pid: number; live: number } | null {
  return helper && !helper.dead ? { pid: helper.chan.id, live: helper.procs.size } : null;
}
