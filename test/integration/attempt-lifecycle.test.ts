/**
 * An attempt's process tree lives and dies with the attempt, with the OS
 * sandbox off (engines/lifecycle.ts): real processes, real signals.
 *  - cancel and timeout end the whole tree: a `sleep &` child in the process
 *    group and a `setsid` child outside it (found by its cgroup, or by the
 *    attempt's environment tag when cgroups are off), for exec and the claude engine;
 *  - SIGKILL of the process running the attempt: nothing of the tree is alive
 *    1 s later (parent-death signal on the leader, the reaper for the rest);
 *  - with the reaper off too, the leader still dies and the sweep at recovery
 *    (sweepAttempts) ends the rest from the recorded identity;
 *  - the sweep never kills a process whose pid only looks like a recorded one
 *    (reused pid: other start time; other boot).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { AttemptProcess } from '../../src/core/engine.js';
import { attemptCgroupBase, makeAttemptCgroup, pruneEmptyAttemptCgroups } from '../../src/engines/attempt-cgroup.js';
import { createClaudeEngine } from '../../src/engines/claude-cli.js';
import { createExecEngine } from '../../src/engines/exec.js';
import { bootId, startTicks, sweepAttempts } from '../../src/engines/process-tree.js';
import { collect, doneOf, realPricing, request } from '../helpers/engine-harness.js';
import { killQuietly, makeTempDir, processGone, readPid, waitFor } from '../helpers/proc.js';

const FAKE = fileURLToPath(new URL('../fixtures/fake-claude.mjs', import.meta.url));
const DRIVER = fileURLToPath(new URL('../fixtures/attempt-driver.mts', import.meta.url));
const TSX = import.meta.resolve('tsx');
const PATH = process.env['PATH'] ?? '/usr/bin:/bin';
/** Leader, a background child in its group, and a child in a session of its own. */
const TREE = 'echo $$ > leader.pid; sleep 30 & echo $! > bg.pid; setsid sleep 30 & echo $! > esc.pid; wait';

const tmp = makeTempDir('colony-lifecycle-');
const strays: number[] = [];
const drivers: ChildProcess[] = [];
afterEach(() => {
  delete process.env['COLONY_ATTEMPT_CGROUP'];
});
afterAll(() => {
  for (const p of strays) killQuietly(p);
  for (const d of drivers) killQuietly(d.pid);
  tmp.cleanup();
});

let n = 0;
function workspace(): string {
  const dir = join(tmp.dir, `ws${n++}`);
  mkdirSync(dir);
  return dir;
}

async function treePids(ws: string): Promise<number[]> {
  const pids = await waitFor(() => {
    const all = ['leader.pid', 'bg.pid', 'esc.pid'].map((f) => readPid(join(ws, f)));
    return all.every((p) => p !== undefined) ? (all as number[]) : undefined;
  }, 'the task wrote its pids');
  strays.push(...pids);
  return pids;
}

function exec(ws: string, over: Partial<Parameters<typeof request>[0]> = {}) {
  return collect(createExecEngine({ killGraceMs: 300 }), request({ workspace: ws, prompt: TREE, env: { PATH }, run_timeout_ms: null, ...over }));
}

describe('cancel and timeout end the whole tree', () => {
  for (const cgroups of ['on', 'off'] as const) {
    it(`exec, cancelled: leader, background child and setsid child all gone (cgroups ${cgroups})`, async () => {
      if (cgroups === 'off') process.env['COLONY_ATTEMPT_CGROUP'] = 'off';
      const ws = workspace();
      const ac = new AbortController();
      let info: AttemptProcess | null = null;
      const run = exec(ws, { signal: ac.signal, onProcess: (i) => (info = i) });
      const pids = await treePids(ws);
      expect(pids.every((p) => !processGone(p))).toBe(true);
      const proc = info as AttemptProcess | null;
      expect(proc).not.toBeNull();
      expect(proc?.cgroup !== null).toBe(cgroups === 'on' && attemptCgroupBase() !== null);
      ac.abort();
      const events = await run;
      expect(doneOf(events).error_code).toBe('E_CANCELLED');
      await waitFor(() => pids.every(processGone), `pids ${pids.join(', ')} gone after cancel`, 3000);
    });
  }

  it('exec, wall-clock timeout: the whole tree is gone', async () => {
    const ws = workspace();
    const run = exec(ws, { run_timeout_ms: 1500 });
    const pids = await treePids(ws);
    const events = await run;
    expect(doneOf(events).error_code).toBe('E_TIMEOUT');
    await waitFor(() => pids.every(processGone), `pids ${pids.join(', ')} gone after timeout`, 3000);
  });

  it('claude engine, cancelled: the CLI, its grandchild and a setsid grandchild are gone', async () => {
    const ws = workspace();
    const pidFile = join(ws, 'fake.json');
    const ac = new AbortController();
    const engine = createClaudeEngine({
      bin: FAKE,
      defaultModel: 'sonnet',
      permissionMode: 'acceptEdits',
      allowedTools: [],
      extraArgs: [],
      pricing: realPricing(),
      killGraceMs: 300,
    });
    const run = collect(
      engine,
      request({ workspace: ws, signal: ac.signal, env: { PATH, FAKE_CLAUDE_SCENARIO: 'stall', FAKE_CLAUDE_PID_FILE: pidFile, FAKE_CLAUDE_SETSID: '1' } }),
    );
    const rec = await waitFor(() => {
      try {
        return JSON.parse(readFileSync(pidFile, 'utf8')) as { pid: number; child: number; escaped: number };
      } catch {
        return undefined;
      }
    }, 'fake claude wrote its pids');
    const pids = [rec.pid, rec.child, rec.escaped];
    strays.push(...pids);
    expect(pids.every((p) => !processGone(p))).toBe(true);
    ac.abort();
    expect(doneOf(await run).error_code).toBe('E_CANCELLED');
    await waitFor(() => pids.every(processGone), `pids ${pids.join(', ')} gone after cancel`, 3000);
  });

  for (const cgroups of ['on', 'off'] as const) {
    it(`a task that succeeds but leaves daemons behind (output closed, one in a session of its own): they do not outlive the attempt (cgroups ${cgroups})`, async () => {
      if (cgroups === 'off') process.env['COLONY_ATTEMPT_CGROUP'] = 'off';
      const ws = workspace();
      const events = await exec(ws, {
        prompt: 'sleep 30 >/dev/null 2>&1 & echo $! > bg.pid; setsid sleep 30 >/dev/null 2>&1 < /dev/null & echo $! > esc.pid; echo $$ > leader.pid',
      });
      expect(doneOf(events).ok).toBe(true);
      const pids = await treePids(ws);
      await waitFor(() => pids.every(processGone), `pids ${pids.join(', ')} gone after the attempt ended`, 3000);
    });
  }

  it('reports what identifies the tree: leader pid = group, its start time, this boot, the tag in the environment', async () => {
    const ws = workspace();
    const ac = new AbortController();
    let info: AttemptProcess | null = null;
    const run = exec(ws, { signal: ac.signal, onProcess: (i) => (info = i) });
    const [leader, bg] = await treePids(ws);
    const proc = info as unknown as AttemptProcess;
    expect(proc.pid).toBe(leader);
    expect(proc.pgid).toBe(leader);
    expect(proc.start_ticks).toBe(startTicks(leader as number));
    expect(proc.boot_id).toBe(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    expect(readFileSync(`/proc/${bg}/environ`, 'latin1')).toContain(`COLONY_ATTEMPT_TAG=${proc.tag}\u0000`);
    ac.abort();
    await run;
  });
});

/** Starts the driver (an engine attempt in its own process) and waits for the tree. */
async function driven(ws: string, env: Record<string, string>): Promise<{ driver: ChildProcess; info: AttemptProcess; pids: number[] }> {
  const driver = spawn(process.execPath, ['--import', TSX, DRIVER, JSON.stringify({ engine: 'exec', prompt: TREE, env: { PATH } })], {
    cwd: ws,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  drivers.push(driver);
  let out = '';
  driver.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  const pids = await treePids(ws);
  const line = await waitFor(() => out.split('\n').find((l) => l.startsWith('PROC ')), 'the driver reported the process');
  return { driver, info: JSON.parse(line.slice(5)) as AttemptProcess, pids };
}

describe('the process running the attempt is SIGKILLed', () => {
  for (const cgroups of ['on', 'off'] as const) {
    it(`nothing of the tree is alive 1 s later (cgroups ${cgroups})`, async () => {
      const ws = workspace();
      const { driver, pids } = await driven(ws, cgroups === 'off' ? { COLONY_ATTEMPT_CGROUP: 'off' } : {});
      driver.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 1000));
      expect(pids.filter((p) => !processGone(p))).toEqual([]);
    }, 20_000);
  }

  it('with the reaper gone too, the leader still dies (parent-death signal) and the sweep ends the rest from the record', async () => {
    const ws = workspace();
    const { driver, info, pids } = await driven(ws, { COLONY_REAPER: 'off', COLONY_ATTEMPT_CGROUP: 'off' });
    const [leader, bg, esc] = pids as [number, number, number];
    driver.kill('SIGKILL');
    await waitFor(() => processGone(leader), 'leader killed by its parent-death signal', 3000);
    // Only the sweep (or the reaper) reaches the setsid-escaped process. The leader's group (bg) may
    // be gone already: the spawn helper kills its children's groups when it sees the host go before
    // its own parent-death signal lands (spawn-helper.ts).
    expect(processGone(esc)).toBe(false);
    const r = sweepAttempts([info], 5000);
    expect(r.remaining).toEqual([]);
    expect(r.killed).toBeGreaterThanOrEqual(1);
    expect(r.killed).toBeLessThanOrEqual(2);
    expect([bg, esc].filter((p) => !processGone(p))).toEqual([]);
  }, 20_000);
});

describe('the sweep kills only what it can prove is the attempt', () => {
  function bystander(): ChildProcess {
    const p = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    strays.push(p.pid as number);
    return p;
  }

  it('a live process whose pid matches a record but whose start time does not (a reused pid) is left alone', async () => {
    const p = bystander();
    const pid = p.pid as number;
    await waitFor(() => startTicks(pid) !== null, 'bystander started');
    const real = startTicks(pid) as number;
    const r = sweepAttempts([{ pid, pgid: pid, start_ticks: real - 1, boot_id: bootId(), cgroup: null, tag: 'not-in-its-environment' }], 500);
    expect(r.killed).toBe(0);
    expect(processGone(pid)).toBe(false);
    // the same record with the right start time is the process: killed
    expect(sweepAttempts([{ pid, pgid: pid, start_ticks: real, boot_id: bootId(), cgroup: null, tag: 'x' }], 2000).killed).toBe(1);
    await waitFor(() => processGone(pid), 'bystander killed by a matching record');
  });

  it('a record from another boot names nothing', async () => {
    const p = bystander();
    const pid = p.pid as number;
    await waitFor(() => startTicks(pid) !== null, 'bystander started');
    const r = sweepAttempts([{ pid, pgid: pid, start_ticks: startTicks(pid) as number, boot_id: 'another-boot', cgroup: null, tag: 'x' }], 500);
    expect(r.killed).toBe(0);
    expect(processGone(pid)).toBe(false);
    p.kill('SIGKILL');
  });
});

describe('attempt cgroups a dead colony could not remove', () => {
  it('are removed at the next start once empty and old enough; a fresh or a populated one is kept', async () => {
    if (!attemptCgroupBase()) {
      expect(makeAttemptCgroup('prune-test')).toBeNull(); // no cgroup v2 here: nothing is made, nothing to prune
      return;
    }
    const empty = makeAttemptCgroup('prune-test-empty') as string;
    const busy = makeAttemptCgroup('prune-test-busy') as string;
    // By the dirs made, not by name: an emptied cgroup of an earlier attempt in this process is reused under its own name.
    const mine = (name: string): boolean => name === basename(empty) || name === basename(busy);
    const p = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    strays.push(p.pid as number);
    writeFileSync(join(busy, 'cgroup.procs'), String(p.pid));
    expect(pruneEmptyAttemptCgroups(60_000, Date.now(), mine)).toBe(0); // both fresh
    expect(pruneEmptyAttemptCgroups(60_000, Date.now() + 120_000, mine)).toBe(1); // "old": only the empty one goes
    expect(existsSync(empty)).toBe(false);
    expect(existsSync(busy)).toBe(true);
    p.kill('SIGKILL');
    await waitFor(() => readFileSync(join(busy, 'cgroup.events'), 'utf8').includes('populated 0'), 'busy cgroup emptied');
    expect(pruneEmptyAttemptCgroups(60_000, Date.now() + 120_000, mine)).toBe(1);
  });
});
