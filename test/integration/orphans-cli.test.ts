/**
 * A task's processes never outlive their attempt when the colony process
 * running it is SIGKILLed (the OOM killer, `kill -9`), and the task's effect
 * then happens exactly once: real `colony run` / `colony serve` processes
 * (the built CLI), real signals, a task with a background child
 *
 *   echo $$ > leader.pid; sleep 4 & echo $! > bg.pid; wait; echo done >> done.log
 *
 * killed two seconds in. Checked: nothing of the task is alive 1 s later;
 * `done` is never written by the killed attempt; after recovery (`colony run
 * --resume`, `colony serve` started again) it is written exactly once; the
 * interrupted attempt is recorded as lost (its own attempt number) and shows
 * in `colony logs` and the audit log.
 *
 * Also with the reaper and the parent-death signal both off: then the
 * killed attempt's processes do survive, and the sweep at recovery must end
 * them (audited) before the task runs again.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { adminApi } from '../helpers/admin-host.js';
import { assertBuilt, runCli, startCli, startServe, type CliProcess, type ServeProcess } from '../helpers/cli.js';
import { hostPid, killQuietly, makeTempDir, processGone, readPid, readTaskPid, waitFor } from '../helpers/proc.js';
import { withDb } from '../reliability/helpers.js';

const TASK = 'echo $$ > leader.pid; sleep 4 & echo $! > bg.pid; wait; echo done >> done.log';
const tmp = makeTempDir('colony-orphans-');
const strays: number[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const p of strays) killQuietly(p);
  for (const c of children) killQuietly(c.pid);
  tmp.cleanup();
});

let n = 0;
function setup(): { ws: string; home: string; graph: string } {
  const ws = join(tmp.dir, `ws${n++}`);
  mkdirSync(ws);
  const graph = join(ws, 'graph.json');
  writeFileSync(graph, JSON.stringify({ name: 'orphans', tasks: [{ id: 'bg', engine: 'exec', prompt: TASK, max_attempts: 2 }] }));
  return { ws, home: join(ws, 'home'), graph };
}

const doneLines = (ws: string): number =>
  existsSync(join(ws, 'done.log')) ? readFileSync(join(ws, 'done.log'), 'utf8').split('\n').filter(Boolean).length : 0;

async function taskPids(ws: string): Promise<number[]> {
  const pids = await waitFor(
    () => {
      // host pids: a sandboxed task writes the pids of its own PID namespace
      const l = readTaskPid(join(ws, 'leader.pid'));
      const b = readTaskPid(join(ws, 'bg.pid'));
      return l && b ? [l, b] : undefined;
    },
    'the task wrote its pids',
    20_000,
  );
  strays.push(...pids);
  return pids;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function attemptsOf(home: string): { attempt: number; state: string; summary: string | null }[] {
  return withDb(
    join(home, 'colony.db'),
    (d) => d.prepare('SELECT attempt, state, summary FROM attempts ORDER BY attempt').all() as { attempt: number; state: string; summary: string | null }[],
  );
}

function auditActions(home: string, action: string): { detail: string }[] {
  return withDb(join(home, 'colony.db'), (d) => d.prepare('SELECT detail FROM audit WHERE action = ? ORDER BY id').all(action) as { detail: string }[]);
}

describe('colony run SIGKILLed while a task with a background child runs', () => {
  it('nothing of the task is alive 1 s later, the killed attempt never writes its effect, --resume makes it happen exactly once', async () => {
    assertBuilt();
    const { ws, home, graph } = setup();
    const run: CliProcess = startCli(['run', graph, '--home', home], { cwd: ws });
    children.push(run.child);
    const killedRun = run.result.catch((e: unknown) => e);
    const [leader, bg] = (await taskPids(ws)) as [number, number];
    await sleep(1500);
    run.child.kill('SIGKILL');
    await killedRun;
    await sleep(1000);
    expect(
      [leader, bg].filter((p) => !processGone(p)),
      'task processes alive 1 s after the kill',
    ).toEqual([]);
    await sleep(3000); // past the end of the killed attempt's `sleep 4`
    expect(doneLines(ws), 'the killed attempt wrote its effect').toBe(0);

    const resumed = await runCli(['run', graph, '--home', home, '--resume'], { cwd: ws, timeoutMs: 30_000 });
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    expect(doneLines(ws)).toBe(1);
    const attempts = attemptsOf(home);
    expect(attempts.map((a) => [a.attempt, a.state])).toEqual([
      [1, 'lost'],
      [2, 'succeeded'],
    ]);
    expect(attempts[0]?.summary).toMatch(/host/);
  }, 60_000);

  it('with the reaper and the parent-death signal off, the sweep at --resume ends the survivors before the task runs again', async () => {
    const { ws, home, graph } = setup();
    const env = { COLONY_REAPER: 'off', COLONY_PDEATHSIG: 'off', COLONY_ATTEMPT_CGROUP: 'off' };
    // The OS sandbox's PID namespace would end them too: this is the layer for when it is off.
    const config = join(ws, 'colony.config.json');
    writeFileSync(config, JSON.stringify({ safety: { sandbox: false } }));
    const run = startCli(['run', graph, '--home', home, '--config', config], { cwd: ws, env });
    children.push(run.child);
    const killedRun = run.result.catch((e: unknown) => e);
    const [leader, bg] = (await taskPids(ws)) as [number, number];
    await sleep(500);
    run.child.kill('SIGKILL');
    await killedRun;
    await sleep(300);
    // Nothing protects them now but the record: they survive the kill.
    expect(processGone(leader)).toBe(false);
    expect(processGone(bg)).toBe(false);

    const resumed = await runCli(['run', graph, '--home', home, '--config', config, '--resume'], { cwd: ws, env, timeoutMs: 30_000 });
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    expect(processGone(leader)).toBe(true);
    expect(processGone(bg)).toBe(true);
    await sleep(1000);
    expect(doneLines(ws), 'done.log: the killed attempt must not have finished alongside the new one').toBe(1);
    const swept = auditActions(home, 'attempt.processes_ended').map((r) => JSON.parse(r.detail) as { attempt: number; killed: number; reason: string });
    expect(swept).toEqual([expect.objectContaining({ attempt: 1, killed: 2, reason: 'host died' })]);
    expect(attemptsOf(home).map((a) => a.state)).toEqual(['lost', 'succeeded']);
  }, 60_000);
});

async function serve(ws: string, home: string): Promise<ServeProcess> {
  const s = await startServe(ws, home, 20_000);
  children.push(s.child);
  return s;
}

describe('colony serve SIGKILLed while a task with a background child runs, then started again', () => {
  it('nothing of the task is alive 1 s later; after the restart the effect happens exactly once, and the lost attempt shows in logs and audit', async () => {
    const { ws, home, graph } = setup();
    const first = await serve(ws, home);
    const submitted = await runCli(['submit', graph, '--home', home], { cwd: ws });
    expect(submitted.code, submitted.stdout + submitted.stderr).toBe(0);
    const [leader, bg] = (await taskPids(ws)) as [number, number];
    await sleep(1500);
    first.child.kill('SIGKILL');
    await waitFor(() => first.child.exitCode !== null || first.child.signalCode !== null, 'serve exited');
    await sleep(1000);
    expect(
      [leader, bg].filter((p) => !processGone(p)),
      'task processes alive 1 s after the kill',
    ).toEqual([]);
    await sleep(3000);
    expect(doneLines(ws), 'the killed attempt wrote its effect').toBe(0);

    const second = await serve(ws, home);
    const api = adminApi(second.port, second.token);
    const id = String(((await api('GET', '/admin/tasks')).json['tasks'] as { id: string }[])[0]?.id);
    await waitFor(() => doneLines(ws) > 0, 'the task ran again and wrote done', 20_000);
    const detail = await (async () => {
      for (;;) {
        const r = await api('GET', `/admin/tasks/${encodeURIComponent(id)}`);
        if ((r.json['task'] as { state: string }).state === 'succeeded') return r.json;
        await sleep(100);
      }
    })();
    await sleep(500);
    expect(doneLines(ws)).toBe(1);
    // the dashboard's task detail (same endpoint as `colony logs`)
    expect((detail['attempts'] as { attempt: number; state: string }[]).map((a) => [a.attempt, a.state])).toEqual([
      [1, 'lost'],
      [2, 'succeeded'],
    ]);
    const logs = await runCli(['logs', id, '--home', home], { cwd: ws });
    expect(logs.stdout).toMatch(/# attempt 1 on host-\d+: exec — lost/);
    expect(logs.stdout).toMatch(/# attempt 2 on host-\d+: exec — succeeded/);
    const audit = await api('GET', `/admin/audit?target=${encodeURIComponent(id)}&limit=1000`);
    const actions = (audit.json['records'] as { action: string; detail: Record<string, unknown> }[]).map(
      (r) => `${r.action}:${String(r.detail['state'] ?? r.detail['reason'] ?? r.detail['to'] ?? '')}`,
    );
    expect(actions).toContain('attempt.processes_ended:host died');
    expect(actions).toContain('attempt.finished:lost');
    second.child.kill('SIGTERM');
    await waitFor(() => second.child.exitCode !== null, 'serve stopped');
  }, 90_000);
});

describe('an agent CLI task (the claude engine, fake CLI) when colony run is SIGKILLed', () => {
  it('the CLI, its child and a setsid grandchild are gone 1 s later; --resume runs the task again once', async () => {
    const FAKE = new URL('../fixtures/fake-claude.mjs', import.meta.url).pathname;
    const ws = join(tmp.dir, `ws${n++}`);
    mkdirSync(ws);
    const home = join(ws, 'home');
    const graph = join(ws, 'graph.json');
    const config = join(ws, 'colony.config.json');
    const pidFile = join(ws, 'fake.json');
    writeFileSync(
      config,
      JSON.stringify({ engines: { claude: { bin: FAKE } }, safety: { env_allow: ['FAKE_CLAUDE_SCENARIO', 'FAKE_CLAUDE_PID_FILE', 'FAKE_CLAUDE_SETSID'] } }),
    );
    writeFileSync(
      graph,
      JSON.stringify({ name: 'agent', tasks: [{ id: 'agent', engine: 'claude', prompt: 'Create hello.txt', max_attempts: 2, budget_usd: 1 }] }),
    );
    const env = { FAKE_CLAUDE_SCENARIO: 'stall', FAKE_CLAUDE_PID_FILE: pidFile, FAKE_CLAUDE_SETSID: '1' };
    const run = startCli(['run', graph, '--home', home, '--config', config], { cwd: ws, env });
    children.push(run.child);
    const killedRun = run.result.catch((e: unknown) => e);
    const rec = await waitFor(
      () => {
        try {
          const r = JSON.parse(readFileSync(pidFile, 'utf8')) as { pid: number; child: number; escaped: number };
          const host = [r.pid, r.child, r.escaped].map((p) => hostPid(p, ws));
          return host.every((p) => p !== undefined) ? { pid: host[0] as number, child: host[1] as number, escaped: host[2] as number } : undefined;
        } catch {
          return undefined;
        }
      },
      'the fake CLI wrote its pids',
      20_000,
    );
    const pids = [rec.pid, rec.child, rec.escaped];
    strays.push(...pids);
    expect(pids.filter(processGone)).toEqual([]);
    run.child.kill('SIGKILL');
    await killedRun;
    await sleep(1000);
    expect(
      pids.filter((p) => !processGone(p)),
      'agent processes alive 1 s after the kill',
    ).toEqual([]);

    const resumed = await runCli(['run', graph, '--home', home, '--config', config, '--resume'], {
      cwd: ws,
      env: { FAKE_CLAUDE_SCENARIO: 'success' },
      timeoutMs: 30_000,
    });
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    expect(readFileSync(join(ws, 'hello.txt'), 'utf8')).toBe('hello\n');
    expect(attemptsOf(home).map((a) => [a.attempt, a.state])).toEqual([
      [1, 'lost'],
      [2, 'succeeded'],
    ]);
  }, 60_000);
});
