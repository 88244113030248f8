/**
 * The admin app over real sockets (startHost on port 0, temp COLONY_HOME):
 * the SSE stream and WebSocket upgrades are refused for a foreign Origin (a
 * page on another site, or the LAN app's own origin) before any route runs;
 * with the right Origin the stream flows; `Last-Event-ID` resumes with exactly
 * the missed events; and shutdown is not held up by an open stream.
 */
import { request as httpRequest, type ClientRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { RunningHost } from '../../src/server/host-server.js';
import { makeHome, rawRequest, refusalProblems, startTestHost, type TestHome } from '../helpers/admin-host.js';
import { waitFor } from '../helpers/proc.js';

interface SseEvent {
  id: number;
  event: string;
  data: Record<string, unknown>;
}

/** A minimal EventSource over node:http: status, parsed events, and hang-up. */
class SseClient {
  status = 0;
  contentType = '';
  events: SseEvent[] = [];
  ended = false;
  private buf = '';
  private req: ClientRequest | null = null;

  static open(port: number, headers: Record<string, string>, path = '/events'): Promise<SseClient> {
    const c = new SseClient();
    return new Promise((resolve, reject) => {
      c.req = httpRequest({ host: '127.0.0.1', port, path, headers }, (res) => {
        c.status = res.statusCode ?? 0;
        c.contentType = String(res.headers['content-type']);
        res.setEncoding('utf8');
        res.on('data', (d: string) => c.feed(d));
        res.on('end', () => (c.ended = true));
        res.on('error', () => (c.ended = true));
        resolve(c);
      });
      c.req.on('error', (e) => (c.status === 0 ? reject(e) : (c.ended = true)));
      c.req.end();
    });
  }

  private feed(text: string): void {
    this.buf += text;
    for (let i = this.buf.indexOf('\n\n'); i >= 0; i = this.buf.indexOf('\n\n')) {
      const block = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      const field = (name: string): string | undefined =>
        block
          .split('\n')
          .find((l) => l.startsWith(`${name}: `))
          ?.slice(name.length + 2);
      const id = field('id');
      const data = field('data');
      if (id !== undefined && data !== undefined)
        this.events.push({ id: Number(id), event: field('event') ?? 'message', data: JSON.parse(data) as Record<string, unknown> });
    }
  }

  ids(): number[] {
    return this.events.map((e) => e.id);
  }

  close(): void {
    this.req?.destroy();
  }
}

/** Resolves with the HTTP status of a refused WebSocket upgrade (or 101 if it was accepted). */
function wsUpgradeStatus(url: string, o: { origin?: string; headers?: Record<string, string> }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { origin: o.origin, headers: o.headers, handshakeTimeout: 5000 });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('open', () => {
      ws.close();
      resolve({ status: 101, body: '' });
    });
    ws.on('error', (e) => {
      if (!/Unexpected server response/.test(e.message)) reject(e);
    });
  });
}

const home: TestHome = makeHome('colony-realsock-');
let h: RunningHost;
let port: number;
let userPort: number;
let token: string;
let cookie: string;
const open: SseClient[] = [];

const sse = async (headers: Record<string, string>, path?: string): Promise<SseClient> => {
  const c = await SseClient.open(port, headers, path);
  open.push(c);
  return c;
};

function submit(prompts: string[]): Promise<{ graph_id: string; task_ids: string[] }> {
  const body = JSON.stringify({
    graph: { name: 'sse', tasks: prompts.map((p, i) => ({ id: `t${i}`, prompt: p, engine: 'exec', workspace: home.workspace })) },
  });
  return rawRequest(port, {
    method: 'POST',
    path: '/admin/execute',
    headers: { host: `127.0.0.1:${port}`, authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body,
  }).then((r) => {
    if (r.status !== 201) throw new Error(`submit: ${r.status} ${r.body}`);
    return JSON.parse(r.body) as { graph_id: string; task_ids: string[] };
  });
}

const allDone = (ids: string[]): boolean => ids.every((id) => ['succeeded', 'failed', 'cancelled'].includes(h.host.store.getTask(id)?.state ?? ''));

beforeAll(async () => {
  h = await startTestHost(home, { lan: true });
  port = Number(new URL(h.adminUrl).port);
  userPort = (h.user?.server.address() as { port: number }).port;
  token = h.ctx.adminToken;
  const r = await rawRequest(port, { path: `/?token=${token}`, headers: { host: `127.0.0.1:${port}` } });
  expect(r.status).toBe(303);
  cookie = String(r.headers['set-cookie']?.[0] ?? '').split(';')[0] ?? '';
});

afterAll(async () => {
  for (const c of open) c.close();
  await h.close();
  home.cleanup();
});

describe('SSE GET /events over a real socket', () => {
  it('is refused 403 E_BAD_ORIGIN for a foreign Origin, with the cookie or the bearer token', async () => {
    for (const origin of ['https://evil.example', `http://127.0.0.1:${userPort}`, `http://localhost:${userPort}`, 'null']) {
      for (const cred of [{ cookie }, { authorization: `Bearer ${token}` }] as Record<string, string>[]) {
        const r = await rawRequest(port, { path: '/events', headers: { host: `127.0.0.1:${port}`, origin, accept: 'text/event-stream', ...cred } });
        expect(refusalProblems(r.status, r.headers['content-type'], r.body, { status: 403, code: 'E_BAD_ORIGIN' }), origin).toEqual([]);
      }
    }
  });

  it('is refused 403 E_BAD_HOST for a DNS-rebinding Host and 401 without credentials', async () => {
    const r1 = await rawRequest(port, { path: '/events', headers: { host: `evil.example:${port}`, cookie } });
    expect(refusalProblems(r1.status, r1.headers['content-type'], r1.body, { status: 403, code: 'E_BAD_HOST' })).toEqual([]);
    const r2 = await rawRequest(port, { path: '/events', headers: { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` } });
    expect(refusalProblems(r2.status, r2.headers['content-type'], r2.body, { status: 401, code: 'E_UNAUTHORIZED' })).toEqual([]);
  });

  it("streams live events with this app's Origin and the cookie", async () => {
    const c = await sse({ host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}`, cookie, accept: 'text/event-stream' });
    expect(c.status).toBe(200);
    expect(c.contentType).toMatch(/^text\/event-stream/);
    const { task_ids } = await submit(['echo streamed']);
    const id = task_ids[0] as string;
    await waitFor(
      () => c.events.some((e) => e.event === 'task.state' && e.data['task_id'] === id && e.data['to'] === 'succeeded'),
      'the task to succeed on the stream',
    );
    c.close();
  });
});

describe('WebSocket upgrades to the admin app', () => {
  it('refuses a foreign Origin with 403 before any route runs, even with the cookie', async () => {
    for (const path of ['/events', '/ws/progress', '/admin/ws', '/no-such-route']) {
      for (const origin of ['https://evil.example', `http://127.0.0.1:${userPort}`]) {
        const r = await wsUpgradeStatus(`ws://127.0.0.1:${port}${path}`, { origin, headers: { cookie } });
        expect(r.status, `${path} from ${origin}`).toBe(403);
        expect(JSON.parse(r.body)).toMatchObject({ code: 'E_BAD_ORIGIN' });
      }
    }
  });

  it('refuses a cookie-authenticated upgrade that carries no Origin, and one with a rebinding Host', async () => {
    const noOrigin = await wsUpgradeStatus(`ws://127.0.0.1:${port}/events`, { headers: { cookie } });
    expect(noOrigin.status).toBe(403);
    expect(JSON.parse(noOrigin.body)).toMatchObject({ code: 'E_BAD_ORIGIN' });
    const rebinding = await wsUpgradeStatus(`ws://127.0.0.1:${port}/events`, {
      origin: `http://evil.example:${port}`,
      headers: { cookie, host: `evil.example:${port}` },
    });
    expect(rebinding.status).toBe(403);
    expect(JSON.parse(rebinding.body)).toMatchObject({ code: 'E_BAD_HOST' });
  });

  it('refuses an upgrade with the right Origin but no credentials (401)', async () => {
    const r = await wsUpgradeStatus(`ws://127.0.0.1:${port}/events`, { origin: `http://127.0.0.1:${port}` });
    expect(r.status).toBe(401);
  });
});

describe('SSE resume with Last-Event-ID', () => {
  it('delivers exactly the events missed while disconnected: no gap, no duplicate', async () => {
    const headers = { host: `127.0.0.1:${port}`, authorization: `Bearer ${token}` };
    const before = h.host.store.lastEventId();
    const first = await sse(headers);
    // Tasks that keep producing events after we hang up.
    const a = await submit(['echo a1; sleep 0.3; echo a2', 'echo b1; sleep 0.6; echo b2', 'echo c']);
    await waitFor(() => first.events.length >= 3, 'a few events on the first connection');
    first.close();
    const seen = first.ids();
    const last = seen[seen.length - 1] as number;
    // The first connection saw a contiguous run of the live tail, nothing older.
    expect(seen[0]).toBeGreaterThan(before);
    expect(seen).toEqual(
      h.host.store
        .eventsSince((seen[0] as number) - 1, 10_000)
        .map((e) => e.id)
        .filter((id) => id <= last),
    );

    // More happens while nobody listens.
    const b = await submit(['echo d', 'echo e']);
    await waitFor(() => allDone([...a.task_ids, ...b.task_ids]) && h.host.pool.busy() === 0, 'every task to end', 20_000);
    const missed = h.host.store.eventsSince(last, 10_000).map((e) => e.id);
    expect(missed.length).toBeGreaterThan(5);

    const second = await sse({ ...headers, 'last-event-id': String(last) });
    expect(second.status).toBe(200);
    await waitFor(() => second.ids().includes(missed[missed.length - 1] as number), 'the replay to reach the last missed event');
    const got = second.ids().filter((id) => id <= (missed[missed.length - 1] as number));
    expect(got).toEqual(missed);
    expect(new Set(second.ids()).size).toBe(second.ids().length);
    expect(Math.min(...second.ids())).toBeGreaterThan(last);

    // And the live tail continues after the replay.
    const c = await submit(['echo f']);
    await waitFor(() => second.events.some((e) => e.data['task_id'] === c.task_ids[0] && e.data['to'] === 'succeeded'), 'a live event after the replay');
    const ids = second.ids();
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(
      h.host.store
        .eventsSince(last, 10_000)
        .map((e) => e.id)
        .filter((id) => id <= (ids[ids.length - 1] as number)),
    ).toEqual(ids);
    second.close();
  });

  it('treats a malformed Last-Event-ID as "live only" rather than replaying everything', async () => {
    const before = h.host.store.lastEventId();
    const c = await sse({ host: `127.0.0.1:${port}`, authorization: `Bearer ${token}`, 'last-event-id': 'abc' });
    const { task_ids } = await submit(['true']);
    await waitFor(() => c.events.some((e) => e.data['task_id'] === task_ids[0]), 'a live event');
    expect(Math.min(...c.ids())).toBeGreaterThan(before);
    c.close();
  });
});

describe('shutdown with an open stream', () => {
  it('ends the stream instead of waiting for the client forever', async () => {
    const h2home = makeHome('colony-realsock-close-');
    const h2 = await startTestHost(h2home);
    try {
      const p2 = Number(new URL(h2.adminUrl).port);
      const c = await SseClient.open(p2, { host: `127.0.0.1:${p2}`, authorization: `Bearer ${h2.ctx.adminToken}` });
      expect(c.status).toBe(200);
      const t0 = Date.now();
      await h2.close(2000);
      expect(Date.now() - t0).toBeLessThan(5000);
      await waitFor(() => c.ended, 'the client to see the stream end', 5000);
    } finally {
      await h2.close();
      h2home.cleanup();
    }
  });
});
