/**
 * Disk full: the store lives on a tiny tmpfs (mounted by the test, as root)
 * that is then filled to the last byte.
 *
 * 1. In process, on the real TaskService + Store: submitting a graph and
 *    persisting transitions fail with E_STORE naming the full disk (never
 *    another error, never a throw that leaves memory ahead of disk: the
 *    scheduler agrees with the store after every refusal); after the filler
 *    is removed the same work goes through; `PRAGMA integrity_check` is ok
 *    and the audit chain verifies.
 * 2. A real host (`colony serve`) with its home on the tmpfs, running a
 *    graph when the disk fills: `POST /admin/execute` answers 500 E_STORE
 *    with the disk-full hint, the process stays up and keeps answering; after
 *    space is freed a new graph runs to success and so does the one that was
 *    running; the database is intact and `colony audit verify` passes.
 */
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/core/config.js';
import { ColonyError, isColonyError } from '../../src/core/errors.js';
import { parseGraph } from '../../src/core/graph-schema.js';
import { TaskService } from '../../src/runner/service.js';
import { Store, SYSTEM } from '../../src/store/store.js';
import { assertBuilt, runCli, startCli, type CliProcess } from '../helpers/cli.js';
import { killQuietly, makeTempDir, processGone, waitFor } from '../helpers/proc.js';
import { mountTmpfs, withDb, type TmpfsMount } from './helpers.js';

const tmp = makeTempDir('colony-diskfull-');
const mounts: TmpfsMount[] = [];
const procs: CliProcess[] = [];
afterAll(() => {
  for (const p of procs) killQuietly(p.child.pid);
  for (const m of mounts) m.unmount();
  tmp.cleanup();
});

/** Writes a filler file until the filesystem refuses (ENOSPC); returns its path. */
function fill(dir: string): string {
  const file = join(dir, 'filler');
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (let i = 0; i < 100_000; i++) {
      try {
        writeSync(fd, chunk);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
        // the last partial chunk: fill the remaining bytes one small write at a time
        const small = Buffer.alloc(512, 1);
        for (let k = 0; k < 1000; k++) {
          try {
            writeSync(fd, small);
          } catch {
            return file;
          }
        }
        return file;
      }
    }
    throw new Error('the tmpfs never filled up');
  } finally {
    closeSync(fd);
  }
}

function graph(name: string, n: number, promptBytes = 16, command = 'true'): ReturnType<typeof parseGraph> {
  const pad = promptBytes > command.length + 4 ? ` # ${'x'.repeat(promptBytes - command.length - 3)}` : '';
  return parseGraph({ name, tasks: Array.from({ length: n }, (_, i) => ({ id: `t${i}`, engine: 'exec', prompt: `${command}${pad}` })) });
}

function codeAndMessage(fn: () => unknown): { code: string; message: string } | null {
  try {
    fn();
    return null;
  } catch (e) {
    return isColonyError(e) ? { code: e.code, message: e.message } : { code: `not a ColonyError: ${String(e)}`, message: String(e) };
  }
}

describe('the store on a full disk', () => {
  it('refuses submissions and transitions with E_STORE, keeps memory equal to disk, and carries on once space is back', async () => {
    const m = mountTmpfs(join(tmp.dir, 'mnt-store'), '16m');
    mounts.push(m);
    const file = join(m.dir, 'colony.db');
    const store = Store.open(file);
    const service = new TaskService(store, defaultConfig());
    const opts = { submittedBy: 'admin', who: SYSTEM, workspace: tmp.dir, defaultTarget: 'host', holdHostTasks: false };
    const { task_ids: ids } = service.submitGraph(graph('before', 300), opts);
    const filler = fill(m.dir);

    // A big submission needs new pages: refused with the disk-full hint, nothing of it stored.
    const tasksBefore = store.loadAll().length;
    const refused = codeAndMessage(() => service.submitGraph(graph('big', 2000, 2000), opts));
    expect(refused?.code).toBe('E_STORE');
    expect(refused?.message).toMatch(/disk full/i);
    expect(store.loadAll().length).toBe(tasksBefore);

    // Transitions: claim/start/finish in rounds until the store refuses one (bounded).
    let refusal: { code: string; message: string } | null = null;
    const start = { engine: 'exec', model: null, worker_id: 'test', route_rule: null, route_explanation: null };
    const end = {
      state: 'succeeded' as const,
      engine: 'exec',
      model: null,
      cost_usd: 0,
      cost_source: 'none',
      usage: { input: 0, output: 0, cache_read: 0, cache_write: 0 },
      error_code: null,
      summary: 'ok',
    };
    const step = async (id: string): Promise<void> => {
      const st = service.stateOf(id);
      if (st === 'ready') service.claim('host', 1, (x) => x === id);
      else if (st === 'assigned') await service.beginAttempt(id, start);
      else if (st === 'running') {
        const attempt = store.getTask(id)?.attempt ?? 0;
        // A refused result is kept by the service and written once the disk has room again.
        if ((await service.endAttempt(id, attempt, end, { kind: 'finish', state: 'succeeded', reason: 'ok' }, SYSTEM)) === 'pending') {
          throw new ColonyError('E_STORE', 'database write failed (disk full): the result is kept and retried');
        }
      }
    };
    for (let round = 0; round < 3 && refusal === null; round++) {
      for (const id of ids) {
        refusal = await step(id).then(
          () => null,
          (e: unknown) => (isColonyError(e) ? { code: e.code, message: e.message } : { code: String(e), message: String(e) }),
        );
        if (refusal) break;
      }
    }
    expect(refusal, 'the full disk never refused a transition').not.toBeNull();
    expect(refusal?.code).toBe('E_STORE');
    expect(refusal?.message).toMatch(/disk full/i);
    // the scheduler was rebuilt from the store: memory never runs ahead of disk
    const onDisk = new Map(store.loadAll().map((t) => [t.id, t.state]));
    expect(ids.filter((id) => service.stateOf(id) !== onDisk.get(id))).toEqual([]);

    // Space is back: the same work goes through to the end.
    rmSync(filler);
    for (let round = 0; round < 3; round++) for (const id of ids) await step(id);
    expect(ids.every((id) => store.getTask(id)?.state === 'succeeded')).toBe(true);
    expect(service.submitGraph(graph('after', 50), opts).task_ids).toHaveLength(50);
    expect(store.verifyAudit().ok).toBe(true);
    store.close();
    expect(withDb(file, (d) => d.pragma('integrity_check', { simple: true }))).toBe('ok');
  });

  it('a running host answers E_STORE, stays up, and finishes its work after space is freed', async () => {
    assertBuilt();
    const m = mountTmpfs(join(tmp.dir, 'mnt-host'), '8m');
    mounts.push(m);
    const home = join(m.dir, 'home');
    const ws = join(tmp.dir, 'ws');
    (await import('node:fs')).mkdirSync(ws, { recursive: true });
    const host = startCli(['serve', '--home', home, '--admin-port', '0', '--quiet', '--concurrency', '2'], { cwd: ws, timeoutMs: 240_000 });
    procs.push(host);
    const pid = host.child.pid as number;
    await waitFor(() => existsSync(join(home, 'host.json')) || host.child.exitCode !== null, 'host.json', 30_000);
    expect(host.child.exitCode).toBeNull();
    const { admin_port: port } = JSON.parse(readFileSync(join(home, 'host.json'), 'utf8')) as { admin_port: number };
    const token = readFileSync(join(home, 'admin.token'), 'utf8').trim();
    const api = async (path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(20_000),
      });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    };
    const submit = (name: string, n: number, prompt: string) =>
      api('/admin/execute', { graph: { name, tasks: Array.from({ length: n }, (_, i) => ({ id: `t${i}`, engine: 'exec', prompt })) } });
    const graphDone = async (id: string, timeoutMs: number): Promise<string[]> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const g = await api(`/admin/graphs/${id}`);
        const states = ((g.json['tasks'] as { state: string }[] | undefined) ?? []).map((t) => t.state);
        if (states.length > 0 && states.every((s) => !['waiting', 'ready', 'assigned', 'running', 'paused'].includes(s))) return states;
        if (Date.now() > deadline) throw new Error(`graph ${id} did not end: ${JSON.stringify(states)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };

    const running = await submit('running', 40, 'sleep 0.05');
    expect(running.status).toBe(201);
    const filler = fill(m.dir);
    const big = await submit('big', 1500, `true # ${'x'.repeat(1000)}`); // 1.5 MB: under the admin body limit, over the free space
    expect(big.status).toBe(500);
    expect(big.json['code']).toBe('E_STORE');
    expect(String(big.json['message'])).toMatch(/disk full/i);
    // still up and answering while the disk is full
    await new Promise((r) => setTimeout(r, 1000));
    expect(host.child.exitCode).toBeNull();
    expect((await api('/api/status')).status).toBe(200);

    rmSync(filler);
    const after = await submit('after', 20, 'true');
    expect(after.status).toBe(201);
    expect(await graphDone(String(after.json['graph_id']), 120_000)).toEqual(Array(20).fill('succeeded'));
    expect(await graphDone(String(running.json['graph_id']), 120_000)).toEqual(Array(40).fill('succeeded'));

    process.kill(pid, 'SIGTERM');
    await host.result;
    await waitFor(() => processGone(pid), 'host exit');
    expect(withDb(join(home, 'colony.db'), (d) => d.pragma('integrity_check', { simple: true }))).toBe('ok');
    const verify = await runCli(['audit', 'verify', '--home', home], { cwd: ws });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
});
