/**
 * The kill switch on a real host with real exec tasks: `POST /admin/kill`
 * kills the running task's whole process tree (the grandchild PID is gone),
 * the task ends cancelled and nothing new is dispatched; halt survives a
 * restart; a HALT file in COLONY_HOME halts dispatch; pause lets running tasks
 * finish; resume dispatches again; every switch is audited with who and where.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningHost } from '../../src/server/host-server.js';
import { adminApi, makeHome, portOf, startTestHost, type AdminCall, type TestHome } from '../helpers/admin-host.js';
import { killQuietly, processGone, readTaskPid as readPid, waitFor } from '../helpers/proc.js';

/** Long enough for several dispatch ticks (the pool also polls every 500 ms). */
const NOT_DISPATCHED_MS = 1200;

const home: TestHome = makeHome('colony-kill-');
let h: RunningHost;
let api: (method: string, path: string, body?: unknown) => Promise<AdminCall>;
const strays: number[] = [];

async function start(): Promise<void> {
  h = await startTestHost(home, { concurrency: 2 });
  api = adminApi(portOf(h), h.ctx.adminToken);
}

async function submit(prompt: string): Promise<string> {
  const r = await api('POST', '/admin/execute', { prompt, engine: 'exec', workspace: home.workspace });
  expect(r.status, r.body).toBe(201);
  return (r.json['task_ids'] as string[])[0] as string;
}

const stateOf = (id: string): string | undefined => h.host.store.getTask(id)?.state;

async function expectNotDispatched(id: string): Promise<void> {
  await new Promise((r) => setTimeout(r, NOT_DISPATCHED_MS));
  expect(stateOf(id)).toBe('ready');
  expect(h.host.store.attemptsOf(id)).toEqual([]);
}

const sleeper = (name: string): string => `sh -c 'sleep 60 & echo $! > ${name}; wait'`;

beforeAll(start);

beforeEach(async () => {
  rmSync(h.host.paths.haltFile, { force: true });
  if (h.host.killswitch.state() !== 'running') expect((await api('POST', '/admin/resume')).status).toBe(200);
});

afterEach(() => {
  for (const pid of strays.splice(0)) killQuietly(pid);
});

afterAll(async () => {
  await h.close(500);
  home.cleanup();
});

describe('halt (POST /admin/kill)', () => {
  it("kills the running task's grandchild process, ends the task cancelled, and audits who and from where", async () => {
    const id = await submit(sleeper('halt.pid'));
    const pid = await waitFor(() => readPid(join(home.workspace, 'halt.pid')), 'the task to write its grandchild pid');
    strays.push(pid);
    expect(processGone(pid)).toBe(false);
    expect(stateOf(id)).toBe('running');

    const r = await api('POST', '/admin/kill');
    expect(r.status).toBe(200);
    expect(r.json['state']).toBe('halted');

    await waitFor(() => processGone(pid), `grandchild pid ${pid} to be gone`, 5000);
    await waitFor(() => stateOf(id) === 'cancelled', 'the task to end cancelled', 5000);
    const attempts = h.host.store.attemptsOf(id);
    expect(attempts.map((a) => a.state)).toEqual(['cancelled']);
    expect(h.host.pool.busy()).toBe(0);

    const audit = h.host.store.listAudit({ action: 'killswitch.halt', limit: 1 })[0];
    expect(audit).toMatchObject({ actor: 'admin', origin: '127.0.0.1' });
  });

  it('also kills processes that ignore SIGTERM (SIGKILL of the group after the grace period)', async () => {
    // One task whose whole tree ignores SIGTERM, one where only the grandchild does (its parent dies first).
    const stubborn = await submit(`trap '' TERM; sh -c 'sleep 60 & echo $! > stubborn.pid; wait'`);
    const orphan = await submit(`sh -c "trap '' TERM; exec sleep 60" & echo $! > orphan.pid; wait`);
    const pids = await waitFor(() => {
      const a = readPid(join(home.workspace, 'stubborn.pid'));
      const b = readPid(join(home.workspace, 'orphan.pid'));
      return a && b ? [a, b] : undefined;
    }, 'both tasks to start');
    strays.push(...pids);
    await waitFor(() => stateOf(stubborn) === 'running' && stateOf(orphan) === 'running', 'both tasks to run');

    expect((await api('POST', '/admin/kill')).json['state']).toBe('halted');
    for (const pid of pids) await waitFor(() => processGone(pid), `pid ${pid} to be gone`, 5000);
    await waitFor(() => stateOf(stubborn) === 'cancelled' && stateOf(orphan) === 'cancelled', 'both tasks to end cancelled', 5000);
  });

  it('dispatches nothing while halted, and resume restarts dispatch', async () => {
    expect((await api('POST', '/admin/kill')).json['state']).toBe('halted');
    const id = await submit('echo after-halt');
    await expectNotDispatched(id);
    expect((await api('GET', '/api/status')).json['killswitch']).toBe('halted');

    const r = await api('POST', '/admin/resume');
    expect(r.json['state']).toBe('running');
    await waitFor(() => stateOf(id) === 'succeeded', 'the held task to run after resume', 10_000);
    expect(h.host.store.listAudit({ action: 'killswitch.resume', limit: 1 })[0]).toMatchObject({ actor: 'admin', origin: '127.0.0.1' });
  });

  it('stays halted across a restart: ready tasks wait until resume', async () => {
    expect((await api('POST', '/admin/kill')).json['state']).toBe('halted');
    const id = await submit('echo survived-restart');
    await h.close(500);
    await start();
    expect(h.host.killswitch.state()).toBe('halted');
    expect((await api('GET', '/api/status')).json['killswitch']).toBe('halted');
    await expectNotDispatched(id);

    expect((await api('POST', '/admin/resume')).json['state']).toBe('running');
    await waitFor(() => stateOf(id) === 'succeeded', 'the task to run after resume', 10_000);
  });

  it('keeps a task cancelled by halt cancelled after a restart (not requeued as interrupted)', async () => {
    const id = await submit(sleeper('restart.pid'));
    const pid = await waitFor(() => readPid(join(home.workspace, 'restart.pid')), 'the task to start');
    strays.push(pid);
    expect((await api('POST', '/admin/kill')).json['state']).toBe('halted');
    await waitFor(() => processGone(pid), "the task's grandchild to be gone", 5000);
    await h.close(500);
    await start();
    expect(stateOf(id)).toBe('cancelled');
    expect(h.host.pool.busy()).toBe(0);
  });
});

describe('HALT file in COLONY_HOME', () => {
  it('halts dispatch while it exists, and the API says so even after resume', async () => {
    writeFileSync(h.host.paths.haltFile, 'maintenance\n');
    expect((await api('GET', '/api/status')).json['killswitch']).toBe('halted');
    const id = await submit('echo behind-halt-file');
    await expectNotDispatched(id);
    // resume clears the stored switch, but the file still wins and the answer says so
    expect((await api('POST', '/admin/resume')).json['state']).toBe('halted');
    expect(stateOf(id)).toBe('ready');

    rmSync(h.host.paths.haltFile);
    await waitFor(() => stateOf(id) === 'succeeded', 'dispatch once the HALT file is gone', 10_000);
  });
});

describe('pause', () => {
  it('lets the running task finish, dispatches nothing new, and resume restarts dispatch', async () => {
    const running = await submit('sleep 1; echo finished');
    await waitFor(() => stateOf(running) === 'running', 'the first task to run');

    const r = await api('POST', '/admin/pause');
    expect(r.json['state']).toBe('paused');
    const queued = await submit('echo after-pause');

    await waitFor(() => stateOf(running) === 'succeeded', 'the running task to finish normally', 10_000);
    await expectNotDispatched(queued);
    expect(h.host.store.listAudit({ action: 'killswitch.pause', limit: 1 })[0]).toMatchObject({ actor: 'admin', origin: '127.0.0.1' });

    expect((await api('POST', '/admin/resume')).json['state']).toBe('running');
    await waitFor(() => stateOf(queued) === 'succeeded', 'the queued task after resume', 10_000);
  });

  it('records every switch in the hash-chained audit with actor and origin', async () => {
    await api('POST', '/admin/pause');
    await api('POST', '/admin/kill');
    await api('POST', '/admin/resume');
    const rows = h.host.store.listAudit({ action: 'killswitch.*', limit: 3 });
    expect(rows.map((r) => r.action)).toEqual(['killswitch.resume', 'killswitch.halt', 'killswitch.pause']);
    for (const r of rows) expect(r).toMatchObject({ actor: 'admin', origin: '127.0.0.1' });
    expect(rows[1]?.detail).toMatchObject({ from: 'paused', to: 'halted' });
    expect(h.host.store.verifyAudit().ok).toBe(true);
  });
});
