/**
 * Each sandbox limit ends a real task in real bwrap and is named in the
 * task's failure (E_SANDBOX_LIMIT): file size, CPU time, memory, processes.
 * Small limits so the tests are quick; the host process survives them all.
 */
import { mkdirSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config.js';
import type { EngineEvent } from '../../src/core/engine.js';
import { createExecEngine } from '../../src/engines/exec.js';
import { createSandboxPlanner } from '../../src/safety/os-sandbox/index.js';
import { makeTempDir } from '../helpers/proc.js';

const tmp = makeTempDir('colony-sbx-lim-');
const workspace = join(realpathSync(tmp.dir), 'ws');
mkdirSync(workspace);
afterAll(() => tmp.cleanup());

const limits = { processes: 64, memory_mb: 128, file_size_mb: 1, cpu_s: 1 };
const cfg = parseConfig({ safety: { os_sandbox: { limits } } });
if (!cfg.ok) throw new Error(cfg.problems.join('; '));
const planner = createSandboxPlanner({ safety: cfg.config.safety, colonyHome: join(tmp.dir, 'home'), configFile: null });

async function run(prompt: string): Promise<{ done: Extract<EngineEvent, { type: 'done' }>; out: string }> {
  const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: '/root' };
  const sandbox = planner.planFor({ taskId: 't', engine: 'exec', workspace, env });
  let out = '';
  let done: Extract<EngineEvent, { type: 'done' }> | null = null;
  for await (const ev of createExecEngine({ killGraceMs: 300 }).run({
    task_id: 't',
    attempt: 1,
    prompt,
    model: null,
    workspace,
    budget_usd: 0,
    env,
    run_timeout_ms: 30_000,
    silence_timeout_ms: null,
    signal: new AbortController().signal,
    sandbox,
  })) {
    if (ev.type === 'output') out += ev.text;
    if (ev.type === 'done') done = ev;
  }
  if (!done) throw new Error('no done event');
  return { done, out };
}

describe('limits end a task and are named', () => {
  it('all four are enforced on this machine', () => {
    expect(planner.status().limits_enforced.sort()).toEqual(['cpu_s', 'file_size_mb', 'memory_mb', 'processes']);
  });

  it('file size', async () => {
    const r = await run('head -c 3000000 /dev/zero > big.bin && echo after');
    expect(r.out).not.toContain('after');
    expect(statSync(join(workspace, 'big.bin')).size).toBeLessThanOrEqual(1024 * 1024);
    expect(r.done).toMatchObject({ ok: false, error_code: 'E_SANDBOX_LIMIT' });
    expect(r.done.summary).toBe('file size limit reached (safety.os_sandbox.limits.file_size_mb = 1)');
  });

  it('CPU time', async () => {
    const r = await run('python3 -c "while True: pass"');
    expect(r.done).toMatchObject({ ok: false, error_code: 'E_SANDBOX_LIMIT' });
    expect(r.done.summary).toBe('CPU time limit reached (safety.os_sandbox.limits.cpu_s = 1 per process)');
  });

  it('memory', async () => {
    const r = await run('python3 -c "x = bytearray(400 * 1024 * 1024); print(len(x))"');
    expect(r.out).not.toContain('419430400');
    expect(r.done).toMatchObject({ ok: false, error_code: 'E_SANDBOX_LIMIT' });
    expect(r.done.summary).toBe('memory limit reached (safety.os_sandbox.limits.memory_mb = 128)');
  });

  it('processes (a fork bomb in python, so no shell trick is involved)', async () => {
    const r = await run('python3 -c "import os\nwhile True:\n  try: os.fork()\n  except OSError: pass"');
    expect(r.done).toMatchObject({ ok: false, error_code: 'E_SANDBOX_LIMIT' });
    expect(r.done.summary).toContain('process limit reached (safety.os_sandbox.limits.processes = 64');
    expect(r.out).toContain('[colony sandbox: process limit reached');
  });

  it('a task within its limits is untouched', async () => {
    const r = await run('head -c 100000 /dev/zero > ok.bin && wc -c < ok.bin');
    expect(r.done).toMatchObject({ ok: true });
    expect(r.out).toBe('100000\n');
  });
});
