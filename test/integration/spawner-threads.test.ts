/**
 * Attempts spawned by the spawn helper process (the default) and by the
 * spawner threads (COLONY_SPAWN_HELPER=0) (engines/spawner.ts,
 * spawn-helper.ts, issue 24) with real processes, plain and inside the OS
 * sandbox: output order, a stop asked before the spawner reported the pid, a
 * spawner that dies (its attempts fail cleanly, their trees are gone, the
 * next attempt gets a new one), and the same events from the direct spawn
 * (COLONY_SPAWN_THREADS=0). The host SIGKILLed: the helper and the task go.
 */
import { readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AttemptProcess, EngineEvent, EngineRequest } from '../../src/core/engine.js';
import { createExecEngine } from '../../src/engines/exec.js';
import { spawnerThreads, spawnHelper, terminateSpawnerThread } from '../../src/engines/spawner.js';
import { assertBuilt, startCli } from '../helpers/cli.js';
import { execRequest } from '../helpers/exec-request.js';
import { killQuietly, makeTempDir, processGone, readTaskPid, waitFor } from '../helpers/proc.js';

type Done = Extract<EngineEvent, { type: 'done' }>;

let dir: string;
let cleanup: () => void;
const strays: number[] = [];
const saved = { threads: process.env['COLONY_SPAWN_THREADS'], helper: process.env['COLONY_SPAWN_HELPER'] };
const restore = (name: string, v: string | undefined): void => {
  if (v === undefined) delete process.env[name];
  else process.env[name] = v;
};

beforeEach(() => {
  ({ dir, cleanup } = makeTempDir('colony-spawner-'));
  delete process.env['COLONY_SPAWN_THREADS']; // the default: one spawner
});
afterEach(() => {
  while (strays.length) killQuietly(strays.pop());
  cleanup();
  restore('COLONY_SPAWN_THREADS', saved.threads);
  restore('COLONY_SPAWN_HELPER', saved.helper);
});

/** What holds a live attempt's process: its id, and how to end it as if it crashed. */
interface Holder {
  id: number;
  end(): Promise<void>;
}
const spawners = {
  'spawn helper': {
    env: undefined,
    holder: (): Holder | undefined => {
      const h = spawnHelper();
      return h && h.live > 0 ? { id: h.pid, end: async () => void process.kill(h.pid, 'SIGKILL') } : undefined;
    },
    ids: (): number[] => {
      const h = spawnHelper();
      return h ? [h.pid] : [];
    },
  },
  'spawner thread': {
    env: '0',
    holder: (): Holder | undefined => {
      const t = spawnerThreads().find((x) => x.live > 0);
      return t ? { id: t.threadId, end: () => terminateSpawnerThread(t.index) } : undefined;
    },
    ids: (): number[] => spawnerThreads().map((t) => t.threadId),
  },
} as const;

const req = (prompt: string, sandboxed: boolean, over: Partial<EngineRequest> = {}): EngineRequest => execRequest(dir, prompt, sandboxed, over);

async function run(r: EngineRequest): Promise<{ done: Done; out: string; err: string; events: EngineEvent[] }> {
  const events: EngineEvent[] = [];
  for await (const ev of createExecEngine({ killGraceMs: 300 }).run(r)) events.push(ev);
  const text = (stream: string): string => events.map((e) => (e.type === 'output' && e.stream === stream ? e.text : '')).join('');
  const done = events[events.length - 1] as Done;
  expect(done.type).toBe('done');
  return { done, out: text('stdout'), err: text('stderr'), events };
}

describe.each([
  ['spawn helper', 'plain', false],
  ['spawn helper', 'sandboxed', true],
  ['spawner thread', 'plain', false],
  ['spawner thread', 'sandboxed', true],
] as const)('%s (%s)', (kind, _mode, sandboxed) => {
  const spawner = spawners[kind];
  beforeEach(() => restore('COLONY_SPAWN_HELPER', spawner.env));
  it('keeps the order of each stream, bursts and pauses included, and the exit code', async () => {
    const script = 'i=0; while [ $i -lt 3000 ]; do echo "o$i"; [ $((i % 500)) -eq 0 ] && echo "e$i" >&2 && sleep 0.01; i=$((i+1)); done; exit 7';
    const r = await run(req(script, sandboxed));
    expect(r.out).toBe(Array.from({ length: 3000 }, (_, i) => `o${i}\n`).join(''));
    expect(r.err).toBe([0, 500, 1000, 1500, 2000, 2500].map((i) => `e${i}\n`).join(''));
    expect(r.done).toMatchObject({ ok: false, summary: 'exit 7', error_code: 'E_ENGINE' });
  });

  it('stops a task cancelled before the thread reported its pid: the whole tree goes, nothing of it is left', async () => {
    const ac = new AbortController();
    const infos: AttemptProcess[] = [];
    const pending = run(
      req('sleep 30 & echo $! > child.pid; sleep 0.3; touch after.txt; wait', sandboxed, { signal: ac.signal, onProcess: (i) => infos.push(i) }),
    );
    ac.abort(); // same turn as the spawn request: the pid is not known yet
    const r = await pending;
    expect(r.done).toEqual({ type: 'done', ok: false, summary: 'cancelled', error_code: 'E_CANCELLED' });
    expect(infos).toHaveLength(1); // the process was recorded all the same
    const leader = (infos[0] as AttemptProcess).pid;
    await waitFor(() => processGone(leader), `leader ${leader} to be gone`, 10_000);
    const grandchild = readTaskPid(join(dir, 'child.pid'));
    if (grandchild !== undefined) await waitFor(() => processGone(grandchild), `grandchild ${grandchild} to be gone`, 10_000);
    await new Promise((res) => setTimeout(res, 500));
    expect(() => realpathSync(join(dir, 'after.txt'))).toThrow(); // the script never got that far
  });

  it('a spawner that dies ends its attempts cleanly, kills their trees, and the next attempt runs in a new one', async () => {
    const infos: AttemptProcess[] = [];
    const pending = run(req('sleep 30 & echo $! > child.pid; echo started; wait', sandboxed, { onProcess: (i) => infos.push(i) }));
    const grandchild = await waitFor(() => readTaskPid(join(dir, 'child.pid')), 'the grandchild pid');
    strays.push(grandchild);
    const holder = await waitFor(spawner.holder, 'the spawner holding the attempt');
    await holder.end();
    const r = await pending;
    expect(r.out).toBe('started\n');
    expect(r.err).toMatch(new RegExp(`the ${kind} holding this process died`));
    expect(r.done).toMatchObject({ ok: false, summary: 'killed by SIGKILL', error_code: 'E_ENGINE' });
    await waitFor(() => processGone((infos[0] as AttemptProcess).pid), 'the leader to be gone', 10_000);
    await waitFor(() => processGone(grandchild), `grandchild ${grandchild} to be gone`, 10_000);

    const next = await run(req('echo again', sandboxed));
    expect(next.out).toBe('again\n');
    expect(next.done).toMatchObject({ ok: true });
    expect(spawner.ids()).not.toContain(holder.id);
  });

  it('gives the same events as the direct spawn on the main thread (COLONY_SPAWN_THREADS=0)', async () => {
    const script = 'echo out; echo err >&2; exit 3';
    const viaThread = await run(req(script, sandboxed));
    process.env['COLONY_SPAWN_THREADS'] = '0';
    const direct = await run(req(script, sandboxed));
    expect(direct.out).toBe('out\n');
    expect(direct.err).toBe('err\n');
    expect(viaThread.out).toBe(direct.out);
    expect(viaThread.err).toBe(direct.err);
    expect(viaThread.done).toEqual(direct.done);
  });
});

/** The live processes whose parent is `ppid`, with their command lines. */
function childrenOf(ppid: number): { pid: number; cmd: string }[] {
  return readdirSync('/proc').flatMap((name) => {
    if (!/^\d+$/.test(name)) return [];
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== ppid) return [];
      return [{ pid: Number(name), cmd: readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ') }];
    } catch {
      return [];
    }
  });
}

describe.each([
  ['plain', false],
  ['sandboxed', true],
] as const)('the host SIGKILLed while the spawn helper holds a task (%s)', (_mode, sandboxed) => {
  it('the helper dies with the host, and so does everything of the task', async () => {
    assertBuilt();
    const graph = join(dir, 'g.json');
    writeFileSync(
      graph,
      JSON.stringify({ name: 'g', tasks: [{ id: 't', engine: 'exec', prompt: 'echo $$ > leader.pid; sleep 30 & echo $! > bg.pid; wait' }] }),
    );
    const config = join(dir, 'c.json');
    writeFileSync(config, JSON.stringify({ safety: { sandbox: sandboxed } }));
    const run = startCli(['run', graph, '--home', join(dir, 'home'), '--config', config], { cwd: dir, env: { COLONY_SPAWN_HELPER: undefined } });
    const ended = run.result.catch((e: unknown) => e);
    const host = run.child.pid as number;
    strays.push(host);
    const pids = await waitFor(() => {
      const l = readTaskPid(join(dir, 'leader.pid'));
      const b = readTaskPid(join(dir, 'bg.pid'));
      return l && b ? [l, b] : undefined;
    }, 'the task wrote its pids');
    strays.push(...pids);
    const helpers = childrenOf(host).filter((c) => c.cmd.includes('--max-semi-space-size'));
    expect(helpers, 'one spawn helper, a child of the host').toHaveLength(1);
    const helperPid = (helpers[0] as { pid: number }).pid;
    strays.push(helperPid);
    // The task's leader is the helper's child (sandboxed: bubblewrap, then the task inside it).
    expect(childrenOf(helperPid).length).toBeGreaterThan(0);
    run.child.kill('SIGKILL');
    await ended;
    for (const pid of [helperPid, ...pids]) await waitFor(() => processGone(pid), `process ${pid} to be gone after the host's SIGKILL`, 1_000);
  }, 30_000);
});
