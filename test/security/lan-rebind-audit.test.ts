/**
 * Issue 14 from the attacker's side: DNS rebinding (a page on a foreign name
 * that resolves to the host), the audit flood (distinct 404 paths, refused
 * frames on /ws/remote-exec, from one address and from many), and the access
 * code (weak codes refused, `auto` strong, a global budget for wrong codes).
 */
import { dbOf } from '../../src/store/internal.js';
import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { accessCodeBits, accessCodeProblem } from '../../src/core/access-code.js';
import { parseConfig } from '../../src/core/config.js';
import type { RunningHost } from '../../src/server/host-server.js';
import { generateAccessCode } from '../../src/server/user/deps.js';
import { makeHome, startTestHost, testConfig, type TestHome } from '../helpers/admin-host.js';
import { assertBuilt, runCli } from '../helpers/cli.js';
import { lanConfig, startUserHost, type UserHost } from '../helpers/user-host.js';

let home: TestHome | null = null;
let running: RunningHost | null = null;
let uh: UserHost | null = null;
afterEach(async () => {
  await running?.close(200);
  running = null;
  await uh?.close();
  uh = null;
  home?.cleanup();
  home = null;
});

function raw(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<{ status: number; code?: string; cookie?: string }> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const r = httpRequest(
      { host: '127.0.0.1', port, method, path, agent: false, headers: { ...(text ? { 'content-type': 'application/json' } : {}), ...headers } },
      (res) => {
        let t = '';
        res
          .setEncoding('utf8')
          .on('data', (d: string) => (t += d))
          .on('end', () => {
            let code: string | undefined;
            try {
              code = (JSON.parse(t) as { code?: string }).code;
            } catch {
              code = undefined;
            }
            const m = /colony_session=([^;]+)/.exec(String(res.headers['set-cookie'] ?? ''));
            resolve({ status: res.statusCode ?? 0, code, cookie: m ? `colony_session=${m[1]}` : undefined });
          });
      },
    );
    r.on('error', reject);
    r.end(text);
  });
}

async function lanHost(lan: Record<string, unknown> = {}): Promise<{ port: number; h: RunningHost }> {
  home = makeHome('colony-rebind-');
  running = await startTestHost(home, {
    lan: true,
    config: testConfig({ lan: { rate_limit_read_per_min: 100_000, rate_limit_submit_per_min: 100_000, ...lan } }),
  });
  return { port: Number(new URL(running.userUrl as string).port), h: running };
}

const refusedRows = (h: { host: { store: RunningHost['host']['store'] } }, action: string): number =>
  (dbOf(h.host.store).prepare('SELECT COUNT(*) AS n FROM audit WHERE action = ?').get(action) as { n: number }).n;

describe('DNS rebinding', () => {
  it("a foreign Host can neither create a session nor submit; the host's own names and configured names can", async () => {
    const { port, h } = await lanHost({ host_names: ['colony.home.arpa'] });
    const evil = { host: `attacker.example:${port}`, origin: `http://attacker.example:${port}` };
    const s = await raw(port, 'POST', '/api/session', evil, { display_name: 'rebound' });
    expect([s.status, s.code]).toEqual([403, 'E_BAD_HOST']);
    expect((dbOf(h.host.store).prepare('SELECT COUNT(*) AS n FROM sessions').get() as { n: number }).n).toBe(0);

    // Even with a session cookie obtained legitimately, a request under a foreign name is refused (reads too).
    const legit = await raw(port, 'POST', '/api/session', { host: `127.0.0.1:${port}` }, { display_name: 'real user' });
    expect(legit.status).toBe(201);
    const cookie = legit.cookie as string;
    const submit = await raw(port, 'POST', '/api/submit-task', { ...evil, cookie }, { prompt: 'echo pwned' });
    expect([submit.status, submit.code]).toEqual([403, 'E_BAD_HOST']);
    expect((await raw(port, 'GET', '/api/status', { ...evil, cookie })).code).toBe('E_BAD_HOST');
    expect(h.host.store.listTasks()).toHaveLength(0);

    // An allowed Host with a foreign Origin (CSRF from another site): refused, the Origin is not checked against the Host.
    const csrf = await raw(
      port,
      'POST',
      '/api/submit-task',
      { host: `127.0.0.1:${port}`, origin: `http://attacker.example:${port}`, cookie },
      { prompt: 'echo pwned' },
    );
    expect([csrf.status, csrf.code]).toEqual([403, 'E_BAD_ORIGIN']);
    expect(h.host.store.listTasks()).toHaveLength(0);

    // Legitimate: loopback by address and by name, and the configured name, each with its own Origin.
    for (const name of ['127.0.0.1', 'localhost', 'colony.home.arpa']) {
      const ok = await raw(
        port,
        'POST',
        '/api/submit-task',
        { host: `${name}:${port}`, origin: `http://${name}:${port}`, cookie },
        { prompt: `echo from ${name}` },
      );
      expect(ok.status, name).toBe(201);
    }
    expect(h.host.store.listTasks()).toHaveLength(3);
  });
});

describe('the audit flood', () => {
  it('distinct 404 paths from one address and from many add a bounded number of audit rows', async () => {
    const { h } = await lanHost();
    const user = h.user as NonNullable<RunningHost['user']>;
    const before = refusedRows(h, 'lan.refused');
    const t0 = Date.now();
    for (let i = 0; i < 600; i++) {
      const r = await user.inject({ method: 'GET', url: `/probe/${i}/${Math.random().toString(36).slice(2)}`, remoteAddress: '10.1.2.3' });
      expect(r.statusCode).toBe(404);
    }
    for (let i = 0; i < 600; i++) {
      const r = await user.inject({ method: 'GET', url: `/scan/${i}`, remoteAddress: `10.9.${i >> 8}.${i & 255}` });
      expect(r.statusCode).toBe(404);
    }
    const seconds = Math.ceil((Date.now() - t0) / 1000) + 1;
    const added = refusedRows(h, 'lan.refused') - before;
    console.log(`audit flood: 1200 refused requests in ${seconds - 1}+ s → ${added} lan.refused rows`);
    expect(added).toBeGreaterThan(0);
    expect(added).toBeLessThanOrEqual(20 * seconds + 2);
    // The records say how many were not written.
    const last = h.host.store.listAudit({ action: 'lan.refused', limit: 1000 });
    expect(last.some((a) => ((a.detail as { repeats_not_recorded?: number }).repeats_not_recorded ?? 0) > 0) || added < 40).toBe(true);
    expect(h.host.store.verifyAudit().ok).toBe(true);
  });

  it('refused frames on /ws/remote-exec from an unauthenticated peer add a bounded number of audit rows', async () => {
    const { port, h } = await lanHost();
    const before = refusedRows(h, 'remote.refused');
    const t0 = Date.now();
    let sent = 0;
    for (let c = 0; c < 10; c++) {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/remote-exec`);
      await new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)));
      const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      for (let i = 0; i < 60; i++) {
        if (ws.readyState !== WebSocket.OPEN) break;
        ws.send(i % 2 ? 'not json at all' : JSON.stringify({ type: 'TASK_ACCEPTED', task_id: `x${i}`, attempt: 1, nonce: 'n', sig: 'forged' }));
        sent++;
      }
      await new Promise((r) => setTimeout(r, 50));
      ws.close();
      await closed;
    }
    const seconds = Math.ceil((Date.now() - t0) / 1000) + 1;
    const added = refusedRows(h, 'remote.refused') - before;
    console.log(`ws flood: ${sent} junk frames in ${seconds - 1}+ s → ${added} remote.refused rows`);
    expect(sent).toBeGreaterThan(100);
    expect(added).toBeGreaterThan(0);
    expect(added).toBeLessThanOrEqual(3 * seconds); // one per code (unauthenticated / invalid_message / …) per second
  });
});

describe('the access code', () => {
  it('refuses weak codes in the config with a clear message; accepts strong ones; auto makes ≥ 40 bits', () => {
    for (const weak of ['1234', 'abcd-efgh', '000000000000000', 'abababababababab', '12345678']) {
      const r = parseConfig({ lan: { access_code: weak } });
      expect(r.ok, weak).toBe(false);
      if (!r.ok) expect(r.problems.join('\n')).toMatch(/lan\.access_code: the LAN access code is too weak .*need ≥ 40/);
    }
    for (const strong of ['K7QX-M2PD-9RTA', 'correct-horse-battery', '4829-1057-3366-2'])
      expect(parseConfig({ lan: { access_code: strong } }).ok, strong).toBe(true);
    for (let i = 0; i < 50; i++) {
      const c = generateAccessCode();
      expect(accessCodeBits(c)).toBeGreaterThanOrEqual(40);
      expect(accessCodeProblem(c)).toBeNull();
    }
  });

  it('colony serve refuses a weak --lan-code, naming the problem', async () => {
    assertBuilt();
    home = makeHome('colony-weakcode-');
    const r = await runCli(['serve', '--lan', '--lan-code', '1234', '--home', home.paths.home, '--admin-port', '0', '--user-port', '0'], {
      cwd: home.workspace,
      timeoutMs: 30_000,
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toMatch(/--lan-code: the LAN access code is too weak/);
  });

  it('has a global budget for wrong codes across addresses: past it, no guess is tested, even a right one', async () => {
    uh = await startUserHost({ config: lanConfig({ code_failures_per_hour: 10 }), accessCode: 'K7QX-M2PD-9RTA' });
    const h = uh;
    const attempt = (ip: string, code: string) =>
      h.user.inject({ method: 'POST', url: '/api/session', remoteAddress: ip, payload: { display_name: 'guess', code } });
    for (let i = 0; i < 10; i++) {
      const r = await attempt(`10.7.0.${i + 1}`, `WRONG-CODE-${i}`);
      expect((r.json() as { code: string }).code).toBe('E_ACCESS_CODE');
    }
    // An 11th address, never seen before: the budget is shared.
    const blocked = await attempt('10.7.1.1', 'WRONG-CODE-X');
    expect([blocked.statusCode, (blocked.json() as { code: string }).code]).toEqual([429, 'E_RATE_LIMITED']);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    const right = await attempt('10.7.1.2', 'k7qx m2pd 9rta');
    expect(right.statusCode).toBe(429);
    // A session admitted before keeps working (the budget only gates code entry).
    expect((await h.user.inject({ method: 'GET', url: '/healthz', remoteAddress: '10.7.1.3' })).statusCode).toBe(200);
  });
});
