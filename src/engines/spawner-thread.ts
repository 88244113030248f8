/**
 * What runs inside a spawner thread (spawner.ts) and the messages between it
 * and the main thread: requests of one turn arrive as one array, and the
 * thread answers with one array per turn (spawn, output, exit, close, error
 * of each child, in the order Node reported them).
 */
export interface SpawnSpec {
  command: string;
  args: readonly string[];
  cwd: string;
  env: Record<string, string>;
  /** Written to stdin right after the spawn (stdin is a pipe only when set). */
  input?: string;
  /** Keep stdin open after `input` (write()/endInput()). */
  keepOpen?: boolean;
}

export type ToThread =
  | { op: 'spawn'; id: number; spec: SpawnSpec }
  | { op: 'write'; id: number; text: string }
  | { op: 'end'; id: number }
  | { op: 'kill'; id: number; sig: NodeJS.Signals };

export type FromThread =
  | { id: number; t: 'spawn'; pid: number | undefined }
  | { id: number; t: 'out' | 'err'; text: string }
  | { id: number; t: 'exit' | 'close'; code: number | null; signal: NodeJS.Signals | null }
  | { id: number; t: 'error'; error: { message: string; code?: string; errno?: number; syscall?: string; path?: string } };

/**
 * The spawner's program, in a thread or in the helper process (its port
 * differs, below). Plain JavaScript text, not a function's source: test
 * runners and bundlers rewrite `import()` and wrap functions in code that
 * does not exist inside the thread. Messages: see ToThread / FromThread.
 */
const PROGRAM = String.raw`
(async () => {
  const cp = await import('node:child_process');
  const kids = new Map();
  const port = await (PORT)(kids);
  let batch = [];
  const flush = () => {
    const b = batch;
    batch = [];
    port.postMessage(b);
  };
  const post = (m) => {
    if (batch.length === 0) setImmediate(flush);
    const last = batch[batch.length - 1];
    // Output of one stream of one child in the same turn travels as one chunk (order is kept).
    if (last && last.id === m.id && (m.t === 'out' || m.t === 'err') && last.t === m.t) last.text += m.text;
    else batch.push(m);
  };
  const errorOf = (e) => ({ message: String(e && e.message), code: e && e.code, errno: e && e.errno, syscall: e && e.syscall, path: e && e.path });
  const spawn = (id, s) => {
    const piped = s.input !== undefined;
    let child;
    try {
      child = cp.spawn(s.command, s.args, { cwd: s.cwd, env: s.env, detached: true, stdio: [piped ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    } catch (e) {
      post({ id, t: 'spawn', pid: undefined });
      post({ id, t: 'error', error: errorOf(e) });
      return;
    }
    kids.set(id, child);
    post({ id, t: 'spawn', pid: child.pid });
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (text) => post({ id, t: 'out', text }));
    child.stderr.on('data', (text) => post({ id, t: 'err', text }));
    child.on('error', (e) => {
      kids.delete(id);
      post({ id, t: 'error', error: errorOf(e) });
    });
    child.on('exit', (code, signal) => post({ id, t: 'exit', code, signal }));
    child.on('close', (code, signal) => {
      kids.delete(id);
      post({ id, t: 'close', code, signal });
    });
    if (piped) {
      child.stdin.on('error', () => undefined); // EPIPE when the child exits before reading
      if (s.keepOpen) child.stdin.write(s.input);
      else child.stdin.end(s.input);
    }
  };
  const handle = (m) => {
    if (m.op === 'spawn') return spawn(m.id, m.spec);
    const child = kids.get(m.id);
    if (!child) return;
    try {
      const input = child.stdin;
      if (m.op === 'write' && input && !input.destroyed && !input.writableEnded) input.write(m.text);
      else if (m.op === 'end' && input && !input.writableEnded) input.end();
      else if (m.op === 'kill') child.kill(m.sig);
    } catch {
      /* the child is gone */
    }
  };
  port.on('message', (ms) => {
    for (const m of ms) handle(m);
  });
})();
`;

/** A spawner thread's port: the worker's parentPort. */
const THREAD_PORT = String.raw`(async () => (await import('node:worker_threads')).parentPort)`;

/**
 * The spawn helper process's port (spawn-helper.ts): one JSON array per line
 * on stdin and stdout. End of stdin means the host is gone (or let it go):
 * every child's process group is killed and the helper exits.
 */
const PROCESS_PORT = String.raw`(async (kids) => {
  process.stdin.setEncoding('utf8');
  let buf = '';
  const handlers = [];
  process.stdin.on('data', (d) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const ms = JSON.parse(line);
      for (const h of handlers) h(ms);
    }
  });
  const end = () => {
    // COLONY_PDEATHSIG=off (tests of the layers below: reaper, sweep at recovery) leaves them be.
    if (process.env.COLONY_PDEATHSIG !== 'off') for (const c of kids.values()) {
      try { process.kill(-c.pid, 'SIGKILL'); } catch {}
    }
    process.exit(0);
  };
  process.stdin.on('end', end);
  process.stdin.on('error', end);
  process.stdout.on('error', end);
  return { on: (_ev, h) => handlers.push(h), postMessage: (b) => process.stdout.write(JSON.stringify(b) + '\n') };
})`;

/** The program of a spawner thread (worker_threads, eval). */
export const THREAD_MAIN = PROGRAM.replace('(PORT)', THREAD_PORT);
/** The program of the spawn helper process (`node -e`). */
export const HELPER_MAIN = PROGRAM.replace('(PORT)', PROCESS_PORT);
