/**
 * The admin app's gate, from the attacker's side, for EVERY admin route: the
 * legitimate call works with the cookie (from `GET /?token=`) and with
 * `Authorization: Bearer`; without credentials it is 401; a DNS-rebinding Host,
 * a foreign Origin, a cookie-authenticated write without Origin, a non-loopback
 * peer are 403 — and forged X-Forwarded-For / Forwarded headers change nothing.
 * The route list below is checked against the routes the app really registers,
 * so a new admin route without a case here fails the suite.
 */
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { DEFAULT_PERMISSIONS } from '../../src/core/permissions.js';
import { SessionStore } from '../../src/store/sessions.js';
import { SYSTEM } from '../../src/store/store.js';
import { WorkerStore } from '../../src/store/workers.js';
import {
  counts,
  makeHome,
  rawRequest,
  refusalProblems,
  registeredRoutes,
  startIdleAdmin,
  testConfig,
  type IdleAdmin,
  type TestHome,
} from '../helpers/admin-host.js';

interface Prepared {
  url: string;
  body?: unknown;
  /** The task the call would change, so a refused call can be shown to have changed nothing. */
  taskId?: string;
  /** Reads the other row the call would change (a session, a worker). */
  probe?: () => unknown;
}

interface RouteCase {
  ok: number;
  prepare(a: IdleAdmin): Prepared;
  /** Served as a never-ending stream (SSE): the working call is checked over a real socket. */
  stream?: boolean;
}

const ADMIN = { actor: 'admin', origin: 'test' };
let seq = 0;

function submit(a: IdleAdmin, tasks: { id: string; depends_on?: string[] }[], hold = false): string[] {
  const r = a.host.service.submitGraph(
    {
      name: `fixture-${++seq}`,
      tasks: tasks.map((t) => ({ id: t.id, prompt: 'true', engine: 'exec', depends_on: t.depends_on ?? [], trigger: 'all_success' })),
    },
    { submittedBy: hold ? 'session:fixture' : 'admin', who: ADMIN, workspace: a.host.paths.home, defaultTarget: 'host', holdHostTasks: hold },
  );
  return r.task_ids;
}

/** [upstream ready, downstream waiting on it] */
function chain(a: IdleAdmin): [string, string] {
  const [up, down] = submit(a, [{ id: 'up' }, { id: 'down', depends_on: ['up'] }]);
  return [up as string, down as string];
}

/** A LAN session, as the user app would have created it. */
function session(a: IdleAdmin): { id: string; probe: () => unknown } {
  const sessions = new SessionStore(a.host.store);
  const id = randomUUID();
  const now = Date.now();
  sessions.create(
    {
      user_id: id,
      display_name: 'visitor',
      origin_ip: '192.168.1.20',
      is_local: false,
      permissions: [...DEFAULT_PERMISSIONS],
      tasks_submitted: 0,
      created_at: now,
      last_seen_at: now,
      revoked: false,
    },
    ADMIN,
  );
  return { id, probe: () => sessions.get(id) };
}

/** An enrolled remote worker, as pairing would have left it. */
function worker(a: IdleAdmin): { id: string; probe: () => unknown } {
  const workers = new WorkerStore(a.host.store);
  const id = `w-${++seq}`;
  const hash = `code-hash-${seq}`;
  const now = Date.now();
  workers.createPairingCode(hash, 'session:owner', now, now + 60_000, ADMIN);
  workers.enroll(
    hash,
    { id, name: 'laptop', public_key: `key-${seq}`, fingerprint: `fp-${seq}`, engines: ['exec'], open_to_admin: false },
    now,
    '192.168.1.20',
  );
  return { id, probe: () => workers.get(id) };
}

const enc = encodeURIComponent;

const ROUTES: Record<string, RouteCase> = {
  'GET /api/status': { ok: 200, prepare: () => ({ url: '/api/status' }) },
  'POST /admin/execute': { ok: 201, prepare: () => ({ url: '/admin/execute', body: { prompt: 'true', engine: 'exec' } }) },
  'POST /admin/approve/:id': {
    ok: 200,
    prepare: (a) => {
      const [id] = submit(a, [{ id: 't' }], true);
      return { url: `/admin/approve/${enc(id as string)}`, taskId: id };
    },
  },
  'POST /admin/reject/:id': {
    ok: 200,
    prepare: (a) => {
      const [id] = submit(a, [{ id: 't' }], true);
      return { url: `/admin/reject/${enc(id as string)}`, taskId: id };
    },
  },
  'GET /admin/pending': { ok: 200, prepare: () => ({ url: '/admin/pending' }) },
  'GET /admin/router': { ok: 200, prepare: () => ({ url: '/admin/router' }) },
  'GET /admin/hosts': { ok: 200, prepare: () => ({ url: '/admin/hosts' }) },
  'POST /admin/router/explain': { ok: 200, prepare: () => ({ url: '/admin/router/explain', body: { prompt: 'Fix the typo in README.md' } }) },
  'POST /admin/kill': { ok: 200, prepare: () => ({ url: '/admin/kill' }) },
  'POST /admin/pause': { ok: 200, prepare: () => ({ url: '/admin/pause' }) },
  'POST /admin/resume': { ok: 200, prepare: () => ({ url: '/admin/resume' }) },
  'GET /admin/sessions': { ok: 200, prepare: () => ({ url: '/admin/sessions' }) },
  'PATCH /admin/sessions/:id': {
    ok: 200,
    prepare: (a) => {
      const s = session(a);
      return { url: `/admin/sessions/${enc(s.id)}`, body: { display_name: 'renamed', permissions: ['view', 'view_all'] }, probe: s.probe };
    },
  },
  'POST /admin/sessions/:id/revoke': {
    ok: 200,
    prepare: (a) => {
      const s = session(a);
      return { url: `/admin/sessions/${enc(s.id)}/revoke`, probe: s.probe };
    },
  },
  'GET /admin/remote-workers': { ok: 200, prepare: () => ({ url: '/admin/remote-workers' }) },
  'POST /admin/workers/:id/revoke': {
    ok: 200,
    prepare: (a) => {
      const w = worker(a);
      return { url: `/admin/workers/${enc(w.id)}/revoke`, probe: w.probe };
    },
  },
  'GET /admin/audit': { ok: 200, prepare: () => ({ url: '/admin/audit?limit=5' }) },
  'GET /admin/audit/verify': { ok: 200, prepare: () => ({ url: '/admin/audit/verify' }) },
  'GET /admin/graphs': { ok: 200, prepare: () => ({ url: '/admin/graphs' }) },
  'GET /admin/graphs/:id': {
    ok: 200,
    prepare: (a) => {
      const [id] = submit(a, [{ id: 't' }]);
      return { url: `/admin/graphs/${enc((id as string).split(':')[0] as string)}` };
    },
  },
  'GET /admin/tasks': { ok: 200, prepare: () => ({ url: '/admin/tasks?state=ready' }) },
  'GET /admin/task-facets': { ok: 200, prepare: () => ({ url: '/admin/task-facets' }) },
  'GET /admin/tasks/:id': {
    ok: 200,
    prepare: (a) => {
      const [id] = submit(a, [{ id: 't' }]);
      return { url: `/admin/tasks/${enc(id as string)}` };
    },
  },
  'POST /admin/tasks/:id/force-run': {
    ok: 200,
    prepare: (a) => {
      const [, down] = chain(a);
      return { url: `/admin/tasks/${enc(down)}/force-run`, taskId: down };
    },
  },
  'POST /admin/tasks/:id/skip': {
    ok: 200,
    prepare: (a) => {
      const [, down] = chain(a);
      return { url: `/admin/tasks/${enc(down)}/skip`, taskId: down };
    },
  },
  'POST /admin/tasks/:id/retry': {
    ok: 200,
    prepare: (a) => {
      const [id] = submit(a, [{ id: 't' }]);
      a.host.service.cancelPending(id as string, SYSTEM);
      return { url: `/admin/tasks/${enc(id as string)}/retry`, taskId: id };
    },
  },
  'POST /admin/tasks/:id/cancel': {
    ok: 200,
    prepare: (a) => {
      const [, down] = chain(a);
      return { url: `/admin/tasks/${enc(down)}/cancel`, taskId: down };
    },
  },
  'POST /admin/tasks/:id/drop-edge': {
    ok: 200,
    prepare: (a) => {
      const [up, down] = chain(a);
      return { url: `/admin/tasks/${enc(down)}/drop-edge`, body: { depends_on: up }, taskId: down };
    },
  },
  'GET /admin/workers': { ok: 200, prepare: () => ({ url: '/admin/workers' }) },
  'GET /admin/costs': { ok: 200, prepare: () => ({ url: '/admin/costs' }) },
  'GET /admin/costs/daily': { ok: 200, prepare: () => ({ url: '/admin/costs/daily' }) },
  'GET /admin/notifications': { ok: 200, prepare: () => ({ url: '/admin/notifications' }) },
  'POST /admin/notifications/test': { ok: 200, prepare: () => ({ url: '/admin/notifications/test', body: { hook: 'probe' } }) },
  'GET /admin/budgets': { ok: 200, prepare: () => ({ url: '/admin/budgets' }) },
  'POST /admin/budgets': { ok: 200, prepare: () => ({ url: '/admin/budgets', body: { scope: 'user', key: 'admin', budget_usd: 5 } }) },
  'POST /admin/budgets/resume': { ok: 200, prepare: () => ({ url: '/admin/budgets/resume', body: { scope: 'user', key: 'admin' } }) },
  'GET /events': { ok: 200, stream: true, prepare: () => ({ url: '/events' }) },
};

/** Served without a token by design; tested on their own below. */
const PUBLIC = new Set(['GET /']);

const home: TestHome = makeHome('colony-guard-');
let a: IdleAdmin;
let cookie: string;

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
const methodOf = (key: string): Method => key.split(' ')[0] as Method;
const host = (): string => `127.0.0.1:${a.port}`;
const origin = (): string => `http://127.0.0.1:${a.port}`;

function inject(key: string, p: Prepared, headers: Record<string, string>, extra: Partial<InjectOptions> = {}): Promise<LightMyRequestResponse> {
  const method = methodOf(key);
  const body = method === 'GET' ? undefined : JSON.stringify(p.body ?? {});
  return a.app.inject({
    method,
    url: p.url,
    headers: { host: host(), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    payload: body,
    ...extra,
  });
}

function expectRefused(res: LightMyRequestResponse, status: number, code: string): void {
  expect(refusalProblems(res.statusCode, res.headers['content-type'], res.body, { status, code })).toEqual([]);
}

/** What a refused call must leave untouched. */
function snapshot(p: Prepared): { tasks: number; graphs: number; switch: string; task: string | null; row: unknown } {
  const c = counts(a.host);
  return {
    tasks: c.tasks,
    graphs: c.graphs,
    switch: a.host.killswitch.state(),
    task: p.taskId ? (a.host.store.getTask(p.taskId)?.state ?? null) : null,
    row: p.probe?.() ?? null,
  };
}

async function works(key: string, c: RouteCase, headers: Record<string, string>): Promise<void> {
  const p = c.prepare(a);
  if (c.stream) {
    // SSE never ends: read the status and the first bytes over a real socket, then hang up.
    const { status, type } = await new Promise<{ status: number; type: string }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: a.port, path: p.url, headers: { host: host(), ...headers } }, (res) => {
        res.once('data', () => {
          resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']) });
          req.destroy();
        });
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(c.ok);
    expect(type).toMatch(/^text\/event-stream/);
    return;
  }
  const res = await inject(key, p, headers);
  expect(res.statusCode, res.body).toBe(c.ok);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
}

beforeAll(async () => {
  // One webhook (nothing listens on port 9) so the send-test route has a hook to name.
  a = await startIdleAdmin(home, testConfig({ notifications: { webhooks: [{ name: 'probe', url: 'http://127.0.0.1:9/hook' }] } }));
  const res = await a.app.inject({ method: 'GET', url: `/?token=${a.token}`, headers: { host: host() } });
  const set = String(res.headers['set-cookie'] ?? '');
  cookie = set.split(';')[0] ?? '';
});

afterAll(async () => {
  await a.close();
  home.cleanup();
});

describe('admin route list', () => {
  it('has a guard case for every route the admin app registers, and no case for a route that is gone', () => {
    const registered = registeredRoutes(a.app.printRoutes({ commonPrefix: false }));
    expect(registered.length).toBeGreaterThan(15);
    expect(registered.filter((r) => !PUBLIC.has(r)).sort()).toEqual(Object.keys(ROUTES).sort());
  });
});

describe('token exchange at GET /?token=', () => {
  it('answers 303 to / with an HttpOnly SameSite=Strict cookie that is not the token itself', async () => {
    const res = await a.app.inject({ method: 'GET', url: `/?token=${a.token}`, headers: { host: host() } });
    expect(res.statusCode).toBe(303);
    expect(res.headers['location']).toBe('/');
    const set = String(res.headers['set-cookie']);
    expect(set).toMatch(/HttpOnly/i);
    expect(set).toMatch(/SameSite=Strict/i);
    expect(set).toMatch(/Path=\//);
    expect(set).not.toContain(a.token);
    expect(cookie).toMatch(/^colony_admin=.+/);
  });

  it('refuses a wrong token with 401, sets no cookie, and audits the attempt with the peer address', async () => {
    const before = a.host.store.listAudit({ action: 'admin.bad_token' }).length;
    const res = await a.app.inject({ method: 'GET', url: '/?token=guessed-token', headers: { host: host(), 'x-forwarded-for': '203.0.113.9' } });
    expect(res.statusCode).toBe(401);
    expect(res.headers['set-cookie']).toBeUndefined();
    const rows = a.host.store.listAudit({ action: 'admin.bad_token' });
    expect(rows.length).toBe(before + 1);
    expect(rows[0]?.origin).toBe('127.0.0.1');
    expect(JSON.stringify(rows[0])).not.toContain('guessed-token');
  });

  it('does not exchange a token for a foreign Host or from a non-loopback peer', async () => {
    const evil = await a.app.inject({ method: 'GET', url: `/?token=${a.token}`, headers: { host: `evil.example:${a.port}` } });
    expectRefused(evil, 403, 'E_BAD_HOST');
    expect(evil.headers['set-cookie']).toBeUndefined();
    const lan = await a.app.inject({ method: 'GET', url: `/?token=${a.token}`, headers: { host: host() }, remoteAddress: '10.1.2.3' });
    expectRefused(lan, 403, 'E_NOT_LOOPBACK');
    expect(lan.headers['set-cookie']).toBeUndefined();
  });

  it('serves the page shell at / only with the cookie', async () => {
    expect((await a.app.inject({ method: 'GET', url: '/', headers: { host: host() } })).statusCode).toBe(401);
    expect((await a.app.inject({ method: 'GET', url: '/', headers: { host: host(), cookie } })).statusCode).toBe(200);
  });
});

describe.each(Object.entries(ROUTES))('%s', (key, c) => {
  const isWrite = methodOf(key) !== 'GET';

  it("works with the cookie from GET /?token= (plus this app's Origin on a write)", async () => {
    await works(key, c, { cookie, ...(isWrite ? { origin: origin() } : {}) });
  });

  it('works with Authorization: Bearer and no Origin (the CLI)', async () => {
    await works(key, c, { authorization: `Bearer ${a.token}` });
  });

  it('is 401 E_UNAUTHORIZED without credentials, with a wrong bearer token or a forged cookie', async () => {
    const p = c.prepare(a);
    const before = snapshot(p);
    const same = { origin: origin() };
    expectRefused(await inject(key, p, same), 401, 'E_UNAUTHORIZED');
    expectRefused(await inject(key, p, { ...same, authorization: 'Bearer not-the-token' }), 401, 'E_UNAUTHORIZED');
    expectRefused(await inject(key, p, { ...same, cookie: `colony_admin=${a.token}` }), 401, 'E_UNAUTHORIZED');
    expectRefused(await inject(key, p, { ...same, authorization: `Basic ${Buffer.from(`admin:${a.token}`).toString('base64')}` }), 401, 'E_UNAUTHORIZED');
    // A bare request (no Origin either) is refused too, whichever check speaks first.
    const bare = await inject(key, p, {});
    expect([401, 403]).toContain(bare.statusCode);
    expect(snapshot(p)).toEqual(before);
  });

  it('is 403 E_BAD_HOST for a DNS-rebinding Host, even with valid credentials', async () => {
    const p = c.prepare(a);
    const before = snapshot(p);
    for (const h of [`evil.example:${a.port}`, `127.0.0.1:${a.port}.evil.example`, '127.0.0.1', `127.0.0.1:${a.port + 1}`, '']) {
      expectRefused(await inject(key, p, { host: h, cookie, authorization: `Bearer ${a.token}`, origin: origin() }), 403, 'E_BAD_HOST');
    }
    expect(snapshot(p)).toEqual(before);
  });

  it('is 403 E_BAD_ORIGIN for a foreign Origin, even with the cookie or the bearer token', async () => {
    const p = c.prepare(a);
    const before = snapshot(p);
    const foreign = [
      'https://evil.example',
      'null',
      `http://127.0.0.1:${a.port}.evil.example`,
      `http://localhost:${a.port + 1}`,
      `https://127.0.0.1:${a.port}`,
    ];
    for (const o of foreign) {
      expectRefused(await inject(key, p, { origin: o, cookie }), 403, 'E_BAD_ORIGIN');
      expectRefused(await inject(key, p, { origin: o, authorization: `Bearer ${a.token}` }), 403, 'E_BAD_ORIGIN');
    }
    expect(snapshot(p)).toEqual(before);
  });

  if (isWrite) {
    it('is 403 E_BAD_ORIGIN for a cookie-authenticated write with no Origin', async () => {
      const p = c.prepare(a);
      const before = snapshot(p);
      expectRefused(await inject(key, p, { cookie }), 403, 'E_BAD_ORIGIN');
      expect(snapshot(p)).toEqual(before);
    });
  }

  it('is 403 E_NOT_LOOPBACK from a LAN peer, whatever X-Forwarded-For / Forwarded claim', async () => {
    const p = c.prepare(a);
    const before = snapshot(p);
    const creds = { cookie, authorization: `Bearer ${a.token}`, origin: origin() };
    for (const fwd of [{}, { 'x-forwarded-for': '127.0.0.1' }, { forwarded: 'for=127.0.0.1' }, { 'x-real-ip': '127.0.0.1' }] as Record<string, string>[]) {
      expectRefused(await inject(key, p, { ...creds, ...fwd }, { remoteAddress: '10.1.2.3' }), 403, 'E_NOT_LOOPBACK');
    }
    expect(snapshot(p)).toEqual(before);
    const refused = a.host.store.listAudit({ action: 'admin.refused', limit: 1 })[0];
    expect(refused?.origin).toBe('10.1.2.3');
  });

  it('gains nothing from X-Forwarded-For / Forwarded: 127.0.0.1 on a loopback request without credentials', async () => {
    const p = c.prepare(a);
    const before = snapshot(p);
    for (const fwd of [{ 'x-forwarded-for': '127.0.0.1' }, { forwarded: 'for=127.0.0.1;host=127.0.0.1' }, { 'x-forwarded-host': host() }] as Record<
      string,
      string
    >[]) {
      expectRefused(await inject(key, p, { origin: origin(), ...fwd }), 401, 'E_UNAUTHORIZED');
      expectRefused(await inject(key, p, { host: `evil.example:${a.port}`, authorization: `Bearer ${a.token}`, ...fwd }), 403, 'E_BAD_HOST');
    }
    expect(snapshot(p)).toEqual(before);
  });
});

describe('outside the route list', () => {
  it('answers an unknown admin path with 401 (no route enumeration) and only then 404', async () => {
    expectRefused(await a.app.inject({ method: 'GET', url: '/admin/nope', headers: { host: host() } }), 401, 'E_UNAUTHORIZED');
    expectRefused(await a.app.inject({ method: 'GET', url: '/admin/nope', headers: { host: host(), authorization: `Bearer ${a.token}` } }), 404, 'E_NOT_FOUND');
    expectRefused(await a.app.inject({ method: 'DELETE', url: '/admin/kill', headers: { host: host(), origin: origin() } }), 401, 'E_UNAUTHORIZED');
  });

  it('checks Host and Origin over a real socket too (no header normalisation in between)', async () => {
    const r1 = await rawRequest(a.port, { path: '/api/status', headers: { host: `evil.example:${a.port}`, authorization: `Bearer ${a.token}` } });
    expect(refusalProblems(r1.status, r1.headers['content-type'], r1.body, { status: 403, code: 'E_BAD_HOST' })).toEqual([]);
    const r2 = await rawRequest(a.port, {
      method: 'POST',
      path: '/admin/pause',
      headers: { host: host(), origin: 'https://evil.example', cookie, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(refusalProblems(r2.status, r2.headers['content-type'], r2.body, { status: 403, code: 'E_BAD_ORIGIN' })).toEqual([]);
    const r3 = await rawRequest(a.port, { path: '/api/status', headers: { host: `localhost:${a.port}`, authorization: `Bearer ${a.token}` } });
    expect(r3.status).toBe(200);
  });

  it('serves static assets without a token, but no path under /assets/ reaches an admin route or the home', async () => {
    const h2 = makeHome('colony-guard-assets-');
    const web = join(h2.dir, 'web');
    mkdirSync(web);
    writeFileSync(join(web, 'index.html'), '<!doctype html><p>__COLONY_CAPABILITY__</p>');
    writeFileSync(join(web, 'app.js'), 'export {};');
    const b = await startIdleAdmin(h2, undefined, web);
    try {
      const get = (path: string) => rawRequest(b.port, { path, headers: { host: `127.0.0.1:${b.port}` } });
      expect((await get('/assets/app.js')).status).toBe(200);
      for (const path of [
        '/assets/../admin/tasks',
        '/assets/%2e%2e/admin/tasks',
        '/assets/..%2fadmin%2ftasks',
        '/assets/%2e%2e/home/admin.token',
        '/assets/%2e%2e/%2e%2e/home/admin.token',
        '/assets//admin/audit',
      ]) {
        const r = await get(path);
        expect([400, 403, 404], `${path} → ${r.status} ${r.body.slice(0, 100)}`).toContain(r.status);
        expect(r.body).not.toContain(b.token);
        expect(r.body).not.toMatch(/"tasks"|"records"/);
      }
      // The shell at / is not an asset: it needs the cookie.
      expect((await get('/')).status).toBe(401);
    } finally {
      await b.close();
      h2.cleanup();
    }
  });

  it('never sends a stack trace, even when a handler fails inside', async () => {
    const h2 = makeHome('colony-guard-500-');
    const b = await startIdleAdmin(h2);
    try {
      b.host.store.close(); // every store call now throws a plain Error
      const res = await b.app.inject({ method: 'GET', url: '/admin/tasks', headers: { host: `127.0.0.1:${b.port}`, authorization: `Bearer ${b.token}` } });
      expect(refusalProblems(res.statusCode, res.headers['content-type'], res.body, { status: 500, code: 'E_INTERNAL' })).toEqual([]);
      expect(res.body).not.toMatch(/database|sqlite/i);
    } finally {
      await b.close();
      h2.cleanup();
    }
  });
});
