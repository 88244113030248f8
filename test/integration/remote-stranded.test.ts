/**
 * A task for a worker that can never run it does not wait for ever (issue 14's
 * leftover). At submit, naming a revoked, unknown or another user's worker is
 * refused (E_WORKER_UNAVAILABLE, the same answer for "unknown" and "someone
 * else's"); a task queued for a worker revoked afterwards fails with the
 * reason its owner reads in the app; the admin still sees all of it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/proc.js';
import { api, audits, enrolKey, newSession, startRemoteHost, stateOf, type RemoteTestHost, type Session } from '../helpers/remote-host.js';

let h: RemoteTestHost;
afterEach(async () => {
  await h?.close();
});

function admin(method: 'GET' | 'POST', url: string, payload?: object) {
  return h.admin.inject({
    method,
    url,
    remoteAddress: '127.0.0.1',
    headers: { host: '127.0.0.1:8080', authorization: `Bearer ${h.ctx.adminToken}` },
    ...(payload ? { payload } : {}),
  });
}

async function submit(s: Session, body: object): Promise<{ status: number; json: Record<string, unknown> }> {
  return api(h, s, 'POST', '/api/submit-task', body);
}

interface MyTask {
  id: string;
  state: string;
  state_reason: string | null;
}
async function myTask(s: Session, id: string): Promise<MyTask | undefined> {
  const r = await api(h, s, 'GET', '/api/my-sessions');
  return (r.json['tasks'] as MyTask[]).find((t) => t.id === id);
}

describe('naming a worker at submit', () => {
  it('lets a user name their own worker, and refuses an unknown, revoked or another user’s worker alike, audited', async () => {
    h = await startRemoteHost();
    const [ada, bob] = [await newSession(h, 'Ada'), await newSession(h, 'Bob')];
    const mine = await enrolKey(h, ada);
    const gone = await enrolKey(h, ada);
    h.remote.revoke(gone.worker_id, { actor: 'admin', origin: 'local' });

    const ok = await submit(ada, { prompt: 'true', engine: 'exec', target: mine.worker_id });
    expect(ok.status, JSON.stringify(ok.json)).toBe(201);
    expect(stateOf(h, String(ok.json['id']))).toBe('ready'); // waits for that worker to connect

    // Bob names Ada's worker: exactly the answer for a worker that does not exist.
    const stolen = await submit(bob, { prompt: 'true', engine: 'exec', target: mine.worker_id });
    const unknown = await submit(bob, { prompt: 'true', engine: 'exec', target: 'w-0000000000' });
    expect(stolen.status).toBe(409);
    expect(stolen.json['code']).toBe('E_WORKER_UNAVAILABLE');
    expect([stolen.status, stolen.json['code'], String(stolen.json['message']).replace(mine.worker_id, 'ID')]).toEqual([
      unknown.status,
      unknown.json['code'],
      String(unknown.json['message']).replace('w-0000000000', 'ID'),
    ]);
    // In a graph too: nothing of it is stored.
    const before = h.host.store.listTasks({ limit: 1000 }).length;
    const graph = await submit(bob, {
      graph: {
        name: 'g',
        tasks: [
          { id: 'a', prompt: 'true', engine: 'exec' },
          { id: 'b', prompt: 'true', engine: 'exec', target: mine.worker_id },
        ],
      },
    });
    expect(graph.json['code']).toBe('E_WORKER_UNAVAILABLE');
    expect(h.host.store.listTasks({ limit: 1000 })).toHaveLength(before);

    // Ada's own revoked worker: refused, and told why.
    const revoked = await submit(ada, { prompt: 'true', engine: 'exec', target: gone.worker_id });
    expect(revoked.status).toBe(409);
    expect(revoked.json).toMatchObject({ code: 'E_WORKER_UNAVAILABLE', message: expect.stringContaining('revoked') });

    // Every refusal is in the audit log with its code; the admin sees both workers, the revoked one too.
    const refused = audits(h, 'lan.refused').filter((a) => (a.detail as { code?: string }).code === 'E_WORKER_UNAVAILABLE');
    expect(refused.map((a) => a.actor).sort()).toEqual([ada.submitter, bob.submitter].sort());
    // Only the admin's record says it was someone else's worker (Bob's first refusal; repeats within the second are counted).
    expect(refused.find((a) => a.actor === bob.submitter)?.detail).toMatchObject({ note: `names the worker of another user: ${mine.worker_id}` });
    expect(refused.find((a) => a.actor === ada.submitter)?.detail).not.toHaveProperty('note');
    const all = (await admin('GET', '/admin/remote-workers')).json() as { workers: Array<{ id: string; revoked?: boolean }> };
    expect(all.workers.find((w) => w.id === gone.worker_id)?.revoked).toBe(true);
    expect(all.workers.find((w) => w.id === mine.worker_id)?.revoked).toBe(false);
  });

  it('refuses the admin a worker its owner did not open to admin tasks, and takes one that is', async () => {
    h = await startRemoteHost();
    const ada = await newSession(h, 'Ada');
    const closed = await enrolKey(h, ada);
    const open = await enrolKey(h, ada, { open_to_admin: true });
    const no = await admin('POST', '/admin/execute', { prompt: 'true', engine: 'exec', target: closed.worker_id });
    expect(no.statusCode).toBe(409);
    expect(no.json()).toMatchObject({ code: 'E_WORKER_UNAVAILABLE', message: expect.stringContaining('not opened to admin') });
    const unknown = await admin('POST', '/admin/execute', { prompt: 'true', engine: 'exec', target: 'w-ffffffffff' });
    expect(unknown.json()).toMatchObject({ code: 'E_WORKER_UNAVAILABLE' });
    const yes = await admin('POST', '/admin/execute', { prompt: 'true', engine: 'exec', target: open.worker_id });
    expect(yes.statusCode, yes.body).toBe(201);
  });
});

describe('a worker revoked while tasks wait for it', () => {
  it('fails the ready task at once and the dependent one when it becomes ready; the owner reads why, others cannot', async () => {
    h = await startRemoteHost();
    const [ada, bob] = [await newSession(h, 'Ada'), await newSession(h, 'Bob')];
    const w = await enrolKey(h, ada);
    const r = await submit(ada, {
      graph: {
        name: 'later',
        tasks: [
          { id: 'first', prompt: 'true', engine: 'exec', target: w.worker_id },
          // Still waiting when the worker is revoked: ready only after `first` ends (all_done).
          { id: 'then', prompt: 'true', engine: 'exec', target: w.worker_id, depends_on: ['first'], trigger: 'all_done' },
        ],
      },
    });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    const [first, then] = r.json['task_ids'] as [string, string];
    expect([stateOf(h, first), stateOf(h, then)]).toEqual(['ready', 'waiting']);

    expect((await api(h, ada, 'POST', `/api/my-workers/${w.worker_id}/revoke`)).status).toBe(200);
    expect(stateOf(h, first)).toBe('failed'); // at the revocation itself
    await waitFor(() => stateOf(h, then) === 'failed', 'the dependent task failed by the sweep', 5000);

    for (const id of [first, then]) {
      const t = await myTask(ada, id);
      expect(t).toMatchObject({ state: 'failed', state_reason: expect.stringContaining(`worker ${w.worker_id} was revoked`) });
      expect((await api(h, ada, 'GET', `/api/tasks/${id}`)).status).toBe(200);
      expect((await api(h, bob, 'GET', `/api/tasks/${id}`)).status).toBe(404);
      // The admin sees the task and the audited transition with its reason.
      const seen = (await admin('GET', `/admin/tasks/${id}`)).json() as { task: { state: string; state_reason: string } };
      expect(seen.task).toMatchObject({ state: 'failed', state_reason: expect.stringContaining('revoked') });
      const log = h.host.store.listAudit({ target: id }).map((a) => a.detail as { to?: string; reason?: string });
      expect(log).toContainEqual(expect.objectContaining({ to: 'failed', reason: expect.stringContaining('revoked') }));
    }
    expect(await myTask(bob, first)).toBeUndefined();
  });

  it("fails a revoked user's own-worker tasks once no worker of theirs is left, and keeps a live user's waiting", async () => {
    h = await startRemoteHost();
    const [ada, bob] = [await newSession(h, 'Ada'), await newSession(h, 'Bob')];
    const adaTask = String((await submit(ada, { prompt: 'true', engine: 'exec' })).json['id']);
    const bobTask = String((await submit(bob, { prompt: 'true', engine: 'exec' })).json['id']);
    expect([stateOf(h, adaTask), stateOf(h, bobTask)]).toEqual(['ready', 'ready']); // no worker yet: they wait for one to pair
    const rev = await admin('POST', `/admin/sessions/${ada.userId}/revoke`, {});
    expect(rev.statusCode, rev.body).toBe(200);
    await waitFor(() => stateOf(h, adaTask) === 'failed', "the revoked user's task failed", 5000);
    expect(h.host.store.getTask(adaTask)?.state_reason).toContain('session was revoked');
    await new Promise((r) => setTimeout(r, 1500)); // more than one sweep
    expect(stateOf(h, bobTask)).toBe('ready');
  });
});
