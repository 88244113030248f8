/**
 * The user API with app.inject(): submissions (single task or small graph,
 * queued for the submitter's own worker or held for the admin when asking
 * for the host, depends_on only on the caller's own tasks), each user's view
 * of tasks (another user's task is a 404, not a 403), the workers list with
 * other users' task text redacted, and rate limits per address and session.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { WorkerCard } from '../../src/core/live-types.js';
import { adminCall, code, inject, lanConfig, startUserHost, visitor, type Lan, type UserHost } from '../helpers/user-host.js';

let h: UserHost;
afterEach(async () => {
  await h?.close();
  h?.home.cleanup();
});

const SECRET = 'MARKER-4f9c2e-do-not-leak';

async function submit(a: Lan, body: unknown): Promise<{ graph_id: string; task_ids: string[]; id?: string; states: Record<string, string> }> {
  const r = await a.call('POST', '/api/submit-task', body);
  expect(r.statusCode, r.body).toBe(201);
  return r.json();
}

describe('POST /api/submit-task', () => {
  it("queues a task for the submitter's own worker by default, holds target host for approval, and audits who sent it", async () => {
    h = await startUserHost();
    const a = await visitor(h, '10.0.0.2');
    const own = await submit(a, { prompt: 'echo hi', engine: 'exec' });
    expect(own.id).toBe(own.task_ids[0]);
    const t = h.host.store.getTask(own.id as string);
    expect(t).toMatchObject({ submitted_by: `session:${a.userId}`, target: 'own-worker', lane: `user:session:${a.userId}`, state: 'ready' });
    const held = await submit(a, { prompt: 'echo hi', engine: 'exec', target: 'host' });
    expect(h.host.store.getTask(held.id as string)).toMatchObject({ target: 'host', state: 'awaiting_approval' });
    expect(held.states).toEqual({ [held.id as string]: 'awaiting_approval' });
    expect(h.host.store.listAudit({ action: 'graph.submitted' })[0]).toMatchObject({ actor: `session:${a.userId}`, origin: '10.0.0.2' });
    expect((await a.call('GET', '/api/session')).json()).toMatchObject({ session: { tasks_submitted: 2 } });
    const pending = (await adminCall(h, 'GET', '/admin/pending')).json() as { tasks: { id: string }[] };
    expect(pending.tasks.map((x) => x.id)).toEqual([held.id]);
  });

  it('refuses at submit a prompt over 64 KiB of UTF-8 however few characters it has (the wire limit), with 400', async () => {
    h = await startUserHost({ config: lanConfig({ max_body_bytes: 1024 * 1024 }) }); // a body limit raised by the operator
    const a = await visitor(h, '10.0.0.2');
    // 30 000 CJK characters are 90 000 bytes: refused here, not accepted and failed when sent to a worker.
    const long = await a.call('POST', '/api/submit-task', { prompt: '漢'.repeat(30_000) });
    expect(long.statusCode).toBe(400);
    expect(code(long)).toBe('E_BAD_INPUT');
    expect(long.body).toMatch(/prompt.*65536 bytes/);
    expect(code(await a.call('POST', '/api/submit-task', { graph: { tasks: [{ id: 'a', prompt: '漢'.repeat(30_000) }] } }))).toBe('E_BAD_INPUT');
    expect((await a.call('POST', '/api/submit-task', { prompt: '漢'.repeat(21_845) })).statusCode).toBe(201); // 65 535 bytes
  });

  it('accepts a small graph (≤ 50 tasks) and refuses a bigger one, a worker target and unknown fields', async () => {
    h = await startUserHost();
    const a = await visitor(h, '10.0.0.2');
    const g = await submit(a, {
      graph: {
        name: 'pipe',
        tasks: [
          { id: 'a', prompt: 'true' },
          { id: 'b', prompt: 'true', depends_on: ['a'] },
        ],
      },
    });
    expect(g.task_ids).toHaveLength(2);
    expect(h.host.store.getTask(g.task_ids[1] as string)).toMatchObject({ state: 'waiting', depends_on: [g.task_ids[0]] });
    const tooMany = { graph: { tasks: Array.from({ length: 51 }, (_, i) => ({ id: `t${i}`, prompt: 'true' })) } };
    expect(code(await a.call('POST', '/api/submit-task', tooMany))).toBe('E_BAD_INPUT');
    expect(code(await a.call('POST', '/api/submit-task', { prompt: 'x', target: 'host-1' }))).toBe('E_BAD_INPUT');
    expect(code(await a.call('POST', '/api/submit-task', { graph: { tasks: [{ id: 'a', prompt: 'x', target: 'worker-7' }] } }))).toBe('E_BAD_INPUT');
    expect(code(await a.call('POST', '/api/submit-task', { prompt: 'x', submitted_by: 'admin' }))).toBe('E_BAD_INPUT');
    expect(code(await a.call('POST', '/api/submit-task', { graph: { tasks: [{ id: 'a', prompt: 'x', submitted_by: 'admin' }] } }))).toBe('E_BAD_INPUT');
    expect(code(await a.call('POST', '/api/submit-task', { prompt: '' }))).toBe('E_BAD_INPUT');
    // A LAN user never picks a host path.
    for (const workspace of ['/etc', '../..', 'sub/../../x', '~/.ssh']) {
      expect(code(await a.call('POST', '/api/submit-task', { prompt: 'x', target: 'host', workspace }))).toBe('E_BAD_INPUT');
      expect(code(await a.call('POST', '/api/submit-task', { graph: { tasks: [{ id: 'a', prompt: 'x', workspace }] } }))).toBe('E_BAD_INPUT');
    }
  });

  it("lets depends_on name the caller's own tasks only; another user's task reads as unknown", async () => {
    h = await startUserHost();
    const a = await visitor(h, '10.0.0.2');
    const b = await visitor(h, '10.0.0.3');
    const mine = await submit(a, { prompt: 'true' });
    const theirs = await submit(b, { prompt: 'true' });
    await submit(a, { prompt: 'true', depends_on: [mine.id] });
    const r = await a.call('POST', '/api/submit-task', { prompt: 'true', depends_on: [theirs.id] });
    const missing = await a.call('POST', '/api/submit-task', { prompt: 'true', depends_on: ['nope-000000:task'] });
    expect([r.statusCode, code(r)]).toEqual([missing.statusCode, code(missing)]);
    expect(code(r)).toBe('E_UNKNOWN_DEP');
  });
});

describe('reading tasks', () => {
  it("GET /api/tasks/:id is the caller's own task in full, 404 (like a missing id) for another user's, audited", async () => {
    h = await startUserHost();
    const a = await visitor(h, '10.0.0.2');
    const b = await visitor(h, '10.0.0.3');
    const t = await submit(a, { prompt: `echo ${SECRET}`, engine: 'exec' });
    h.host.store.appendOutput(t.id as string, 1, 'stdout', `${SECRET}\n`);
    const own = await a.call('GET', `/api/tasks/${encodeURIComponent(t.id as string)}`);
    expect(own.statusCode).toBe(200);
    expect(own.body).toContain(SECRET);
    const other = await b.call('GET', `/api/tasks/${encodeURIComponent(t.id as string)}`);
    const none = await b.call('GET', `/api/tasks/${encodeURIComponent('nope-000000:task')}`);
    expect([other.statusCode, code(other)]).toEqual([404, 'E_NOT_FOUND']);
    expect([none.statusCode, code(none)]).toEqual([404, 'E_NOT_FOUND']);
    expect(other.body).not.toContain(SECRET);
    const audit = h.host.store.listAudit({ action: 'lan.refused', actor: `session:${b.userId}` });
    expect(audit.find((r) => (r.detail as { note?: string }).note === 'task of another user')).toMatchObject({ origin: '10.0.0.3' });
    expect(code(await inject(h, '10.0.0.3', 'GET', `/api/tasks/${encodeURIComponent(t.id as string)}`))).toBe('E_UNAUTHORIZED');
    // the admin may grant view_all
    await adminCall(h, 'PATCH', `/admin/sessions/${b.userId}`, { permissions: ['view', 'view_own_sessions', 'view_all'] });
    expect((await b.call('GET', `/api/tasks/${encodeURIComponent(t.id as string)}`)).body).toContain(SECRET);
  });

  it("GET /api/my-sessions lists only the caller's tasks with state, cost and output tail", async () => {
    h = await startUserHost();
    const a = await visitor(h, '10.0.0.2');
    const b = await visitor(h, '10.0.0.3');
    const t = await submit(a, { prompt: `echo ${SECRET}`, engine: 'exec', target: 'host' });
    h.host.store.appendOutput(t.id as string, 1, 'stdout', 'x'.repeat(5000) + 'THE-END');
    const mine = (await a.call('GET', '/api/my-sessions')).json() as {
      tasks: { id: string; state: string; cost_usd: number; output_tail: string }[];
      total_tasks: number;
    };
    expect(mine.total_tasks).toBe(1);
    expect(mine.tasks[0]).toMatchObject({ id: t.id, state: 'awaiting_approval', cost_usd: 0 });
    expect(mine.tasks[0]?.output_tail.endsWith('THE-END')).toBe(true);
    expect(mine.tasks[0]?.output_tail.length).toBe(2000);
    const theirs = await b.call('GET', '/api/my-sessions');
    expect(theirs.json()).toMatchObject({ tasks: [], total_tasks: 0 });
    expect(theirs.body).not.toContain(SECRET);
    await adminCall(h, 'PATCH', `/admin/sessions/${b.userId}`, { permissions: ['view'] });
    expect(code(await b.call('GET', '/api/my-sessions'))).toBe('E_FORBIDDEN');
  });

  it("GET /api/workers shows every worker, redacting another user's task text and workspace but not engine, model, status or counts", async () => {
    h = await startUserHost();
    const a = await visitor(h, '10.0.0.2');
    const b = await visitor(h, '10.0.0.3');
    const t = await submit(a, { prompt: `echo ${SECRET}` });
    const card = {
      id: 'remote-a',
      kind: 'remote',
      status: 'running',
      task_id: t.id as string,
      task_title: `echo ${SECRET}`,
      owner: `session:${a.userId}`,
      engine: 'claude',
      model: 'sonnet',
      session_cost_usd: 0.25,
      tokens_used: 1234,
      origin_ip: '10.0.0.2',
      owner_name: 'Ada',
      connected: true,
      workspace: `/home/ada/${SECRET}`,
    } as WorkerCard;
    h.workers.push(card);
    const ra = await a.call('GET', '/api/workers');
    const forA = ra.json() as { workers: Record<string, unknown>[] };
    expect(forA.workers.find((w) => w['id'] === 'remote-a')).toEqual(card);
    const rb = await b.call('GET', '/api/workers');
    expect(rb.body).not.toContain(SECRET);
    expect(rb.body).not.toContain(a.userId);
    const w = (rb.json() as { workers: Record<string, unknown>[] }).workers;
    expect(w.find((x) => x['id'] === 'host-1')).toMatchObject({ status: 'idle', kind: 'local' });
    expect(w.find((x) => x['id'] === 'remote-a')).toEqual({
      id: 'remote-a',
      kind: 'remote',
      status: 'running',
      task_id: expect.stringMatching(/^x-[0-9a-f]{16}$/),
      task_title: null,
      owner: 'other',
      engine: 'claude',
      model: 'sonnet',
      session_cost_usd: 0.25,
      tokens_used: 1234,
      origin_ip: '',
      owner_name: null,
      connected: true,
      redacted: true,
    }); // owner name and address hidden unless lan.show_worker_owners (issue 14)
    expect(rb.body).not.toContain('10.0.0.2');
    expect(rb.body).not.toContain('Ada');
    expect(code(await inject(h, '10.0.0.3', 'GET', '/api/workers'))).toBe('E_UNAUTHORIZED');
  });

  it('GET /api/status needs a session with view', async () => {
    h = await startUserHost();
    expect(code(await inject(h, '10.0.0.2', 'GET', '/api/status'))).toBe('E_UNAUTHORIZED');
    const a = await visitor(h, '10.0.0.2');
    expect((await a.call('GET', '/api/status')).json()).toMatchObject({ ok: true, killswitch: 'running' });
    await adminCall(h, 'PATCH', `/admin/sessions/${a.userId}`, { permissions: ['submit_task'] });
    expect(code(await a.call('GET', '/api/status'))).toBe('E_FORBIDDEN');
  });
});

describe('rate limits', () => {
  it('answers 429 E_RATE_LIMITED with Retry-After per address; another address is still served; audited', async () => {
    h = await startUserHost({ config: lanConfig({ rate_limit_submit_per_min: 3, rate_limit_read_per_min: 1000 }) });
    const a = await visitor(h, '10.0.0.2'); // session creation counts as a write: 2 submissions left
    const statuses: number[] = [];
    let limited = null;
    for (let i = 0; i < 5; i++) {
      const r = await a.call('POST', '/api/submit-task', { prompt: 'true' });
      statuses.push(r.statusCode);
      if (r.statusCode === 429) limited = r;
    }
    expect(statuses).toEqual([201, 201, 429, 429, 429]);
    expect(code(limited as never)).toBe('E_RATE_LIMITED');
    expect(Number((limited as unknown as { headers: Record<string, string> }).headers['retry-after'])).toBeGreaterThan(0);
    const b = await visitor(h, '10.0.0.3');
    expect((await b.call('POST', '/api/submit-task', { prompt: 'true' })).statusCode).toBe(201);
    expect((await a.call('GET', '/api/status')).statusCode).toBe(200); // reads have their own budget
    // Repeats within a second are coalesced: one record now, the count travels with the next one.
    const limitedRecords = (): { repeats_not_recorded?: number }[] =>
      h.host.store
        .listAudit({ action: 'lan.refused', actor: `session:${a.userId}` })
        .map((r) => r.detail as { code: string; repeats_not_recorded?: number })
        .filter((d) => d.code === 'E_RATE_LIMITED');
    expect(limitedRecords()).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await a.call('POST', '/api/submit-task', { prompt: 'true' })).statusCode).toBe(429);
    expect(limitedRecords()).toHaveLength(2);
    expect(limitedRecords()[0]?.repeats_not_recorded).toBe(2);
  });

  it('keys limits on the session too: moving to another address does not reset its budget', async () => {
    h = await startUserHost({ config: lanConfig({ rate_limit_submit_per_min: 2, rate_limit_read_per_min: 1000 }) });
    const a = await visitor(h, '10.0.0.2');
    expect((await a.call('POST', '/api/submit-task', { prompt: 'true' })).statusCode).toBe(201);
    const moved = await inject(h, '10.0.0.50', 'POST', '/api/submit-task', { prompt: 'true' }, { cookie: a.cookie });
    expect(moved.statusCode).toBe(201);
    const again = await inject(h, '10.0.0.51', 'POST', '/api/submit-task', { prompt: 'true' }, { cookie: a.cookie });
    expect([again.statusCode, code(again)]).toEqual([429, 'E_RATE_LIMITED']);
  });

  it('limits reads (including streams and unknown paths) per address', async () => {
    h = await startUserHost({ config: lanConfig({ rate_limit_read_per_min: 4, rate_limit_submit_per_min: 100 }) });
    const got: number[] = [];
    for (const u of ['/healthz', '/no/such', '/healthz', '/healthz', '/healthz', '/events']) got.push((await inject(h, '10.0.0.2', 'GET', u)).statusCode);
    expect(got).toEqual([200, 404, 200, 200, 429, 429]);
    expect((await inject(h, '10.0.0.3', 'GET', '/healthz')).statusCode).toBe(200);
  });
});
