/**
 * safety.allowed_roots holds for every submitter: a host task whose workspace
 * (symlinks resolved) is outside the roots is refused at submission — CLI exit
 * 2 with one line naming the path, admin API 403 E_WORKSPACE_OUTSIDE_ROOTS —
 * and, if swapped for a symlink after submission, denied at dispatch.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { assertBuilt, runCli } from '../helpers/cli.js';
import { makeTempDir, waitFor } from '../helpers/proc.js';
import { adminApi, makeHome, portOf, startTestHost, testConfig, type TestHome } from '../helpers/admin-host.js';
import type { RunningHost } from '../../src/server/host-server.js';

vi.setConfig({ testTimeout: 60_000 });
const cleanups: (() => void)[] = [];
beforeAll(() => assertBuilt());
afterAll(() => cleanups.forEach((c) => c()));
function tempDir(): string {
  const t = makeTempDir('colony-roots-');
  cleanups.push(t.cleanup);
  return t.dir;
}

function graph(dir: string, workspace: string | undefined, prompt = 'echo ran > ran.txt'): string {
  const file = join(dir, 'g.json');
  writeFileSync(file, JSON.stringify({ name: 'roots', tasks: [{ id: 'a', engine: 'exec', prompt, ...(workspace ? { workspace } : {}) }] }));
  return file;
}

describe('colony run', () => {
  it('runs a graph in its own directory with no roots configured (the default)', async () => {
    const dir = tempDir();
    const r = await runCli(['run', graph(dir, undefined), '--home', join(dir, 'home')], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(dir, 'ran.txt'), 'utf8')).toBe('ran\n');
  });

  it('refuses a task workspace outside the defaults with exit 2, one line naming the path, nothing run', async () => {
    const dir = tempDir();
    const proj = join(dir, 'proj');
    const victim = join(dir, 'victim');
    mkdirSync(proj);
    mkdirSync(victim);
    const r = await runCli(['run', graph(proj, '../victim'), '--home', join(dir, 'home')], { cwd: proj });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(victim);
    expect(r.stderr).toContain('allowed roots');
    expect(existsSync(join(victim, 'ran.txt'))).toBe(false);
  });

  it('with configured roots, refuses the graph directory itself when it is not inside them', async () => {
    const dir = tempDir();
    const allowed = join(dir, 'allowed');
    const proj = join(dir, 'proj');
    mkdirSync(allowed);
    mkdirSync(proj);
    const config = join(dir, 'colony.config.json');
    writeFileSync(config, JSON.stringify({ safety: { allowed_roots: [allowed] } }));
    const r = await runCli(['run', graph(proj, undefined), '--home', join(dir, 'home'), '--config', config], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(proj);
    expect(existsSync(join(proj, 'ran.txt'))).toBe(false);
    // the same graph inside the configured root runs
    const ok = await runCli(['run', graph(allowed, undefined), '--home', join(dir, 'home'), '--config', config], { cwd: dir });
    expect(ok.code, ok.stderr).toBe(0);
    expect(existsSync(join(allowed, 'ran.txt'))).toBe(true);
  });
});

describe('admin API', () => {
  let home: TestHome;
  let h: RunningHost | null = null;
  afterEach(async () => {
    await h?.close(0);
    h = null;
    home.cleanup();
  });

  it('refuses an admin task outside the configured roots (403, stable code, path named) and writes no task', async () => {
    home = makeHome();
    const outside = tempDir();
    h = await startTestHost(home, { config: testConfig({ safety: { allowed_roots: [home.dir] } }) });
    const api = adminApi(portOf(h), h.ctx.adminToken);
    const bad = await api('POST', '/admin/execute', { prompt: 'echo pwned > pwned.txt', engine: 'exec', workspace: outside });
    expect(bad.status).toBe(403);
    expect(bad.json).toMatchObject({ code: 'E_WORKSPACE_OUTSIDE_ROOTS', details: { path: outside } });
    expect(String(bad.json['message'])).toContain(outside);
    expect(h.host.store.listTasks({ limit: 10 })).toHaveLength(0);
    // a symlink inside the root that points outside is the same workspace
    symlinkSync(outside, join(home.dir, 'link'));
    const viaLink = await api('POST', '/admin/execute', { prompt: 'echo pwned > pwned.txt', engine: 'exec', workspace: join(home.dir, 'link') });
    expect(viaLink.status).toBe(403);
    expect(viaLink.json['code']).toBe('E_WORKSPACE_OUTSIDE_ROOTS');
    // the legitimate one runs
    const ok = await api('POST', '/admin/execute', { prompt: 'echo ok > ok.txt', engine: 'exec', workspace: home.workspace });
    expect(ok.status, ok.body).toBe(201);
    await waitFor(() => existsSync(join(home.workspace, 'ok.txt')), 'the task inside the root to run');
    expect(existsSync(join(outside, 'pwned.txt'))).toBe(false);
  });

  it('denies at dispatch a workspace swapped for a symlink out of the roots after submission', async () => {
    home = makeHome();
    const outside = tempDir();
    h = await startTestHost(home, { config: testConfig({ safety: { allowed_roots: [home.dir] } }) });
    await h.host.pool.stop(); // hold dispatch so the swap happens between submit and dispatch
    const api = adminApi(portOf(h), h.ctx.adminToken);
    const ws = join(home.dir, 'swap');
    mkdirSync(ws);
    const r = await api('POST', '/admin/execute', { prompt: 'echo pwned > pwned.txt', engine: 'exec', workspace: ws });
    expect(r.status, r.body).toBe(201);
    rmSync(ws, { recursive: true });
    symlinkSync(outside, ws);
    const id = (r.json['task_ids'] as string[])[0] as string;
    h.host.pool.start();
    const t = await waitFor(() => {
      const s = h?.host.store.getTask(id);
      return s && s.state === 'failed' ? s : null;
    }, 'the swapped task to be refused');
    expect(t.state_reason).toContain('outside the allowed roots');
    expect(existsSync(join(outside, 'pwned.txt'))).toBe(false);
  });
});

describe('LAN submissions', () => {
  it('refuses a host task whose workspace is outside the roots without telling the LAN user the host paths', async () => {
    const { startUserHost, lanConfig, visitor } = await import('../helpers/user-host.js');
    const lanHome = makeHome('colony-roots-lan-');
    const cfg = lanConfig(); // lan.host_workspace null: LAN host tasks run in the host's cwd, outside the root below
    const h = await startUserHost({ home: lanHome, config: { ...cfg, safety: { ...cfg.safety, allowed_roots: [lanHome.dir] } } });
    try {
      const a = await visitor(h, '10.0.0.2');
      const r = await a.call('POST', '/api/submit-task', { prompt: 'echo hi', engine: 'exec', target: 'host' });
      expect(r.statusCode).toBe(403);
      expect((r.json() as { code: string }).code).toBe('E_WORKSPACE_OUTSIDE_ROOTS');
      expect(r.body).not.toContain(process.cwd());
      expect(r.body).not.toContain(lanHome.dir);
      expect(h.host.store.listTasks({ limit: 10 })).toHaveLength(0);
      // the same user's task for their own worker is not a host task and is accepted
      expect((await a.call('POST', '/api/submit-task', { prompt: 'echo hi', engine: 'exec' })).statusCode).toBe(201);
    } finally {
      await h.close();
      lanHome.cleanup();
    }
  });
});
