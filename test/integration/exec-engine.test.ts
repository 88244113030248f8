/**
 * The exec engine with real shells: streamed output, exit codes, wall-clock
 * and silence timeouts, abort killing the whole process group (grandchildren
 * included), and a missing shell.
 */
import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EngineEvent, EngineRequest } from '../../src/core/engine.js';
import { createExecEngine } from '../../src/engines/exec.js';
import { killQuietly, makeTempDir, processGone, readTaskPid as readPid, waitFor } from '../helpers/proc.js';
import { homedir } from 'node:os';
import { execRequest } from '../helpers/exec-request.js';

// Every case runs twice: plain, and inside the OS sandbox as the pool runs it (safety.sandbox on).
let sandboxed = false;

type Done = Extract<EngineEvent, { type: 'done' }>;

let dir: string;
let cleanup: () => void;
const strays: number[] = [];

beforeEach(() => {
  ({ dir, cleanup } = makeTempDir('colony-exec-'));
});
afterEach(() => {
  while (strays.length) killQuietly(strays.pop());
  cleanup();
});

function req(prompt: string, over: Partial<EngineRequest> = {}): EngineRequest {
  return execRequest(dir, prompt, sandboxed, over);
}

interface Timed {
  at: number;
  ev: EngineEvent;
}

async function run(r: EngineRequest, engine = createExecEngine({ killGraceMs: 500 })): Promise<{ events: Timed[]; done: Done; out: string; err: string }> {
  const events: Timed[] = [];
  for await (const ev of engine.run(r)) events.push({ at: Date.now(), ev });
  const dones = events.map((e) => e.ev).filter((e): e is Done => e.type === 'done');
  expect(dones).toHaveLength(1);
  expect(events[events.length - 1]?.ev.type).toBe('done'); // done is always last
  const text = (stream: string): string =>
    events
      .map((e) => e.ev)
      .filter((e) => e.type === 'output' && e.stream === stream)
      .map((e) => (e.type === 'output' ? e.text : ''))
      .join('');
  return { events, done: dones[0] as Done, out: text('stdout'), err: text('stderr') };
}

describe.each([
  ['plain', false],
  ['sandboxed', true],
] as const)('exec engine (%s)', (_mode, inSandbox) => {
  beforeEach(() => {
    sandboxed = inSandbox;
  });

  it('streams stdout and stderr separately and maps exit 0 to success', async () => {
    const r = await run(req('echo out1; echo err1 >&2; echo out2; echo err2 >&2'));
    expect(r.out).toBe('out1\nout2\n');
    expect(r.err).toBe('err1\nerr2\n');
    expect(r.done).toEqual({ type: 'done', ok: true, summary: 'exit 0' });
    expect(r.events[0]?.ev).toEqual({ type: 'info', engine: 'exec', model: null });
    expect(r.events.map((e) => e.ev)).toContainEqual({ type: 'cost', usd: 0, source: 'reported' });
  });

  it('delivers output while the command is still running', async () => {
    const r = await run(req('echo first; sleep 1.5; echo second'));
    const first = r.events.find((e) => e.ev.type === 'output' && e.ev.text.includes('first'));
    const last = r.events[r.events.length - 1];
    expect(first && last && last.at - first.at).toBeGreaterThanOrEqual(700);
    expect(r.out).toBe('first\nsecond\n');
  });

  it('runs in the task workspace with the given environment only', async () => {
    const r = await run(
      req('pwd; echo "v=$COLONY_TEST_VAR"; echo "home=${HOME:-unset}"', { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', COLONY_TEST_VAR: 'x1' } }),
    );
    // in the sandbox HOME is a fresh empty directory at the user's home path
    expect(r.out).toBe(`${realpathSync(dir)}\nv=x1\nhome=${inSandbox ? homedir() : 'unset'}\n`);
  });

  it('maps a non-zero exit code to failure with E_ENGINE', async () => {
    const r = await run(req('echo boom >&2; exit 3'));
    expect(r.done).toEqual({ type: 'done', ok: false, summary: 'exit 3', error_code: 'E_ENGINE' });
    expect(r.err).toBe('boom\n');
  });

  it('stops a command at its wall-clock timeout with E_TIMEOUT', async () => {
    const t0 = Date.now();
    const r = await run(req('echo started; sleep 30', { run_timeout_ms: 400 }));
    expect(r.done).toMatchObject({ ok: false, error_code: 'E_TIMEOUT', summary: 'run timeout reached' });
    expect(r.out).toBe('started\n');
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('stops a command that stays silent longer than the silence timeout with E_TIMEOUT', async () => {
    const t0 = Date.now();
    const r = await run(req('echo started; sleep 30', { silence_timeout_ms: 400 }));
    expect(r.done).toMatchObject({ ok: false, error_code: 'E_TIMEOUT' });
    expect(r.done.summary).toMatch(/silence/);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('does not fire the silence timeout while output keeps coming', async () => {
    // 8 lines 0.25 s apart: 2 s in total, longer than the 1.5 s silence limit, but never silent that long.
    const r = await run(req('for i in 1 2 3 4 5 6 7 8; do echo $i; sleep 0.25; done', { silence_timeout_ms: 1500 }));
    expect(r.done).toEqual({ type: 'done', ok: true, summary: 'exit 0' });
    expect(r.out.trim().split('\n')).toHaveLength(8);
  });

  it('kills the whole process group on abort, grandchildren included', async () => {
    const ac = new AbortController();
    const pidFile = join(dir, 'child.pid');
    const pending = run(req('sleep 30 & echo $! > child.pid; wait', { signal: ac.signal }));
    const grandchild = await waitFor(() => readPid(pidFile), 'the grandchild pid file');
    strays.push(grandchild);
    expect(processGone(grandchild)).toBe(false);

    const t0 = Date.now();
    ac.abort();
    const r = await pending;
    expect(r.done).toEqual({ type: 'done', ok: false, summary: 'cancelled', error_code: 'E_CANCELLED' });
    await waitFor(() => processGone(grandchild), `grandchild ${grandchild} to be gone`, 10_000);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('escalates to SIGKILL after the grace period when the group ignores SIGTERM', async () => {
    const ac = new AbortController();
    const pidFile = join(dir, 'child.pid');
    // An ignored signal stays ignored across exec, so both sh and sleep ignore SIGTERM.
    const pending = run(req("trap '' TERM; sleep 30 & echo $! > child.pid; wait", { signal: ac.signal }), createExecEngine({ killGraceMs: 300 }));
    const grandchild = await waitFor(() => readPid(pidFile), 'the grandchild pid file');
    strays.push(grandchild);
    ac.abort();
    const r = await pending;
    expect(r.done).toMatchObject({ ok: false, error_code: 'E_CANCELLED' });
    await waitFor(() => processGone(grandchild), `grandchild ${grandchild} to be gone`, 10_000);
  });

  it('reports a missing shell as E_ENGINE_MISSING', async () => {
    const missing = join(dir, 'no-such-shell');
    expect(existsSync(missing)).toBe(false);
    const r = await run(req('echo hi'), createExecEngine({ shell: missing }));
    expect(r.done).toMatchObject({ ok: false, error_code: 'E_ENGINE_MISSING' });
    expect(r.done.summary).toContain(missing);
    expect(r.out).toBe('');
  });
});
