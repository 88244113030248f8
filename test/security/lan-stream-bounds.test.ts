/**
 * Issue 14, resources, from the attacker's side on real sockets: hundreds of
 * live streams from one address or one session are refused past the caps, a
 * slowloris client (headers trickled, or a body never finished) is cut by the
 * timeouts, the connection cap refuses sockets past it, and a client that
 * comes back from far behind gets one `resync` event instead of the history.
 */
import { connect, type Socket } from 'node:net';
import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { makeHome, startTestHost, testConfig, type TestHome } from '../helpers/admin-host.js';
import { waitFor } from '../helpers/proc.js';
import type { RunningHost } from '../../src/server/host-server.js';

let home: TestHome | null = null;
let running: RunningHost | null = null;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await running?.close(200);
  running = null;
  home?.cleanup();
  home = null;
});

async function start(http: Record<string, unknown> = {}): Promise<{ port: number; h: RunningHost }> {
  home = makeHome('colony-bounds-');
  const config = testConfig({
    lan: { rate_limit_read_per_min: 100_000, rate_limit_submit_per_min: 100_000 },
    http: { max_streams_per_address: 16, max_streams_per_session: 8, ...http },
  });
  running = await startTestHost(home, { lan: true, config });
  const port = Number(new URL(running.userUrl as string).port);
  return { port, h: running };
}

function req(
  port: number,
  method: string,
  path: string,
  o: { cookie?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const body = o.body === undefined ? undefined : JSON.stringify(o.body);
    const r = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(o.cookie ? { cookie: o.cookie } : {}), ...o.headers },
      },
      (res) => {
        let text = '';
        res
          .setEncoding('utf8')
          .on('data', (d: string) => (text += d))
          .on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    r.on('error', reject);
    r.end(body);
  });
}

async function session(port: number, name: string): Promise<string> {
  const r = await req(port, 'POST', '/api/session', { body: { display_name: name } });
  expect(r.status, r.body).toBe(201);
  const m = /colony_session=([^;]+)/.exec(String(r.headers['set-cookie']));
  return `colony_session=${m?.[1] ?? ''}`;
}

/** Opens GET /events on a raw socket; resolves with the status line's code once the head arrives (the socket stays open). */
function openStream(port: number, cookie: string, extra = ''): Promise<{ status: number; socket: Socket; text: () => string }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    sockets.push(s);
    let text = '';
    let done = false;
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      text += d;
      const m = /^HTTP\/1\.1 (\d+)/.exec(text);
      if (m && !done) {
        done = true;
        resolve({ status: Number(m[1]), socket: s, text: () => text });
      }
    });
    s.on('error', (e) => !done && reject(e));
    s.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nCookie: ${cookie}\r\nAccept: text/event-stream\r\n${extra}\r\n`);
  });
}

describe('stream caps', () => {
  it('refuses streams past the per-session cap and the per-address cap, and frees a slot when a stream ends', async () => {
    const { port } = await start();
    const one = await session(port, 'greedy');
    const fromOne = await Promise.all(Array.from({ length: 20 }, () => openStream(port, one)));
    expect(fromOne.filter((r) => r.status === 200)).toHaveLength(8);
    expect(fromOne.filter((r) => r.status === 429)).toHaveLength(12);

    // Hundreds of streams from one address, spread over many sessions: only the address cap's worth is served.
    const cookies = await Promise.all(Array.from({ length: 30 }, (_, i) => session(port, `sock-${i}`)));
    const many = await Promise.all(cookies.flatMap((c) => Array.from({ length: 7 }, () => openStream(port, c))));
    expect(many).toHaveLength(210);
    expect(many.filter((r) => r.status === 200)).toHaveLength(16 - 8);
    expect(many.filter((r) => r.status === 429).length).toBe(210 - 8);

    // A legitimate viewer on another address is not affected by that address's cap: the host still answers.
    expect((await req(port, 'GET', '/healthz')).status).toBe(200);

    // Closing one stream frees its slot.
    const open = fromOne.find((r) => r.status === 200);
    expect((await openStream(port, cookies[0] as string)).status).toBe(429);
    open?.socket.destroy();
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await openStream(port, cookies[0] as string)).status;
    }
    expect(status).toBe(200);
  });
});

/** Opens WS /ws/progress; resolves with 101 when open (frames collected) or the HTTP status it was refused with. */
function openWs(port: number, cookie: string, query = ''): Promise<{ status: number; frames: string[]; ws: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/progress${query}`, { headers: { cookie } });
    const frames: string[] = [];
    ws.on('message', (d) => frames.push(String(d)));
    ws.on('open', () => resolve({ status: 101, frames, ws }));
    ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0, frames, ws }));
    ws.on('error', () => {});
  });
}

describe('the WebSocket progress stream', () => {
  it('counts against the same caps (refused before the upgrade) and resyncs a far-behind client', async () => {
    const { port, h } = await start({ replay_window: 20 });
    const cookie = await session(port, 'ws-user');
    const socks = await Promise.all(Array.from({ length: 12 }, () => openWs(port, cookie)));
    expect(socks.filter((s) => s.status === 101)).toHaveLength(8);
    expect(socks.filter((s) => s.status === 429)).toHaveLength(4);
    for (const s of socks) s.ws.terminate();

    const other = await session(port, 'ws-returning');
    for (let i = 0; i < 50; i++) h.host.store.publish('killswitch', null, { state: 'running', n: i });
    const head = h.host.store.lastEventId();
    const far = await openWs(port, other, '?lastEventId=1');
    await waitFor(() => far.frames.length > 0, 'the first frame');
    expect(JSON.parse(far.frames[0] as string)).toMatchObject({ event: 'resync', id: head });
    expect(far.frames.some((f) => f.includes('"event":"killswitch"'))).toBe(false);
    far.ws.terminate();
  });
});

describe('slow clients', () => {
  it('cuts a client trickling its headers and one that never finishes its body', async () => {
    const { port } = await start({ headers_timeout_ms: 1500, request_timeout_ms: 2500 });
    const trickle = connect(port, '127.0.0.1');
    sockets.push(trickle);
    let trickleClosedAt = 0;
    const t0 = Date.now();
    trickle.on('close', () => (trickleClosedAt = Date.now()));
    trickle.on('error', () => {});
    trickle.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`);
    const drip = setInterval(() => !trickle.destroyed && trickle.write('X-Slow: a\r\n'), 300);

    const body = connect(port, '127.0.0.1');
    sockets.push(body);
    let bodyClosedAt = 0;
    body.on('close', () => (bodyClosedAt = Date.now()));
    body.on('error', () => {});
    body.write(`POST /api/session HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"display_name":`);
    const bodyDrip = setInterval(() => !body.destroyed && body.write(' '), 300);
    try {
      // Generous: each is cut within seconds of its timeout, never held open like before (timeouts were off).
      await waitFor(() => trickleClosedAt > 0 && bodyClosedAt > 0, 'both slow clients cut', 15_000, 50);
    } finally {
      clearInterval(drip);
      clearInterval(bodyDrip);
    }
    expect(trickleClosedAt - t0).toBeGreaterThanOrEqual(1000);
    expect(bodyClosedAt - t0).toBeGreaterThanOrEqual(2000);
    expect((await req(port, 'GET', '/healthz')).status).toBe(200);
  });

  it('refuses sockets past the connection cap', async () => {
    const { port } = await start({ max_connections: 20 });
    const opened = Array.from({ length: 60 }, () => {
      const s = connect(port, '127.0.0.1');
      sockets.push(s);
      const st = { closed: false };
      s.on('close', () => (st.closed = true));
      s.on('error', () => {});
      return st;
    });
    await waitFor(() => opened.filter((o) => o.closed).length >= 40, 'sockets past the cap closed', 5000);
    expect(opened.filter((o) => !o.closed).length).toBeLessThanOrEqual(20);
  });
});

describe('bounded replay', () => {
  it('sends a resync event instead of replaying history older than the window, and replays a short gap', async () => {
    const { port, h } = await start({ replay_window: 50 });
    const cookie = await session(port, 'returning');
    for (let i = 0; i < 120; i++) h.host.store.publish('killswitch', null, { state: 'running', n: i });
    const head = h.host.store.lastEventId();

    const far = await openStream(port, cookie, 'Last-Event-ID: 1\r\n');
    await waitFor(() => far.text().includes('event: resync'), 'a resync event', 5000);
    expect(far.text()).toContain(`id: ${head}\nevent: resync`);
    expect(far.text()).not.toContain('event: killswitch');
    // The stream stays live after the resync.
    h.host.store.publish('killswitch', null, { state: 'running', n: 'live' });
    await waitFor(() => far.text().includes('"n":"live"'), 'the live tail after a resync', 5000);

    // A client ahead of the log (the database was reset or restored) is resynced too, not left waiting for ids that never come.
    const ahead = await openStream(port, cookie, `Last-Event-ID: ${head + 5000}\r\n`);
    await waitFor(() => ahead.text().includes('event: resync'), 'a resync for a client ahead of the log', 5000);
    h.host.store.publish('killswitch', null, { state: 'running', n: 'after-ahead' });
    await waitFor(() => ahead.text().includes('"n":"after-ahead"'), 'the live tail after that resync', 5000);

    const near = await openStream(port, cookie, `Last-Event-ID: ${head - 10}\r\n`);
    await waitFor(() => (near.text().match(/event: killswitch/g) ?? []).length >= 11, 'a short replay', 5000);
    expect(near.text()).not.toContain('event: resync');
  });
});
