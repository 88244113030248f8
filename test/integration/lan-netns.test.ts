/**
 * LAN users on real separate hosts: two network namespaces (lan-a, lan-b)
 * joined to this machine by a bridge, the real host (`startHost`, --lan on
 * the bridge address) and HTTP/SSE/WebSocket clients running INSIDE the
 * namespaces. Assertions are on the bytes the clients received.
 *
 * Creating the namespaces needs root; without it createNetns throws and these
 * tests fail (never skip). Namespaces are always destroyed.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHost } from '../../src/server/host-server.js';
import { adminApi, makeHome, portOf, type TestHome } from '../helpers/admin-host.js';
import { startBridgeHost } from '../helpers/bridge-host.js';
import { dataOf, eventOf, lanUser, load, median, runIn, waitForLine, watch, type LanUser, type Line, type Watcher } from '../helpers/lan-user.js';
import { createNetns, type NetnsHandle, type NetnsNamespace } from '../helpers/netns.js';
import { waitFor } from '../helpers/proc.js';

const MARK = `LANSECRET${randomBytes(6).toString('hex')}`;
let net: NetnsHandle;
let nsA: NetnsNamespace;
let nsB: NetnsNamespace;

beforeAll(async () => {
  net = await createNetns({ count: 2 }); // throws without root: the suite fails, it is never skipped
  [nsA, nsB] = net.namespaces as [NetnsNamespace, NetnsNamespace];
}, 60_000);

afterAll(async () => {
  await net?.destroy();
});

function serve(home: TestHome, lan: Record<string, unknown>, lanCode: string | null = null): Promise<{ h: RunningHost; base: string }> {
  return startBridgeHost(net, home, { lan: { host_workspace: home.workspace, ...lan }, insecureHttp: true, lanCode });
}

describe('LAN users across network namespaces', () => {
  const home = makeHome('colony-lan-');
  let h: RunningHost;
  let base: string;
  let a: LanUser;
  let b: LanUser;
  let taskId = '';

  beforeAll(async () => {
    ({ h, base } = await serve(home, { rate_limit_read_per_min: 100_000, rate_limit_submit_per_min: 10 }));
    expect(base).toBe(`http://${net.hostIp}:${(h.user?.server.address() as { port: number }).port}`);
  }, 30_000);

  afterAll(async () => {
    try {
      await h?.close(500);
    } finally {
      home.cleanup();
    }
  });

  it('gives each namespace its own session, origin_ip from the socket even with X-Forwarded-For: 127.0.0.1', async () => {
    const sa = await lanUser(net, nsA, base, 'Ada on lan-a');
    const sb = await lanUser(net, nsB, base, 'Bob on lan-b');
    expect(sa.session).toMatchObject({ origin_ip: nsA.ip, is_local: false });
    expect(sb.session).toMatchObject({ origin_ip: nsB.ip, is_local: false });
    expect(sa.userId).not.toBe(sb.userId);
    a = sa;
    b = sb;
    const again = await a.run([{ kind: 'http', url: `${base}/api/session` }]);
    expect(again.lines[0]).toMatchObject({ status: 200, json: { session: { user_id: a.userId, origin_ip: nsA.ip } } });
  });

  it('holds a task for the host in awaiting_approval, runs it only after the admin approves; lan-b never sees its text by any route or stream', async () => {
    const streams: Record<string, Watcher> = {
      bSse: watch(net, b, { kind: 'sse', url: `${base}/events`, count: 100_000, timeoutMs: 60_000 }),
      bWs: watch(net, b, { kind: 'ws', url: `${base.replace('http', 'ws')}/ws/progress`, receive: 100_000, timeoutMs: 60_000 }),
      aSse: watch(net, a, { kind: 'sse', url: `${base}/events`, count: 100_000, timeoutMs: 60_000 }),
    };
    try {
      for (const [name, w] of Object.entries(streams)) await waitForLine(w, `${name} to connect`, (l) => l['kind'] === 'sse-open' || l['kind'] === 'ws-open');
      const file = join(home.workspace, 'approved.txt');
      const prompt = `echo ${MARK}; sleep 2; echo done > approved.txt`;
      const sub = await a.run([{ kind: 'http', method: 'POST', url: `${base}/api/submit-task`, body: { prompt, engine: 'exec', target: 'host' } }]);
      expect(sub.lines[0]).toMatchObject({ status: 201 });
      taskId = String((sub.lines[0]?.['json'] as { id: string }).id);
      const url = `${base}/api/tasks/${encodeURIComponent(taskId)}`;

      await new Promise((r) => setTimeout(r, 1500)); // time enough to have run, were it not held
      expect(existsSync(file)).toBe(false);
      expect((await a.run([{ kind: 'http', url }])).lines[0]).toMatchObject({ status: 200, json: { task: { state: 'awaiting_approval' } } });

      const api = adminApi(portOf(h), h.ctx.adminToken);
      expect((await api('POST', `/admin/approve/${encodeURIComponent(taskId)}`)).status).toBe(200);
      await waitFor(() => h.host.store.getTask(taskId)?.state === 'running', 'the approved task to start', 10_000);

      // while it runs: the worker card, the task, my-sessions, each as lan-b and as lan-a
      const reads = [
        { kind: 'http', url: `${base}/api/workers` },
        { kind: 'http', url },
        { kind: 'http', url: `${base}/api/my-sessions` },
      ];
      const asB = await b.run(reads);
      const asA = await a.run(reads);
      expect(asB.raw).not.toContain(MARK);
      expect(asB.lines.map((l) => l['status'])).toEqual([200, 404, 200]);
      const busy = (asB.lines[0]?.['json'] as { workers: Line[] }).workers.find((w) => w['status'] === 'running');
      expect(busy).toMatchObject({ engine: 'exec', task_title: null, owner: 'other', redacted: true });
      expect(asA.lines.map((l) => l['status'])).toEqual([200, 200, 200]);
      expect(asA.raw).toContain(MARK);

      await waitFor(() => existsSync(file) && h.host.store.getTask(taskId)?.state === 'succeeded', 'the task to finish and write its file', 15_000);
      await api('POST', '/admin/pause');
      await api('POST', '/admin/resume');
      for (const [name, w] of Object.entries(streams))
        await waitForLine(w, `${name} to see the end mark`, (l) => eventOf(l) === 'killswitch' && dataOf(l)?.['state'] === 'running');
    } finally {
      for (const w of Object.values(streams)) await w.stop();
    }
    for (const name of ['bSse', 'bWs'] as const) {
      const w = streams[name] as Watcher;
      expect(w.raw(), name).not.toContain(MARK);
      expect(
        w.lines().some((l) => eventOf(l) === 'task.output'),
        name,
      ).toBe(false);
      const states = w
        .lines()
        .filter((l) => eventOf(l) === 'task.state')
        .map(dataOf);
      expect(
        states.map((d) => d?.['to']),
        name,
      ).toEqual(expect.arrayContaining(['running', 'succeeded']));
      expect(
        states.every((d) => d?.['redacted'] === true && String(d['task_id']).startsWith('x-')),
        name,
      ).toBe(true);
    }
    expect(streams.aSse?.raw()).toContain(MARK);
    expect(streams.aSse?.lines().some((l) => eventOf(l) === 'task.output' && String(dataOf(l)?.['text']).includes(MARK))).toBe(true);
  }, 60_000);

  it("replays history to lan-b (SSE Last-Event-ID, WS ?lastEventId=0) without lan-a's text", async () => {
    const last = h.host.store.lastEventId();
    const r = await b.run([{ kind: 'sse', url: `${base}/events`, headers: { 'last-event-id': '0' }, count: 100_000, timeoutMs: 3000 }]);
    const w = await b.run([{ kind: 'ws', url: `${base.replace('http', 'ws')}/ws/progress?lastEventId=0`, receive: 100_000, timeoutMs: 3000 }]);
    for (const got of [r, w]) {
      expect(got.lines.some((l) => Number(l['id'] ?? (l['json'] as { id?: number } | undefined)?.id) === last)).toBe(true);
      expect(got.raw).not.toContain(MARK);
    }
  });

  it('cannot reach the admin app from either namespace (connection refused); /admin/* on the user port is 404', async () => {
    const adminPort = portOf(h);
    for (const u of [a, b]) {
      for (const host of [net.hostIp, '127.0.0.1']) {
        const r = await u.run([{ kind: 'http', url: `http://${host}:${adminPort}/admin/sessions`, timeoutMs: 3000 }]);
        expect(r.lines[0], `${u.ns.name} → ${host}`).toMatchObject({ kind: 'error', code: 'ECONNREFUSED' });
      }
      const steps = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].flatMap(
        (method) =>
          ['/admin/sessions', '/admin/kill', `/admin/approve/${encodeURIComponent(taskId)}`].map((p) => ({
            kind: 'http',
            method,
            url: `${base}${p}`,
            headers: { authorization: `Bearer ${h.ctx.adminToken}` },
            ...(method === 'GET' || method === 'DELETE' ? {} : { body: {} }),
          })), // node sends a DELETE body unframed
      );
      const r = await u.run(steps);
      expect(r.lines.map((l, i) => `${steps[i]?.method} ${steps[i]?.url} ${String(l['status'])} ${String(l['code'] ?? '')}`)).toEqual(
        steps.map((s) => `${s.method} ${s.url} 404 `),
      );
    }
    expect(h.host.killswitch.state()).toBe('running');
  });

  it("answers lan-a's flood of submissions with 429 + Retry-After while lan-b is still served at its usual latency", async () => {
    const read = { url: `${base}/api/status`, count: 40 };
    const baseline = await load(net, b, read);
    expect(baseline.statuses).toEqual({ 200: 40 });
    const [flood, during] = await Promise.all([
      load(net, a, { url: `${base}/api/submit-task`, method: 'POST', body: { prompt: 'true' }, count: 400, concurrency: 16 }),
      new Promise((r) => setTimeout(r, 150)).then(() => load(net, b, read)),
    ]);
    expect(flood.statuses['429'] ?? 0).toBeGreaterThanOrEqual(380);
    expect(flood.codes['E_RATE_LIMITED']).toBe(flood.statuses['429']);
    expect(Number(flood.retry_after[0])).toBeGreaterThan(0);
    expect(during.statuses).toEqual({ 200: 40 });
    expect(during.errors).toEqual([]);
    const [mb, md] = [median(baseline.latencies_ms), median(during.latencies_ms)];
    expect(md, `lan-b median ${md} ms during the flood vs ${mb} ms before`).toBeLessThan(mb * 25 + 500); // generous: flooder, clients and host share this machine's cores
    const own = await b.run([{ kind: 'http', method: 'POST', url: `${base}/api/submit-task`, body: { prompt: 'true' } }]);
    expect(own.lines[0]).toMatchObject({ status: 201 });
    expect(h.host.store.listAudit({ action: 'lan.refused', actor: `session:${a.userId}`, limit: 1000 }).some((r) => r.origin === nsA.ip)).toBe(true);
  }, 60_000);
});

describe('access code and address allow-list across namespaces', () => {
  const home = makeHome('colony-lancode-');
  let h: RunningHost;
  let base: string;

  beforeAll(async () => {
    ({ h, base } = await serve(
      home,
      { allow_cidrs: [`${nsA.ip}/32`, '127.0.0.0/8'], rate_limit_read_per_min: 100_000, rate_limit_submit_per_min: 100 },
      'LAN-TEST-CODE',
    ));
  }, 30_000);

  afterAll(async () => {
    try {
      await h?.close(500);
    } finally {
      home.cleanup();
    }
  });

  it('refuses an address outside the allow-list with 403 on every path, upgrades included', async () => {
    const r = await runIn(net, nsB, [
      { kind: 'http', url: `${base}/dashboard` },
      { kind: 'http', url: `${base}/healthz` },
      { kind: 'http', method: 'POST', url: `${base}/api/session`, body: { display_name: 'Bob', code: 'LAN-TEST-CODE' } },
      { kind: 'ws', url: `${base.replace('http', 'ws')}/ws/progress` },
    ]);
    expect(r.lines.map((l) => [l['kind'], l['status'], (l['json'] as { code?: string } | undefined)?.code])).toEqual([
      ['http', 403, 'E_IP_DENIED'],
      ['http', 403, 'E_IP_DENIED'],
      ['http', 403, 'E_IP_DENIED'],
      ['ws-rejected', 403, 'E_IP_DENIED'],
    ]);
    expect(h.host.store.listAudit({ action: 'lan.refused', limit: 10 }).every((x) => x.origin === nsB.ip)).toBe(true);
  });

  it('serves only the code page (and 401 E_ACCESS_CODE) without the code, everything with it', async () => {
    const without = await runIn(net, nsA, [
      { kind: 'http', url: `${base}/dashboard` },
      { kind: 'http', url: `${base}/api/status` },
      { kind: 'http', method: 'POST', url: `${base}/api/session`, body: { display_name: 'Ada' } },
      { kind: 'http', method: 'POST', url: `${base}/api/session`, body: { display_name: 'Ada', code: 'WRONG-CODE' } },
    ]);
    expect(without.lines[0]).toMatchObject({ status: 200 });
    expect(String(without.lines[0]?.['body'])).toMatch(/access code/i);
    expect(String(without.lines[0]?.['body'])).not.toMatch(/colony user/);
    expect(without.lines.slice(1).map((l) => [l['status'], (l['json'] as { code?: string }).code])).toEqual([
      [401, 'E_ACCESS_CODE'],
      [401, 'E_ACCESS_CODE'],
      [401, 'E_ACCESS_CODE'],
    ]);
    const ada = await lanUser(net, nsA, base, 'Ada', { code: 'lan-test-code' });
    const withCode = await ada.run([
      { kind: 'http', url: `${base}/api/status` },
      { kind: 'http', url: `${base}/dashboard` },
    ]);
    expect(withCode.lines[0]).toMatchObject({ status: 200, json: { ok: true } });
    expect(String(withCode.lines[1]?.['body'])).toMatch(/colony user/);
  });
});
