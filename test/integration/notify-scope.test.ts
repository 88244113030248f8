/**
 * Browser notifications reach only the people they concern (issue 18): the
 * `notify` events ride the LAN live stream, whose per-viewer rules drop
 * another user's unknown kinds (core/redact.ts). Ada's held task and its
 * rejection notify Ada (approval needed, graph finished) with her task's text;
 * Bob, on the same host, receives neither the events nor the text, and no
 * webhook URL or secret reaches either browser. LAN users have no route to
 * the admin's notification or budget endpoints.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/proc.js';
import { adminCall, lanConfig, type Lan, type UserHost } from '../helpers/user-host.js';
import { startListeningPair, stopUserHost } from '../helpers/user-host-pair.js';
import { testConfig } from '../helpers/admin-host.js';

const SECRET = 'MARKER-notify-5c2f91';
const HOOK_SECRET = 'hook-secret-never-in-a-browser';
let h: UserHost;
let port: number;
let a: Lan;
let b: Lan;

function sse(cookie: string): { raw: () => string; close: () => void } {
  let raw = '';
  const req = httpRequest({ host: '127.0.0.1', port, path: '/events', headers: { cookie, accept: 'text/event-stream' }, agent: false }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (d: string) => (raw += d));
  });
  req.on('error', () => undefined);
  req.end();
  return { raw: () => raw, close: () => req.destroy() };
}

const notifies = (raw: string): Record<string, unknown>[] =>
  raw
    .split('\n\n')
    .filter((block) => block.includes('event: notify\n'))
    .map(
      (block) =>
        JSON.parse(
          block
            .split('\n')
            .find((l) => l.startsWith('data: '))
            ?.slice(6) ?? '{}',
        ) as Record<string, unknown>,
    );

beforeAll(async () => {
  const base = lanConfig();
  ({ h, port, a, b } = await startListeningPair({
    config: testConfig({
      lan: base.lan,
      budget: { per_user_usd: 2 },
      notifications: { webhooks: [{ name: 'ops', url: 'http://127.0.0.1:9/hook', secret: HOOK_SECRET }] },
    }),
  }));
});

afterAll(() => stopUserHost(h));

describe('notify events on the LAN live stream', () => {
  it("notify Ada of her own task's approval and finished graph; Bob gets neither, nor her text", async () => {
    const sa = sse(a.cookie);
    const sb = sse(b.cookie);
    await new Promise((r) => setTimeout(r, 150));
    const r = await a.call('POST', '/api/submit-task', { prompt: `echo ${SECRET}`, engine: 'exec', target: 'host' });
    expect(r.statusCode, r.body).toBe(201);
    const id = (r.json() as { id: string }).id;
    await waitFor(() => notifies(sa.raw()).some((n) => n['event'] === 'approval.needed'), 'Ada to hear of the approval', 5000);
    const rej = await adminCall(h, 'POST', `/admin/reject/${encodeURIComponent(id)}`);
    expect(rej.statusCode, rej.body).toBe(200);
    await waitFor(() => notifies(sa.raw()).some((n) => n['event'] === 'graph.finished'), 'Ada to hear the graph finished', 5000);
    // An end mark both streams see, so Bob's stream has caught up when we look at it.
    h.host.killswitch.pause({ actor: 'admin', origin: 'test' });
    h.host.killswitch.resume({ actor: 'admin', origin: 'test' });
    await waitFor(() => (sb.raw().match(/event: killswitch/g) ?? []).length >= 2, 'Bob to see the end mark', 5000);

    const mine = notifies(sa.raw());
    expect(mine.find((n) => n['event'] === 'approval.needed')).toMatchObject({ owner: `session:${a.userId}`, task_id: id, body: `echo ${SECRET}` });
    expect(sa.raw()).not.toContain(HOOK_SECRET);
    expect(notifies(sb.raw())).toEqual([]);
    expect(sb.raw()).not.toContain(SECRET);
    expect(sb.raw()).not.toContain(HOOK_SECRET);
    sa.close();
    sb.close();
  });

  it('a LAN user has no route to send a test webhook, list hooks or change a budget', async () => {
    for (const [method, url, body] of [
      ['POST', '/admin/notifications/test', { hook: 'ops' }],
      ['GET', '/admin/notifications', undefined],
      ['POST', '/admin/budgets', { scope: 'user', key: `session:${a.userId}`, budget_usd: 100 }],
      ['POST', '/admin/budgets/resume', { scope: 'user', key: `session:${a.userId}` }],
    ] as const) {
      const res = await a.call(method, url, body);
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.body).not.toContain(HOOK_SECRET);
    }
    expect(h.host.notifier.outbox.recent(50).filter((d) => d.event === 'test')).toEqual([]); // no test was sent on Ada's behalf
  });

  it("a LAN user's budget is budget.per_user_usd unless the admin sets another", async () => {
    const r = await adminCall(h, 'GET', '/admin/budgets');
    const users = (r.json() as { users: { key: string; budget_usd: number | null; level: string; paused: boolean }[] }).users;
    expect(users.find((u) => u.key === `session:${a.userId}`)).toMatchObject({ budget_usd: 2, level: 'ok', paused: false });
  });
});
