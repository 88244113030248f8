/**
 * Strict separation of the two apps: the user (LAN) app registers no admin
 * route, so `/admin/*` on the user port is a plain 404 for every method and
 * every admin path — even with the admin's bearer token and cookie, and even
 * when the request claims to be for the admin port. Nothing is written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHost } from '../../src/server/host-server.js';
import { counts, makeHome, portOf, rawRequest, registeredRoutes, startTestHost, testConfig, type TestHome } from '../helpers/admin-host.js';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

const home: TestHome = makeHome('colony-userport-');
let h: RunningHost;
let adminPort: number;
let userPort: number;
let cookie: string;
let taskId: string;
/** Every admin API path the admin app really registers, with ids filled in. */
let adminPaths: string[];

beforeAll(async () => {
  // Rate limits out of the way: this test sends a few hundred requests on purpose.
  h = await startTestHost(home, { lan: true, config: testConfig({ lan: { rate_limit_read_per_min: 100_000, rate_limit_submit_per_min: 100_000 } }) });
  adminPort = portOf(h);
  userPort = (h.user?.server.address() as { port: number }).port;
  const login = await rawRequest(adminPort, { path: `/?token=${h.ctx.adminToken}`, headers: { host: `127.0.0.1:${adminPort}` } });
  cookie = String(login.headers['set-cookie']?.[0] ?? '').split(';')[0] ?? '';
  expect(cookie).toMatch(/^colony_admin=/);
  taskId = h.host.service.submitGraph(
    { name: 'held', tasks: [{ id: 't', prompt: 'true', engine: 'exec', depends_on: [], trigger: 'all_success' }] },
    { submittedBy: 'session:someone', who: { actor: 'test', origin: 'local' }, workspace: home.workspace, defaultTarget: 'host', holdHostTasks: true },
  ).task_ids[0] as string;
  const fromAdmin = [...new Set(registeredRoutes(h.admin.printRoutes({ commonPrefix: false })).map((r) => r.split(' ')[1] as string))].filter((p) =>
    p.startsWith('/admin'),
  );
  adminPaths = [
    ...fromAdmin.map((p) => p.replace(':id', encodeURIComponent(taskId))),
    '/admin',
    '/admin/',
    '/admin/anything',
    '/admin/../admin/kill',
    '/ADMIN/kill',
    '/admin/kill?x=1',
    '/%61dmin/kill',
  ];
});

afterAll(async () => {
  await h.close(500);
  home.cleanup();
});

describe('/admin/* on the user port', () => {
  it("covers the admin app's real routes (kill, execute, audit, overrides...)", () => {
    expect(adminPaths).toEqual(
      expect.arrayContaining(['/admin/kill', '/admin/execute', '/admin/audit', `/admin/tasks/${encodeURIComponent(taskId)}/force-run`]),
    );
    expect(adminPaths.length).toBeGreaterThan(20);
  });

  it.each(METHODS)('%s is 404 for every admin path, even with the admin bearer token and cookie', async (method) => {
    const before = { ...counts(h.host), switch: h.host.killswitch.state(), task: h.host.store.getTask(taskId)?.state };
    const variants: Record<string, string>[] = [
      {},
      { authorization: `Bearer ${h.ctx.adminToken}`, cookie },
      { authorization: `Bearer ${h.ctx.adminToken}`, cookie, origin: `http://127.0.0.1:${userPort}` },
      // claiming to be addressed to the admin app changes nothing: routing is per listener
      { authorization: `Bearer ${h.ctx.adminToken}`, cookie, host: `127.0.0.1:${adminPort}`, origin: `http://127.0.0.1:${adminPort}` },
    ];
    const failures: string[] = [];
    const body = method === 'GET' ? undefined : JSON.stringify({ prompt: 'touch /tmp/pwned', engine: 'exec', depends_on: taskId });
    for (const path of adminPaths) {
      await Promise.all(
        variants.map(async (headers) => {
          const r = await rawRequest(userPort, {
            method,
            path,
            headers: { host: `127.0.0.1:${userPort}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
            body,
          });
          if (r.status !== 404) failures.push(`${method} ${path} ${JSON.stringify(Object.keys(headers))} → ${r.status} ${r.body.slice(0, 120)}`);
          else if (r.body.includes(h.ctx.adminToken)) failures.push(`${method} ${path} echoed the token`);
        }),
      );
    }
    expect(failures).toEqual([]);
    const after = { ...counts(h.host), switch: h.host.killswitch.state(), task: h.host.store.getTask(taskId)?.state };
    // The LAN app may audit requests it sees; nothing else may change.
    expect({ ...after, audit: 0 }).toEqual({ ...before, audit: 0 });
  });

  it('answers 404 in the same JSON shape as any unknown path (nothing reveals that an admin app exists)', async () => {
    const admin = await rawRequest(userPort, { path: '/admin/kill', headers: { host: `127.0.0.1:${userPort}` } });
    const other = await rawRequest(userPort, { path: '/no/such/thing', headers: { host: `127.0.0.1:${userPort}` } });
    expect(admin.status).toBe(404);
    expect(admin.headers['content-type']).toBe(other.headers['content-type']);
    expect(Object.keys(JSON.parse(admin.body) as object).sort()).toEqual(Object.keys(JSON.parse(other.body) as object).sort());
    expect(JSON.parse(admin.body)).toMatchObject({ code: 'E_NOT_FOUND' });
  });

  it('while the same token works on the admin port (the control for this test)', async () => {
    const r = await rawRequest(adminPort, { path: '/admin/pending', headers: { host: `127.0.0.1:${adminPort}`, authorization: `Bearer ${h.ctx.adminToken}` } });
    expect(r.status).toBe(200);
  });
});
