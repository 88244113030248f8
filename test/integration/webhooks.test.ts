/**
 * Webhooks end to end (issue 18): a real host sends to a receiver on
 * 127.0.0.1 that checks the HMAC signature and its timestamp, fails the first
 * deliveries (retried with backoff, each attempt audited), gets Slack's
 * format on a Slack hook, and receives after a restart what was queued
 * before it (the outbox is durable). From the attacker's side: a tampered
 * body, a wrong secret or a replayed old timestamp do not verify.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhook, SIGNATURE_HEADER } from '../../src/core/webhook.js';
import type { RunningHost } from '../../src/server/host-server.js';
import { adminApi, makeHome, portOf, startTestHost, testConfig, type TestHome } from '../helpers/admin-host.js';
import { waitFor } from '../helpers/proc.js';

const SECRET = 'whsec-0123456789abcdef-test';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

interface Receiver {
  url: string;
  got: Received[];
  failNext: number; // answer 500 to this many requests first
  close(): Promise<void>;
}

async function startReceiver(port = 0): Promise<Receiver> {
  const r: Receiver = { url: '', got: [], failNext: 0, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      r.got.push({ path: req.url ?? '', headers: req.headers, body, at: Date.now() });
      if (r.failNext > 0) {
        r.failNext--;
        res.writeHead(500).end('not now');
        return;
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  r.close = () => new Promise<void>((ok) => server.close(() => ok()));
  return r;
}

const home: TestHome = makeHome('colony-hooks-');
let rx: Receiver;
let h: RunningHost;

function config(url: string, extra: Record<string, unknown> = {}): ReturnType<typeof testConfig> {
  return testConfig({
    notifications: {
      webhooks: [
        { name: 'ci', url: `${url}/json`, secret: SECRET, events: ['task.failed', 'graph.finished'] },
        { name: 'chat', url: `${url}/slack`, format: 'slack', events: ['graph.finished'] },
      ],
      retry_base_ms: 40,
      retry_cap_ms: 200,
      max_attempts: 4,
      ...extra,
    },
  });
}

beforeAll(async () => {
  rx = await startReceiver();
  h = await startTestHost(home, { config: config(rx.url) });
});

afterAll(async () => {
  await h?.close();
  await rx?.close();
  home.cleanup();
});

const api = (): ReturnType<typeof adminApi> => adminApi(portOf(h), h.ctx.adminToken);
const deliveries = (hook: string): Record<string, unknown>[] =>
  h.host.store
    .listAudit({ action: 'webhook.delivery', limit: 1000 })
    .filter((r) => r.target === hook)
    .map((r) => r.detail as Record<string, unknown>)
    .reverse(); // listAudit is newest first

describe('webhooks', () => {
  it('a failed task and its finished graph reach the JSON hook signed, after two refused attempts, every attempt audited', async () => {
    rx.failNext = 2;
    const r = await api()('POST', '/admin/execute', {
      graph: { name: 'hooked', tasks: [{ id: 'boom', prompt: 'exit 3', engine: 'exec', workspace: home.workspace }] },
    });
    expect(r.status, r.body).toBe(201);
    const graphId = r.json['graph_id'] as string;
    const ok = await waitFor(() => {
      const json = rx.got.filter((g) => g.path === '/json');
      const events = json.map((g) => (JSON.parse(g.body) as { event: string }).event);
      return events.filter((e) => e === 'task.failed').length >= 1 && events.includes('graph.finished') && json.length >= 4 ? json : null;
    }, 'deliveries to the JSON hook');
    for (const g of ok) {
      const sig = String(g.headers[SIGNATURE_HEADER]);
      expect(verifyWebhook(SECRET, g.body, sig, Math.floor(Date.now() / 1000)), sig).toBe(true);
      expect(g.headers['x-colony-delivery']).toMatch(/^\d+$/);
    }
    const failed = ok.map((g) => JSON.parse(g.body) as Record<string, unknown>).find((b) => b['event'] === 'task.failed');
    expect(failed).toMatchObject({ event: 'task.failed', task_id: `${graphId}:boom`, graph_id: graphId, owner: 'admin', title: 'Task failed' });
    // The same delivery id was refused twice, then delivered: three audited attempts.
    const first = ok[0] as Received;
    const id = Number(first.headers['x-colony-delivery']);
    const same = ok.filter((g) => Number(g.headers['x-colony-delivery']) === id);
    expect(same.length).toBe(3);
    expect(same[1]!.at - same[0]!.at).toBeGreaterThanOrEqual(35); // backoff: 40 ms, then 80 ms
    expect(same[2]!.at - same[1]!.at).toBeGreaterThanOrEqual(75);
    const audited = deliveries('ci').filter((d) => d['delivery_id'] === id);
    expect(audited.map((d) => [d['attempt'], d['state'], d['status']])).toEqual([
      [1, 'pending', 500],
      [2, 'pending', 500],
      [3, 'delivered', 204],
    ]);
  });

  it("the Slack hook gets Slack's incoming-webhook body, unsigned, and only the events it asked for", async () => {
    const slack = await waitFor(() => rx.got.find((g) => g.path === '/slack'), 'a Slack delivery');
    const body = JSON.parse(slack.body) as { text: string; blocks: { type: string; text: { type: string; text: string } }[] };
    expect(body.text).toMatch(/^Graph finished with failures: hooked: 0\/1 succeeded, 1 failed$/);
    expect(body.blocks[0]).toMatchObject({ type: 'section', text: { type: 'mrkdwn' } });
    expect(slack.headers[SIGNATURE_HEADER]).toBeUndefined();
    expect(rx.got.filter((g) => g.path === '/slack').every((g) => (JSON.parse(g.body) as { text: string }).text.startsWith('Graph finished'))).toBe(true);
  });

  it('gives up after max_attempts and says so in the audit log', async () => {
    rx.failNext = 100;
    const r = await api()('POST', '/admin/notifications/test', { hook: 'ci' });
    expect(r.status, r.body).toBe(200);
    const id = (r.json['delivery'] as { id: number }).id;
    const trail = await waitFor(() => {
      const d = deliveries('ci').filter((x) => x['delivery_id'] === id);
      return d.some((x) => x['state'] === 'failed') ? d : null;
    }, 'the delivery to fail for good');
    expect(trail.map((d) => d['attempt'])).toEqual([1, 2, 3, 4]);
    expect(trail.at(-1)?.['error']).toBe('E_WEBHOOK: answered 500');
    rx.failNext = 0;
  });

  it('send test: delivered at once and reported; an unknown hook is E_NOT_FOUND; no URL or secret in the listing', async () => {
    const r = await api()('POST', '/admin/notifications/test', { hook: 'chat' });
    expect(r.json['delivery']).toMatchObject({ hook: 'chat', state: 'delivered', attempts: 1, last_status: 204 });
    const bad = await api()('POST', '/admin/notifications/test', { hook: 'nope' });
    expect([bad.status, bad.json['code']]).toEqual([404, 'E_NOT_FOUND']);
    const list = await api()('GET', '/admin/notifications');
    expect(list.body).not.toContain(SECRET);
    expect(list.body).not.toContain('/json');
    expect(list.json['webhooks']).toEqual([
      { name: 'ci', format: 'json', events: ['task.failed', 'graph.finished'], host: new URL(rx.url).host, signed: true },
      { name: 'chat', format: 'slack', events: ['graph.finished'], host: new URL(rx.url).host, signed: false },
    ]);
  });

  it('a delivery queued while the receiver is down is sent by the host started after a restart', async () => {
    const port = Number(new URL(rx.url).port);
    await rx.close();
    await h.close();
    h = await startTestHost(home, { config: config(rx.url, { retry_base_ms: 1500, retry_cap_ms: 1500 }) });
    const r = await api()('POST', '/admin/notifications/test', { hook: 'ci' });
    expect(r.json['delivery']).toMatchObject({ state: 'pending', attempts: 1, last_status: null });
    expect(String((r.json['delivery'] as { last_error: string }).last_error)).toMatch(/^E_WEBHOOK: /);
    const id = (r.json['delivery'] as { id: number }).id;
    await h.close(); // before the retry is due: only the outbox row remembers it
    rx = await startReceiver(port);
    h = await startTestHost(home, { config: config(rx.url) });
    const got = await waitFor(() => rx.got.find((g) => Number(g.headers['x-colony-delivery']) === id), 'the queued delivery after the restart');
    expect(verifyWebhook(SECRET, got.body, String(got.headers[SIGNATURE_HEADER]), Math.floor(Date.now() / 1000))).toBe(true);
    await waitFor(() => h.host.notifier.outbox.get(id)?.state === 'delivered', 'the row marked delivered');
    expect(
      deliveries('ci')
        .filter((d) => d['delivery_id'] === id)
        .map((d) => [d['attempt'], d['state']]),
    ).toEqual([
      [1, 'pending'],
      [2, 'delivered'],
    ]);
  });
});

describe('signature checks from the attacker side', () => {
  const now = 1_800_000_000;
  const body = '{"event":"task.failed"}';
  const good = signWebhook(SECRET, body, now);
  it('verifies the genuine one', () => expect(verifyWebhook(SECRET, body, good, now)).toBe(true));
  it('refuses a tampered body', () => expect(verifyWebhook(SECRET, body.replace('failed', 'ok'), good, now)).toBe(false));
  it('refuses a signature made with another secret', () =>
    expect(verifyWebhook(SECRET, body, signWebhook('another-secret-0123456', body, now), now)).toBe(false));
  it('refuses a replay older than the tolerance', () => expect(verifyWebhook(SECRET, body, good, now + 301)).toBe(false));
  it('refuses a timestamp moved forward (the MAC covers it)', () =>
    expect(verifyWebhook(SECRET, body, good.replace(`t=${now}`, `t=${now + 400}`), now + 400)).toBe(false));
});
