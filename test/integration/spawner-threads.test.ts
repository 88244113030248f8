/**
 * Attempts spawned by the spawner threads (engines/spawner.ts, issue 24) with
 * real processes, plain and inside the OS sandbox: output order, a stop asked
 * before the thread reported the pid, a thread that dies (its attempts fail
 * cleanly, their trees are gone, the next attempt gets a new thread), and the
 * same events from the direct spawn (COLONY_SPAWN_THREADS=0).
 */
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AttemptProcess, EngineEvent, EngineRequest } from '../../src/core/engine.js';
import { createExecEngine } from '../../src/engines/exec.js';
import { spawnerThreads, terminateSpawnerThread } from '../../src/engines/spawner.js';
import { execRequest } from '../helpers/exec-request.js';
import { killQuietly, makeTempDir, processGone, readTaskPid, waitFor } from '../helpers/proc.js';

type Done = Extract<EngineEvent, { type: 'done' }>;

let dir: string;
let cleanup: () => void;
const strays: number[] = [];
const savedThreads = process.env['COLONY_SPAWN_THREADS'];

beforeEach(() => {
  ({ dir, cleanup } = makeTempDir('colony-spawner-'));
  delete process.env['COLONY_SPAWN_THREADS']; // the default: spawner threads
});
afterEach(() => {
  while (strays.length) killQuietly(strays.pop());
  cleanup();
  if (savedThreads === undefined) delete process.env['COLONY_SPAWN_THREADS'];
  else process.env['COLONY_SPAWN_THREADS'] = savedThreads;
});

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
  ['plain', false],
  ['sandboxed', true],
] as const)('spawner threads (%s)', (_mode, sandboxed) => {
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

  it('a thread that dies ends its attempts cleanly, kills their trees, and the next attempt runs in a new thread', async () => {
    const infos: AttemptProcess[] = [];
    const pending = run(req('sleep 30 & echo $! > child.pid; echo started; wait', sandboxed, { onProcess: (i) => infos.push(i) }));
    const grandchild = await waitFor(() => readTaskPid(join(dir, 'child.pid')), 'the grandchild pid');
    strays.push(grandchild);
    const holder = await waitFor(() => spawnerThreads().find((t) => t.live > 0), 'the thread holding the attempt');
    await terminateSpawnerThread(holder.index);
    const r = await pending;
    expect(r.out).toBe('started\n');
    expect(r.err).toMatch(/the spawner thread holding this process died/);
    expect(r.done).toMatchObject({ ok: false, summary: 'killed by SIGKILL', error_code: 'E_ENGINE' });
    await waitFor(() => processGone((infos[0] as AttemptProcess).pid), 'the leader to be gone', 10_000);
    await waitFor(() => processGone(grandchild), `grandchild ${grandchild} to be gone`, 10_000);

    const next = await run(req('echo again', sandboxed));
    expect(next.out).toBe('again\n');
    expect(next.done).toMatchObject({ ok: true });
    expect(spawnerThreads().map((t) => t.threadId)).not.toContain(holder.threadId);
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
