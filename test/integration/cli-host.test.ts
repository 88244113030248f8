/**
 * The CLI against a real host: `colony serve --admin-port 0 --home H` as a
 * child process (the built binary, the way a user starts it), then `status`,
 * `submit` (text and graph file), `tasks --state`, `logs`, `pause`, `resume`
 * and `kill` over the admin API; each of them without a host prints one line
 * and exits 3; SIGTERM shuts the host down cleanly (exit 0, host.json gone,
 * DB closed: a new serve on the same home starts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockHolder } from '../../src/store/host-lock.js';
import { adminApi, makeHome, type AdminCall, type TestHome } from '../helpers/admin-host.js';
import { assertBuilt, CLI, runCli, type CliResult } from '../helpers/cli.js';
import { killQuietly, processGone, readTaskPid as readPid, waitFor } from '../helpers/proc.js';

interface Serve {
  child: ChildProcess;
  out: () => string;
  adminUrl: string;
  port: number;
  token: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const home: TestHome = makeHome('colony-clihost-');
const H = home.paths.home;
const children: ChildProcess[] = [];
const strays: number[] = [];

/** Starts `colony serve` and resolves once it printed the admin URL. */
async function serve(): Promise<Serve> {
  const child = spawn(process.execPath, [CLI, 'serve', '--admin-port', '0', '--home', H, '--config', join(home.dir, 'colony.config.json'), '--quiet'], {
    cwd: home.dir,
    env: { ...process.env, COLONY_HOME: undefined, COLONY_CONFIG: undefined },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const m = await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}\nstdout: ${stdout}\nstderr: ${stderr}`);
      return /admin app: (http:\/\/127\.0\.0\.1:(\d+)\/\?token=(\S+))/.exec(stdout);
    },
    'serve to print its admin URL',
    20_000,
  );
  return { child, out: () => stdout + stderr, adminUrl: m[1] as string, port: Number(m[2]), token: m[3] as string, exited };
}

const colony = (args: string[], h = H): Promise<CliResult> => runCli([...args, '--home', h], { cwd: home.dir, timeoutMs: 20_000 });

function expectOk(r: CliResult): void {
  expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
}

let s: Serve;
let api: (method: string, path: string, body?: unknown) => Promise<AdminCall>;
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Polls an async condition (waitFor's check is synchronous). */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const stateOf = async (id: string): Promise<string> => ((await api('GET', `/admin/tasks/${encodeURIComponent(id)}`)).json['task'] as { state: string }).state;

beforeAll(async () => {
  assertBuilt();
  writeFileSync(join(home.dir, 'colony.config.json'), JSON.stringify({ runner: { kill_grace_ms: 500, concurrency: 2 } }));
  s = await serve();
  api = adminApi(s.port, s.token);
});

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const pid of strays) killQuietly(pid);
  home.cleanup();
});

describe('colony serve', () => {
  it('prints the admin URL carrying the token from COLONY_HOME/admin.token, and writes host.json', () => {
    expect(s.token).toBe(readFileSync(home.paths.adminToken, 'utf8').trim());
    expect(s.port).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(home.paths.hostInfo, 'utf8'))).toMatchObject({ admin_port: s.port, pid: s.child.pid });
  });
});

describe('CLI commands over the admin API', () => {
  it('status shows the kill switch, workers and task counts', async () => {
    const r = await colony(['status']);
    expectOk(r);
    expect(r.stdout).toMatch(/kill switch: running/);
    expect(r.stdout).toMatch(/workers: 0\/2 busy/);
  });

  it('submit runs a text task with --engine exec; tasks --state and logs show it', async () => {
    const r = await colony(['submit', 'echo from-the-cli', '--engine', 'exec', '--title', 'cli task']);
    expectOk(r);
    const m = /^submitted (\S+): (\S+)$/m.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const id = m?.[2] as string;
    await until(async () => (await stateOf(id)) === 'succeeded', 'the submitted task to succeed');
    const tasks = await colony(['tasks', '--state', 'succeeded']);
    expectOk(tasks);
    expect(tasks.stdout).toContain(id);
    expect(tasks.stdout).toMatch(/ID\s+STATE/);
    const logs = await colony(['logs', id]);
    expectOk(logs);
    expect(logs.stdout).toContain(`${id} — succeeded`);
    expect(logs.stdout).toContain('from-the-cli');
    expect(logs.stdout).toMatch(/attempt 1 on host-\d: exec/);
  });

  it('submit sends a graph file; its tasks run in order', async () => {
    const file = join(home.dir, 'pipeline.json');
    writeFileSync(
      file,
      JSON.stringify({
        name: 'pipe',
        tasks: [
          { id: 'one', engine: 'exec', prompt: 'echo 1 > one.txt' },
          { id: 'two', engine: 'exec', prompt: 'cat one.txt', depends_on: ['one'] },
        ],
      }),
    );
    const r = await colony(['submit', file, '--json']);
    expectOk(r);
    const out = JSON.parse(r.stdout) as { graph_id: string; task_ids: string[] };
    expect(out.task_ids).toEqual([`${out.graph_id}:one`, `${out.graph_id}:two`]);
    const two = out.task_ids[1] as string;
    await until(async () => (await stateOf(two)) === 'succeeded', 'the second task of the graph to succeed');
    expect(existsSync(join(home.dir, 'one.txt'))).toBe(true); // relative workspace = the file's directory
  });

  it("submit refuses a graph whose workspace is outside the host's roots: exit 2, one line naming the path, nothing stored", async () => {
    const elsewhere = join(home.dir, '..', `${home.dir.split('/').pop() ?? 'x'}-elsewhere`);
    mkdirSync(elsewhere, { recursive: true });
    const file = join(elsewhere, 'outside.json');
    writeFileSync(file, JSON.stringify({ name: 'outside', tasks: [{ id: 'x', engine: 'exec', prompt: 'echo pwned > pwned.txt' }] }));
    const r = await colony(['submit', file]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(elsewhere);
    expect(existsSync(join(elsewhere, 'pwned.txt'))).toBe(false);
    rmSync(elsewhere, { recursive: true, force: true });
  });

  it('changes list / request-changes talk to the admin API: none pending, and an unknown task is one line with exit 2', async () => {
    const l = await colony(['changes', 'list']);
    expectOk(l);
    expect(l.stdout.trim()).toBe('no pending changes');
    const r = await colony(['changes', 'request-changes', 'no-such-task', '-m', 'please add tests']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('colony: no pending change for task no-such-task');
  });

  it('pause, resume and kill switch the host and say so', async () => {
    const p = await colony(['pause']);
    expectOk(p);
    expect(p.stdout.trim()).toBe('kill switch: paused');
    const r = await colony(['resume']);
    expectOk(r);
    expect(r.stdout.trim()).toBe('kill switch: running');

    const id = (
      (await api('POST', '/admin/execute', { prompt: `sh -c 'sleep 60 & echo $! > kill.pid; wait'`, engine: 'exec', workspace: home.workspace })).json[
        'task_ids'
      ] as string[]
    )[0] as string;
    const pid = await waitFor(() => readPid(join(home.workspace, 'kill.pid')), 'the task to start');
    strays.push(pid);
    const k = await colony(['kill']);
    expectOk(k);
    expect(k.stdout.trim()).toBe('kill switch: halted');
    await waitFor(() => processGone(pid), "the task's grandchild to be gone", 5000);
    expect(await stateOf(id)).toBe('cancelled');
    expect((await api('POST', '/admin/resume')).json['state']).toBe('running');
  });

  it('refuses a bad --state with one line and exit 2', async () => {
    const r = await colony(['tasks', '--state', 'exploded']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/state must be one of/);
  });
});

describe('without a running host', () => {
  const cases: [string, string[]][] = [
    ['status', ['status']],
    ['submit (text)', ['submit', 'echo hi', '--engine', 'exec']],
    ['submit (graph file)', ['submit', 'pipeline.json']],
    ['tasks', ['tasks', '--state', 'ready']],
    ['logs', ['logs', 'g-000000:a']],
    ['pause', ['pause']],
    ['resume', ['resume']],
    ['kill', ['kill']],
  ];

  it('each command prints one line saying so and exits 3 (empty home, and a stale host.json whose host is gone)', async () => {
    const empty = makeHome('colony-clihost-none-');
    const stale = makeHome('colony-clihost-stale-');
    try {
      writeFileSync(join(empty.dir, 'pipeline.json'), '{"tasks":[{"id":"a","prompt":"true"}]}');
      // host.json and a lock naming a live pid (this test process), but nobody listens on the port.
      mkdirSync(stale.paths.home, { recursive: true });
      writeFileSync(stale.paths.hostInfo, JSON.stringify({ pid: process.pid, admin_port: 1, user_port: null }));
      writeFileSync(stale.paths.hostLock, String(process.pid));
      writeFileSync(stale.paths.adminToken, 'x\n');
      const jobs = [...cases.map(([name, args]) => ({ name, args, h: empty })), { name: 'status (stale host.json)', args: ['status'], h: stale }];
      // Three at a time: each CLI start costs CPU, and CI machines have 2 cores.
      const runs = await mapLimit(jobs, 3, async (j) => ({
        name: j.name,
        r: await runCli([...j.args, '--home', j.h.paths.home], { cwd: j.h.dir, timeoutMs: 30_000 }),
      }));
      for (const { name, r } of runs) {
        expect(r.code, `${name}: ${r.stdout} ${r.stderr}`).toBe(3);
        expect(r.stdout, name).toBe('');
        const lines = r.stderr.trim().split('\n');
        expect(lines, name).toHaveLength(1);
        expect(lines[0], name).toMatch(/no colony host is running .*colony serve/);
      }
    } finally {
      empty.cleanup();
      stale.cleanup();
    }
  }, 60_000);
});

describe('SIGTERM', () => {
  it('shuts down gracefully with an open event stream and a running task: exit 0, host.json gone, the home reusable', async () => {
    const id = (
      (await api('POST', '/admin/execute', { prompt: `sh -c 'sleep 60 & echo $! > term.pid; wait'`, engine: 'exec', workspace: home.workspace })).json[
        'task_ids'
      ] as string[]
    )[0] as string;
    const pid = await waitFor(() => readPid(join(home.workspace, 'term.pid')), 'the task to start');
    strays.push(pid);
    // A dashboard left open: its SSE stream must not hold the shutdown.
    const sse = httpRequest({ host: '127.0.0.1', port: s.port, path: '/events', headers: { host: `127.0.0.1:${s.port}`, authorization: `Bearer ${s.token}` } });
    const sseOpen = new Promise<void>((resolve) => sse.on('response', (res) => (res.resume(), resolve())));
    sse.on('error', () => undefined);
    sse.end();
    await sseOpen;

    s.child.kill('SIGTERM');
    const t0 = Date.now();
    const exit = await Promise.race([s.exited, new Promise<null>((r) => setTimeout(() => r(null), 15_000))]);
    expect(exit, `serve did not exit after SIGTERM:\n${s.out()}`).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(s.out()).toMatch(/SIGTERM: stopping/);
    expect(existsSync(home.paths.hostInfo)).toBe(false);
    expect(lockHolder(home.paths.hostLock)).toBeNull();
    await waitFor(() => processGone(pid), "the running task's grandchild to be gone", 5000);
    sse.destroy();

    const again = await serve();
    try {
      expect(again.token).toBe(s.token);
      const api2 = adminApi(again.port, again.token);
      expect((await api2('GET', '/api/status')).json['killswitch']).toBe('running');
      const t = await api2('GET', `/admin/tasks/${encodeURIComponent(id)}`);
      expect((t.json['task'] as { state: string }).state).toBe('cancelled');
    } finally {
      again.child.kill('SIGTERM');
      expect(await again.exited).toEqual({ code: 0, signal: null });
    }
    expect(existsSync(home.paths.hostInfo)).toBe(false);
  }, 60_000);
});
