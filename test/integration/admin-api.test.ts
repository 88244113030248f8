/**
 * The admin API over HTTP (real sockets, bearer token as the CLI sends it):
 * submitting a task or a graph, bad input refused with a stable code and
 * NOTHING written, task overrides, task detail with attempts and output, and
 * the audit log's pagination, filter and chain check.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHost } from '../../src/server/host-server.js';
import {
  adminApi,
  counts,
  makeHome,
  portOf,
  rawRequest,
  refusalProblems,
  startIdleAdmin,
  startTestHost,
  type AdminCall,
  type IdleAdmin,
  type TestHome,
} from '../helpers/admin-host.js';
import { waitFor } from '../helpers/proc.js';

type Api = (method: string, path: string, body?: unknown) => Promise<AdminCall>;

const home: TestHome = makeHome('colony-api-');
let a: IdleAdmin;
let api: Api;

beforeAll(async () => {
  a = await startIdleAdmin(home);
  api = adminApi(a.port, a.token);
});

afterAll(async () => {
  await a.close();
  home.cleanup();
});

const enc = encodeURIComponent;
const stateOf = (id: string): string | undefined => a.host.store.getTask(id)?.state;

function expectError(r: AdminCall, status: number, code: string): void {
  expect(refusalProblems(r.status, 'application/json', r.body, { status, code })).toEqual([]);
}

async function graph(tasks: { id: string; depends_on?: string[]; prompt?: string }[]): Promise<string[]> {
  const r = await api('POST', '/admin/execute', { graph: { name: 'g', tasks: tasks.map((t) => ({ prompt: 'true', engine: 'exec', ...t })) } });
  expect(r.status, r.body).toBe(201);
  return r.json['task_ids'] as string[];
}

describe('POST /admin/execute', () => {
  it("submits a single task: 201 with the graph id and the task id, stored as the admin's, audited", async () => {
    const before = counts(a.host);
    const r = await api('POST', '/admin/execute', { prompt: 'echo hello', engine: 'exec', title: 'greet', budget_usd: 0.5, workspace: home.workspace });
    expect(r.status, r.body).toBe(201);
    const { graph_id, task_ids } = r.json as { graph_id: string; task_ids: string[] };
    expect(task_ids).toEqual([`${graph_id}:greet`]); // named from the title (or the prompt's first line), not "task"
    expect(graph_id).toMatch(/^greet-/);
    const t = a.host.store.getTask(task_ids[0] as string);
    expect(t).toMatchObject({
      prompt: 'echo hello',
      engine: 'exec',
      title: 'greet',
      budget_usd: 0.5,
      workspace: home.workspace,
      submitted_by: 'admin',
      state: 'ready',
      target: 'host',
    });
    expect(counts(a.host).tasks).toBe(before.tasks + 1);
    expect(a.host.store.listAudit({ action: 'graph.submitted', limit: 1 })[0]).toMatchObject({ actor: 'admin', origin: '127.0.0.1', target: graph_id });
  });

  it('submits a whole graph: 201 with every task id, dependencies kept', async () => {
    const r = await api('POST', '/admin/execute', {
      graph: {
        name: 'Release Train',
        tasks: [
          { id: 'build', prompt: 'true', engine: 'exec' },
          { id: 'test', prompt: 'true', engine: 'exec', depends_on: ['build'] },
          { id: 'ship', prompt: 'true', engine: 'exec', depends_on: ['build', 'test'] },
        ],
      },
    });
    expect(r.status, r.body).toBe(201);
    const { graph_id, task_ids } = r.json as { graph_id: string; task_ids: string[] };
    expect(graph_id).toMatch(/^release-train-[0-9a-f]+$/);
    expect(task_ids).toEqual(['build', 'test', 'ship'].map((id) => `${graph_id}:${id}`));
    expect(a.host.store.getTask(`${graph_id}:ship`)?.depends_on.sort()).toEqual([`${graph_id}:build`, `${graph_id}:test`]);
    expect(task_ids.map(stateOf)).toEqual(['ready', 'waiting', 'waiting']);
    const g = await api('GET', `/admin/graphs/${enc(graph_id)}`);
    expect((g.json['tasks'] as unknown[]).length).toBe(3);
  });

  const bad: [string, string | unknown, number, string][] = [
    ['truncated JSON', '{"prompt": "echo', 400, 'E_BAD_JSON'],
    ['JSON with unquoted keys', '{prompt: "echo"}', 400, 'E_BAD_JSON'],
    ['an empty body', '', 400, 'E_BAD_JSON'],
    ['a trailing comma', '{"prompt": "echo",}', 400, 'E_BAD_JSON'],
    ['a number as the prompt', { prompt: 42 }, 400, 'E_BAD_INPUT'],
    ['a string as the budget', { prompt: 'x', budget_usd: '5' }, 400, 'E_BAD_INPUT'],
    ['a negative budget', { prompt: 'x', budget_usd: -1 }, 400, 'E_BAD_INPUT'],
    ['a string as depends_on', { prompt: 'x', depends_on: 'a' }, 400, 'E_BAD_INPUT'],
    ['an empty prompt', { prompt: '' }, 400, 'E_BAD_INPUT'],
    ['an engine name with a shell in it', { prompt: 'x', engine: 'exec; rm -rf /' }, 400, 'E_BAD_INPUT'],
    ['null', null, 400, 'E_BAD_INPUT'],
    ['an array', [{ prompt: 'x' }], 400, 'E_BAD_INPUT'],
    ['tasks that are not a list', { graph: { tasks: 'build' } }, 400, 'E_BAD_INPUT'],
    ['a graph without tasks', { graph: { name: 'g', tasks: [] } }, 400, 'E_BAD_INPUT'],
    ['an unknown top-level field', { prompt: 'x', run_as: 'root' }, 400, 'E_BAD_INPUT'],
    ['an unknown field next to a graph', { graph: { tasks: [{ id: 'a', prompt: 'x' }] }, approve: true }, 400, 'E_BAD_INPUT'],
    ['an unknown field in a graph', { graph: { tasks: [{ id: 'a', prompt: 'x' }], owner: 'me' } }, 400, 'E_BAD_INPUT'],
    ['an unknown field in a graph task', { graph: { tasks: [{ id: 'a', prompt: 'x', shell: '/bin/bash' }] } }, 400, 'E_BAD_INPUT'],
    ['both a graph and a prompt', { graph: { tasks: [{ id: 'a', prompt: 'x' }] }, prompt: 'y' }, 400, 'E_BAD_INPUT'],
    ['a task id with ":"', { graph: { tasks: [{ id: 'other:a', prompt: 'x' }] } }, 400, 'E_BAD_INPUT'],
    ['a prompt over the 64 KiB limit', { prompt: 'x'.repeat(64 * 1024 + 1) }, 400, 'E_BAD_INPUT'],
    ['a prompt of 30 000 CJK characters (90 000 bytes of UTF-8, over the 64 KiB limit)', { prompt: '漢'.repeat(30_000) }, 400, 'E_BAD_INPUT'],
    ['a body over the 2 MiB limit', { prompt: 'x'.repeat(3 * 1024 * 1024) }, 413, 'E_TOO_LARGE'],
    [
      'a dependency cycle',
      {
        graph: {
          tasks: [
            { id: 'a', prompt: 'x', depends_on: ['c'] },
            { id: 'b', prompt: 'x', depends_on: ['a'] },
            { id: 'c', prompt: 'x', depends_on: ['b'] },
          ],
        },
      },
      400,
      'E_CYCLE',
    ],
    ['a self dependency', { graph: { tasks: [{ id: 'a', prompt: 'x', depends_on: ['a'] }] } }, 400, 'E_SELF_DEP'],
    ['an unknown dependency', { graph: { tasks: [{ id: 'a', prompt: 'x', depends_on: ['nope'] }] } }, 400, 'E_UNKNOWN_DEP'],
    ['a dependency on a task that does not exist', { prompt: 'x', depends_on: ['graph-000000:nope'] }, 400, 'E_UNKNOWN_DEP'],
    [
      'a duplicate task id',
      {
        graph: {
          tasks: [
            { id: 'a', prompt: 'x' },
            { id: 'a', prompt: 'y' },
          ],
        },
      },
      400,
      'E_DUPLICATE_ID',
    ],
    [
      'a graph whose worst case exceeds its budget',
      {
        graph: {
          budget_usd: 1,
          tasks: [
            { id: 'a', prompt: 'x', budget_usd: 1 },
            { id: 'b', prompt: 'x', budget_usd: 1 },
          ],
        },
      },
      402,
      'E_BUDGET',
    ],
  ];

  it.each(bad)('refuses %s with %i %s and writes nothing (no task, no graph, no audit record)', async (_what, body, status, code) => {
    const before = counts(a.host);
    const r = await api('POST', '/admin/execute', typeof body === 'string' ? body : JSON.stringify(body));
    expectError(r, status, code);
    expect(counts(a.host)).toEqual(before);
  });

  it("reserves a task's budget once, whatever its max_attempts (the budget caps all attempts together)", async () => {
    const r = await api('POST', '/admin/execute', {
      graph: {
        budget_usd: 2,
        tasks: [
          { id: 'a', engine: 'exec', prompt: 'true', budget_usd: 1, max_attempts: 3 },
          { id: 'b', engine: 'exec', prompt: 'true', budget_usd: 1, max_attempts: 3 },
        ],
      },
    });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
  });

  it("names the cycle's path in the message", async () => {
    const r = await api('POST', '/admin/execute', {
      graph: {
        tasks: [
          { id: 'a', prompt: 'x', depends_on: ['b'] },
          { id: 'b', prompt: 'x', depends_on: ['a'] },
        ],
      },
    });
    expectError(r, 400, 'E_CYCLE');
    expect(r.json['message']).toMatch(/a → b → a|b → a → b/);
  });

  it('refuses a body that is not JSON (text/plain, form) with 400 and writes nothing', async () => {
    const before = counts(a.host);
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const r = await rawRequest(a.port, {
        method: 'POST',
        path: '/admin/execute',
        headers: { host: `127.0.0.1:${a.port}`, authorization: `Bearer ${a.token}`, 'content-type': type },
        body: 'prompt=echo',
      });
      expect(r.status, type).toBe(400);
      expect(JSON.parse(r.body)).toMatchObject({ code: 'E_BAD_INPUT' });
    }
    expect(counts(a.host)).toEqual(before);
  });

  it('refuses a prototype-poisoning body and writes nothing', async () => {
    const before = counts(a.host);
    const r = await api('POST', '/admin/execute', '{"prompt": "x", "__proto__": {"engine": "claude"}}');
    expect(r.status).toBe(400);
    expect(['E_BAD_JSON', 'E_BAD_INPUT']).toContain(r.json['code']);
    expect(counts(a.host)).toEqual(before);
  });
});

describe('task overrides over HTTP', () => {
  it('force-run makes a waiting task ready, ignoring its dependencies', async () => {
    const [up, down] = (await graph([{ id: 'up' }, { id: 'down', depends_on: ['up'] }])) as [string, string];
    const r = await api('POST', `/admin/tasks/${enc(down)}/force-run`);
    expect(r.status, r.body).toBe(200);
    expect(r.json['transitions']).toEqual([expect.objectContaining({ id: down, from: 'waiting', to: 'ready' })]);
    expect(stateOf(down)).toBe('ready');
    expect(stateOf(up)).toBe('ready');
    expect(a.host.store.listAudit({ action: 'task.transition', target: down, limit: 1 })[0]).toMatchObject({ actor: 'admin', origin: '127.0.0.1' });
  });

  it('skip ends a task skipped and lets its dependents run', async () => {
    const [up, down] = (await graph([{ id: 'up' }, { id: 'down', depends_on: ['up'] }])) as [string, string];
    const r = await api('POST', `/admin/tasks/${enc(up)}/skip`);
    expect(r.status, r.body).toBe(200);
    expect(stateOf(up)).toBe('skipped');
    expect(stateOf(down)).toBe('ready');
  });

  it('cancel ends a pending task cancelled (its dependents upstream_failed); a second cancel is 409', async () => {
    const [up, down] = (await graph([{ id: 'up' }, { id: 'down', depends_on: ['up'] }])) as [string, string];
    expect((await api('POST', `/admin/tasks/${enc(up)}/cancel`)).status).toBe(200);
    expect(stateOf(up)).toBe('cancelled');
    expect(stateOf(down)).toBe('upstream_failed');
    expectError(await api('POST', `/admin/tasks/${enc(up)}/cancel`), 409, 'E_INVALID_TRANSITION');
  });

  it('retry re-opens a cancelled task and its upstream_failed dependents; retrying a ready task is 409', async () => {
    const [up, down] = (await graph([{ id: 'up' }, { id: 'down', depends_on: ['up'] }])) as [string, string];
    await api('POST', `/admin/tasks/${enc(up)}/cancel`);
    const r = await api('POST', `/admin/tasks/${enc(up)}/retry`);
    expect(r.status, r.body).toBe(200);
    expect(stateOf(up)).toBe('ready');
    expect(stateOf(down)).toBe('waiting');
    expectError(await api('POST', `/admin/tasks/${enc(up)}/retry`), 409, 'E_INVALID_TRANSITION');
  });

  it('drop-edge removes one dependency (the task becomes ready); dropping it again is 404', async () => {
    const [up, down] = (await graph([{ id: 'up' }, { id: 'down', depends_on: ['up'] }])) as [string, string];
    const r = await api('POST', `/admin/tasks/${enc(down)}/drop-edge`, { depends_on: up });
    expect(r.status, r.body).toBe(200);
    expect(stateOf(down)).toBe('ready');
    const t = await api('GET', `/admin/tasks/${enc(down)}`);
    expect((t.json['task'] as { depends_on: string[] }).depends_on).toEqual([]);
    expectError(await api('POST', `/admin/tasks/${enc(down)}/drop-edge`, { depends_on: up }), 404, 'E_NOT_FOUND');
    expect(a.host.store.listAudit({ action: 'task.drop_edge', target: down, limit: 1 })[0]).toMatchObject({ actor: 'admin', detail: { depends_on: up } });
  });

  it('drop-edge refuses a body without depends_on or with unknown fields, and changes nothing', async () => {
    const [up, down] = (await graph([{ id: 'up' }, { id: 'down', depends_on: ['up'] }])) as [string, string];
    const before = counts(a.host);
    expectError(await api('POST', `/admin/tasks/${enc(down)}/drop-edge`, {}), 400, 'E_BAD_INPUT');
    expectError(await api('POST', `/admin/tasks/${enc(down)}/drop-edge`, { depends_on: up, also: 'x' }), 400, 'E_BAD_INPUT');
    expectError(await api('POST', `/admin/tasks/${enc(down)}/drop-edge`, '{"depends_on":'), 400, 'E_BAD_JSON');
    expect(counts(a.host)).toEqual(before);
    expect(stateOf(down)).toBe('waiting');
  });

  it('answers 404 E_NOT_FOUND for every override of a task that does not exist', async () => {
    const before = counts(a.host);
    for (const op of ['force-run', 'skip', 'retry', 'cancel']) expectError(await api('POST', `/admin/tasks/nope-000000:x/${op}`), 404, 'E_NOT_FOUND');
    expectError(await api('POST', '/admin/tasks/nope-000000:x/drop-edge', { depends_on: 'nope-000000:y' }), 404, 'E_NOT_FOUND');
    expectError(await api('GET', '/admin/tasks/nope-000000:x'), 404, 'E_NOT_FOUND');
    expectError(await api('POST', '/admin/approve/nope-000000:x'), 404, 'E_NOT_FOUND');
    expect(counts(a.host)).toEqual(before);
  });

  it('lists tasks by state and refuses an unknown state with 400', async () => {
    const r = await api('GET', '/admin/tasks?state=cancelled');
    expect(r.status).toBe(200);
    const tasks = r.json['tasks'] as { state: string }[];
    expect(tasks.length).toBeGreaterThan(0);
    expect(tasks.every((t) => t.state === 'cancelled')).toBe(true);
    expectError(await api('GET', '/admin/tasks?state=exploded'), 400, 'E_BAD_INPUT');
    expectError(await api('GET', '/admin/tasks?limit=-1'), 400, 'E_BAD_INPUT');
  });
});

describe('GET /admin/audit', () => {
  it('pages backwards with before_id (no overlap, no gap) and filters by action', async () => {
    for (let i = 0; i < 3; i++) {
      await api('POST', '/admin/pause');
      await api('POST', '/admin/resume');
    }
    const total = counts(a.host).audit;
    const seen: number[] = [];
    let before: number | null = null;
    for (let page = 0; page < 1000; page++) {
      const r = await api('GET', `/admin/audit?limit=7${before === null ? '' : `&before_id=${before}`}`);
      expect(r.status, r.body).toBe(200);
      const ids = (r.json['records'] as { id: number }[]).map((x) => x.id);
      expect(ids).toEqual([...ids].sort((x, y) => y - x));
      if (before !== null) expect(ids.every((id) => id < (before as number))).toBe(true);
      seen.push(...ids);
      before = r.json['next_before_id'] as number | null;
      if (before === null) break;
      expect(before).toBe(ids[ids.length - 1]);
    }
    expect(seen.length).toBe(total);
    expect(new Set(seen).size).toBe(total);
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => total - i));

    const pauses = await api('GET', '/admin/audit?action=killswitch.pause');
    const rows = pauses.json['records'] as { action: string; actor: string; origin: string }[];
    expect(rows.length).toBeGreaterThanOrEqual(3);
    expect(rows.every((x) => x.action === 'killswitch.pause' && x.actor === 'admin' && x.origin === '127.0.0.1')).toBe(true);
    const any = await api('GET', '/admin/audit?action=killswitch.*&limit=1000');
    expect(new Set((any.json['records'] as { action: string }[]).map((x) => x.action))).toEqual(new Set(['killswitch.pause', 'killswitch.resume']));
  });

  it('refuses bad query parameters with 400 E_BAD_INPUT', async () => {
    for (const q of ['limit=abc', 'limit=0', 'limit=100000', 'before_id=-3', 'sort=asc'])
      expectError(await api('GET', `/admin/audit?${q}`), 400, 'E_BAD_INPUT');
  });

  it('verifies the hash chain: ok with the record count', async () => {
    const r = await api('GET', '/admin/audit/verify');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ ok: true, count: counts(a.host).audit });
  });
});

describe('GET /admin/tasks/:id on a running host', () => {
  const runHome = makeHome('colony-api-run-');
  let h: RunningHost;
  let run: Api;

  beforeAll(async () => {
    h = await startTestHost(runHome);
    run = adminApi(portOf(h), h.ctx.adminToken);
  });

  afterAll(async () => {
    await h.close(500);
    runHome.cleanup();
  });

  it('includes every attempt (engine, state, summary) and the output of each', async () => {
    const s = await run('POST', '/admin/execute', {
      prompt: 'echo "to stdout $COLONY_X"; echo to-stderr >&2; exit 3',
      engine: 'exec',
      max_attempts: 2,
      workspace: runHome.workspace,
    });
    expect(s.status, s.body).toBe(201);
    const id = (s.json['task_ids'] as string[])[0] as string;
    await waitFor(() => h.host.store.getTask(id)?.state === 'failed', 'the task to fail twice', 15_000);
    const r = await run('GET', `/admin/tasks/${enc(id)}`);
    expect(r.status).toBe(200);
    const body = r.json as {
      task: { state: string; attempt: number };
      attempts: { attempt: number; state: string; engine: string; summary: string; worker_id: string }[];
      output: { attempt: number; stream: string; text: string }[];
    };
    expect(body.task).toMatchObject({ state: 'failed', attempt: 2 });
    expect(body.attempts.map((x) => [x.attempt, x.state, x.engine, x.summary])).toEqual([
      [1, 'failed', 'exec', 'exit 3'],
      [2, 'failed', 'exec', 'exit 3'],
    ]);
    expect(body.attempts[0]?.worker_id).toMatch(/^host-/);
    for (const n of [1, 2]) {
      const out = body.output.filter((o) => o.attempt === n);
      expect(
        out
          .filter((o) => o.stream === 'stdout')
          .map((o) => o.text)
          .join(''),
      ).toContain('to stdout');
      expect(
        out
          .filter((o) => o.stream === 'stderr')
          .map((o) => o.text)
          .join(''),
      ).toContain('to-stderr');
    }
  });

  it('cancels a running task over HTTP: the process stops and the task ends cancelled', async () => {
    const s = await run('POST', '/admin/execute', { prompt: 'echo started; sleep 30', engine: 'exec', workspace: runHome.workspace });
    const id = (s.json['task_ids'] as string[])[0] as string;
    await waitFor(() => h.host.store.outputOf(id).some((o) => o.text.includes('started')), 'the task to start');
    const r = await run('POST', `/admin/tasks/${enc(id)}/cancel`);
    expect(r.status, r.body).toBe(200);
    await waitFor(() => h.host.store.getTask(id)?.state === 'cancelled', 'the task to end cancelled', 5000);
    expect(h.host.store.attemptsOf(id).map((x) => x.state)).toEqual(['cancelled']);
  });
});
