/**
 * The user (LAN) app's front door, with app.inject() from chosen socket
 * addresses: sessions (signed cookie, origin from the socket, survive a
 * restart, revocation), the address allow-list, the LAN access code, CSRF
 * origin check, body limits and malformed JSON, `/admin/*` as a plain 404,
 * and the admin's session controls. Each refusal is shown from the attacker's
 * side next to the call that works.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startHost } from '../../src/server/host-server.js';
import { makeHome } from '../helpers/admin-host.js';
import { adminCall, code, inject, lanConfig, startUserHost, visitor, type UserHost } from '../helpers/user-host.js';

let h: UserHost;
afterEach(async () => {
  await h?.close();
  h?.home.cleanup();
});

const refusals = (x: UserHost) => x.host.store.listAudit({ action: 'lan.refused', limit: 1000 });

describe('sessions', () => {
  it('creates a session from the socket address, ignoring X-Forwarded-For, in a signed HttpOnly SameSite=Lax cookie', async () => {
    h = await startUserHost();
    const r = await h.user.inject({
      method: 'POST',
      url: '/api/session',
      remoteAddress: '10.1.2.3',
      headers: { 'x-forwarded-for': '127.0.0.1', forwarded: 'for=127.0.0.1' },
      payload: { display_name: 'Ada' },
    });
    expect(r.statusCode).toBe(201);
    const s = (r.json() as { session: Record<string, unknown> }).session;
    expect(s).toMatchObject({
      display_name: 'Ada',
      origin_ip: '10.1.2.3',
      is_local: false,
      permissions: ['view', 'submit_task', 'view_own_sessions'],
      revoked: false,
    });
    expect(s['user_id']).toMatch(/^[0-9a-f-]{36}$/);
    const setCookie = String(r.headers['set-cookie']);
    expect(setCookie).toMatch(/colony_session=[^;]+\.[^;]+;/); // value.signature
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    expect(h.host.store.listAudit({ action: 'session.created' })[0]).toMatchObject({ actor: `session:${String(s['user_id'])}`, origin: '10.1.2.3' });

    const local = await h.user.inject({ method: 'POST', url: '/api/session', remoteAddress: '127.0.0.1', payload: { display_name: 'Me' } });
    expect((local.json() as { session: { is_local: boolean } }).session.is_local).toBe(true);
  });

  it("returns and renames the caller's session; no cookie is no session (200, session null)", async () => {
    h = await startUserHost();
    const a = await visitor(h, '10.0.0.2', 'Ada');
    expect((await a.call('GET', '/api/session')).json()).toMatchObject({ session: { user_id: a.userId, display_name: 'Ada' } });
    const renamed = await a.call('PATCH', '/api/session', { display_name: 'Ada L.' });
    expect(renamed.json()).toMatchObject({ session: { display_name: 'Ada L.' } });
    expect(h.host.store.listAudit({ action: 'session.renamed' })[0]).toMatchObject({ actor: `session:${a.userId}`, origin: '10.0.0.2' });
    const none = await inject(h, '10.0.0.2', 'GET', '/api/session');
    expect([none.statusCode, none.json()]).toEqual([200, { session: null, access_code_required: false }]);
    expect(code(await inject(h, '10.0.0.2', 'GET', '/api/status'))).toBe('E_UNAUTHORIZED');
    for (const bad of ['', ' ', 'x'.repeat(61), 'two\nlines', 'bell\u0007']) {
      expect(code(await a.call('PATCH', '/api/session', { display_name: bad })), JSON.stringify(bad)).toBe('E_BAD_INPUT');
    }
  });

  it('refuses forged, tampered and unsigned cookies (no session: null, and 401 elsewhere)', async () => {
    h = await startUserHost();
    const a = await visitor(h, '10.0.0.2');
    const value = a.cookie.split('=')[1] ?? '';
    const forged = [
      `colony_session=${a.userId}.-`, // unsigned
      `colony_session=${value.slice(0, -2)}xx`, // bad signature
      `colony_session=${value.replace(a.userId, '00000000-0000-4000-8000-000000000000')}`, // another id, old signature
    ];
    for (const cookie of forged) {
      const r = await inject(h, '10.0.0.9', 'GET', '/api/session', undefined, { cookie });
      expect([r.statusCode, r.json().session], cookie).toEqual([200, null]);
      expect((await inject(h, '10.0.0.9', 'GET', '/api/status', undefined, { cookie })).statusCode, cookie).toBe(401);
    }
    expect((await a.call('GET', '/api/session')).statusCode).toBe(200);
  });

  it('survives a host restart (sessions are in SQLite, the cookie secret in COLONY_HOME)', async () => {
    h = await startUserHost();
    const a = await visitor(h, '10.0.0.2', 'Ada');
    await h.restart();
    const r = await inject(h, '10.0.0.2', 'GET', '/api/session', undefined, { cookie: a.cookie });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ session: { user_id: a.userId, display_name: 'Ada' } });
  });

  it('refuses a revoked session everywhere and will not re-create one for its cookie', async () => {
    h = await startUserHost();
    const a = await visitor(h, '10.0.0.2');
    expect((await adminCall(h, 'POST', `/admin/sessions/${a.userId}/revoke`)).json()).toMatchObject({ session: { revoked: true } });
    for (const [m, u] of [
      ['GET', '/api/session'],
      ['GET', '/api/status'],
      ['GET', '/api/my-sessions'],
      ['GET', '/events'],
      ['POST', '/api/submit-task'],
    ] as const) {
      const r = await a.call(m, u, m === 'POST' ? { prompt: 'x' } : undefined);
      expect([r.statusCode, code(r)], `${m} ${u}`).toEqual([403, 'E_FORBIDDEN']);
    }
    expect(code(await a.call('POST', '/api/session', { display_name: 'again' }))).toBe('E_FORBIDDEN');
  });
});

describe('admin controls of sessions', () => {
  it('lists, renames, grants and withdraws permissions, with an audit record each', async () => {
    h = await startUserHost();
    const a = await visitor(h, '10.0.0.2', 'Ada');
    const list = await adminCall(h, 'GET', '/admin/sessions');
    expect(list.json()).toMatchObject({ sessions: [{ user_id: a.userId, display_name: 'Ada', origin_ip: '10.0.0.2', cost_usd: 0 }] });
    const p = await adminCall(h, 'PATCH', `/admin/sessions/${a.userId}`, { display_name: 'Ada (lab)', permissions: ['view', 'view_all'] });
    expect(p.json()).toMatchObject({ session: { display_name: 'Ada (lab)', permissions: ['view', 'view_all'] } });
    expect(h.host.store.listAudit({ action: 'session.permissions' })[0]).toMatchObject({ actor: 'admin', target: a.userId });
    expect(code(await a.call('POST', '/api/submit-task', { prompt: 'x' }))).toBe('E_FORBIDDEN'); // submit_task withdrawn
    expect(code(await adminCall(h, 'PATCH', `/admin/sessions/${a.userId}`, { permissions: ['root'] }))).toBe('E_BAD_INPUT');
    expect(code(await adminCall(h, 'PATCH', `/admin/sessions/${a.userId}`, {}))).toBe('E_BAD_INPUT');
    expect(code(await adminCall(h, 'POST', '/admin/sessions/nope/revoke'))).toBe('E_NOT_FOUND');
  });
});

describe('who may reach the user app', () => {
  it('answers 403 E_IP_DENIED outside lan.allow_cidrs on every path (X-Forwarded-For changes nothing), and audits it', async () => {
    h = await startUserHost({ config: lanConfig({ allow_cidrs: ['10.0.0.0/24', '127.0.0.0/8'] }) });
    for (const [m, u] of [
      ['GET', '/healthz'],
      ['GET', '/dashboard'],
      ['POST', '/api/session'],
      ['GET', '/events'],
      ['GET', '/admin/kill'],
      ['GET', '/assets/x.js'],
    ] as const) {
      const r = await inject(h, '10.0.1.5', m, u, m === 'POST' ? { display_name: 'x' } : undefined, { 'x-forwarded-for': '10.0.0.2' });
      expect([r.statusCode, code(r)], `${m} ${u}`).toEqual([403, 'E_IP_DENIED']);
    }
    expect((await inject(h, '::ffff:10.0.0.7', 'GET', '/healthz')).statusCode).toBe(200); // IPv4-mapped matches IPv4 ranges
    expect(refusals(h)[0]).toMatchObject({ actor: 'anonymous', origin: '10.0.1.5', detail: { code: 'E_IP_DENIED' } });
  });

  it('with an access code: only the code page and session creation without it; the right code (any case, dashes) admits', async () => {
    h = await startUserHost({ accessCode: 'abcd-2345', withWeb: true });
    const page = await inject(h, '10.0.0.2', 'GET', '/dashboard');
    expect(page.statusCode).toBe(200);
    expect(page.body).toMatch(/access code/i);
    expect(page.body).not.toMatch(/colony user/);
    for (const u of ['/api/status', '/api/session', '/api/workers', '/events', '/assets/app.js']) {
      expect(code(await inject(h, '10.0.0.2', 'GET', u)), u).toBe('E_ACCESS_CODE');
    }
    expect(code(await inject(h, '10.0.0.2', 'POST', '/api/session', { display_name: 'x' }))).toBe('E_ACCESS_CODE');
    expect(code(await inject(h, '10.0.0.2', 'POST', '/api/session', { display_name: 'x', code: 'ABCD-2346' }))).toBe('E_ACCESS_CODE');
    const a = await visitor(h, '10.0.0.2', 'Ada', ' abcd2345 ');
    expect((await a.call('GET', '/api/status')).statusCode).toBe(200);
    expect((await a.call('GET', '/dashboard')).body).toMatch(/colony user dashboard/);
    expect((await a.call('GET', '/assets/app.js')).statusCode).toBe(200);
    expect((await inject(h, '10.0.0.2', 'GET', '/healthz')).statusCode).toBe(200);
    expect(code(await inject(h, '10.0.0.9', 'POST', '/admin/kill'))).toBe('E_NOT_FOUND'); // unknown paths stay a plain 404
  });

  it('`lanCode: "auto"` generates a code (printed by colony serve) that the user app then requires', async () => {
    const home = makeHome('colony-autocode-');
    const running = await startHost({
      paths: home.paths,
      config: lanConfig(),
      adminPort: 0,
      userPort: 0,
      lan: true,
      insecureHttp: true,
      hostIp: '127.0.0.1',
      logger: false,
      webRoot: null,
      lanCode: 'auto',
    });
    try {
      expect(running.lanCode).toMatch(/^[A-HJ-NP-Z2-9]{5}-[A-HJ-NP-Z2-9]{5}$/); // 10 of 31 characters: ≥ 40 bits (issue 14)
      const post = (body: unknown) => running.user?.inject({ method: 'POST', url: '/api/session', remoteAddress: '10.0.0.2', payload: body as object });
      expect(code((await post({ display_name: 'x' })) as never)).toBe('E_ACCESS_CODE');
      expect((await post({ display_name: 'x', code: running.lanCode }))?.statusCode).toBe(201);
    } finally {
      await running.close(100);
      home.cleanup();
    }
  });

  it('after the code changes, the old cookie needs the new code and keeps its session', async () => {
    h = await startUserHost({ accessCode: 'FIRST-CODE' });
    const a = await visitor(h, '10.0.0.2', 'Ada', 'first-code');
    await h.restart({ accessCode: 'SECOND-CODE' });
    expect(code(await inject(h, '10.0.0.2', 'GET', '/api/status', undefined, { cookie: a.cookie }))).toBe('E_ACCESS_CODE');
    const again = await inject(h, '10.0.0.2', 'POST', '/api/session', { display_name: 'Ada', code: 'second-code' }, { cookie: a.cookie });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ session: { user_id: a.userId } });
    const c = again.cookies.find((k) => k.name === 'colony_session');
    expect((await inject(h, '10.0.0.2', 'GET', '/api/status', undefined, { cookie: `colony_session=${c?.value}` })).statusCode).toBe(200);
  });

  it('refuses a state change from a foreign Origin (CSRF; upgrades: see user-live), accepts its own', async () => {
    h = await startUserHost({ config: lanConfig({ host_names: ['colony.lan'] }) });
    const a = await visitor(h, '10.0.0.2');
    const evil = await a.call('POST', '/api/submit-task', { prompt: 'x' }, { origin: 'http://evil.example', host: 'colony.lan:8081' });
    expect([evil.statusCode, code(evil)]).toEqual([403, 'E_BAD_ORIGIN']);
    // Origin is checked against the allow-list, not against the request's own Host (which a rebinding page chooses).
    const rebound = await a.call('POST', '/api/submit-task', { prompt: 'x' }, { origin: 'http://evil.example:8081', host: 'evil.example:8081' });
    expect([rebound.statusCode, code(rebound)]).toEqual([403, 'E_BAD_HOST']);
    const otherPort = await a.call('POST', '/api/submit-task', { prompt: 'x' }, { origin: 'http://colony.lan:3000', host: 'colony.lan:8081' });
    expect([otherPort.statusCode, code(otherPort)]).toEqual([403, 'E_BAD_ORIGIN']);
    const own = await a.call('POST', '/api/submit-task', { prompt: 'x' }, { origin: 'http://colony.lan:8081', host: 'colony.lan:8081' });
    expect(own.statusCode).toBe(201);
    expect(h.host.store.listTasks({ submitted_by: `session:${a.userId}` })).toHaveLength(1);
  });

  it('serves /admin/* as a plain 404 for every method, even with the admin token and a session', async () => {
    h = await startUserHost();
    const a = await visitor(h, '127.0.0.1');
    const before = h.host.store.listTasks().length;
    for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const) {
      for (const u of ['/admin/sessions', '/admin/kill', '/admin/execute', '/admin/approve/x', '/admin', '/admin/sessions/x/revoke']) {
        const r = await a.call(method, u, method === 'GET' || method === 'HEAD' ? undefined : { prompt: 'touch /tmp/pwned' }, {
          authorization: `Bearer ${h.ctx.adminToken}`,
        });
        expect(r.statusCode, `${method} ${u}`).toBe(404);
        if (method !== 'HEAD') expect(code(r)).toBe('E_NOT_FOUND');
      }
    }
    expect(h.host.store.listTasks().length).toBe(before);
    expect(h.host.killswitch.state()).toBe('running');
  });

  it('limits body size (413 E_TOO_LARGE) and answers malformed JSON with 400 E_BAD_JSON', async () => {
    h = await startUserHost({ config: lanConfig({ max_body_bytes: 4096 }) });
    const a = await visitor(h, '10.0.0.2');
    const big = await a.call('POST', '/api/submit-task', JSON.stringify({ prompt: 'x'.repeat(5000) }), { 'content-type': 'application/json' });
    expect([big.statusCode, code(big)]).toEqual([413, 'E_TOO_LARGE']);
    const bad = await a.call('POST', '/api/submit-task', '{"prompt": ', { 'content-type': 'application/json' });
    expect([bad.statusCode, code(bad)]).toEqual([400, 'E_BAD_JSON']);
    const text = await a.call('POST', '/api/submit-task', 'prompt=x', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(text.statusCode).toBeGreaterThanOrEqual(400);
    expect(h.host.store.listTasks()).toHaveLength(0);
    expect(refusals(h).map((r) => (r.detail as { code: string }).code)).toEqual(expect.arrayContaining(['E_TOO_LARGE', 'E_BAD_JSON']));
  });
});
