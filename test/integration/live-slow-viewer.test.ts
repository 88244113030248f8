/**
 * Issue 17, fan-out: a live viewer whose socket stops draining gets the
 * events committed meanwhile coalesced into one write when it drains, not one
 * write per commit piling up in the server's socket buffer. Real servers on
 * 127.0.0.1, real clients that stop reading (a raw socket paused, a ws client
 * paused) next to one that reads: every event reaches both, in order, none
 * lost or repeated; the reader is served while the other is stalled; and the
 * server's memory for a viewer that never reads stays bounded (it is dropped
 * past `http.stream_buffer_bytes`, as before).
 */
import { connect, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { makeHome, startIdleAdmin, startTestHost, testConfig, type IdleAdmin, type TestHome } from '../helpers/admin-host.js';
import { waitFor } from '../helpers/proc.js';
import type { RunningHost } from '../../src/server/host-server.js';
import type { Store } from '../../src/store/store.js';

let home: TestHome | null = null;
let idle: IdleAdmin | null = null;
let running: RunningHost | null = null;
const clients: { destroy(): void }[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await idle?.close();
  await running?.close(200);
  idle = null;
  running = null;
  home?.cleanup();
  home = null;
});

const PAD = 'x'.repeat(4000); // ~4 KB per event: the kernel's socket buffers fill after a few thousand

/** Server-side sockets by the client's port, each with a count of the writes made on it. */
function watchServer(server: Server): Map<number, { sock: Socket; writes: number }> {
  const byPort = new Map<number, { sock: Socket; writes: number }>();
  server.on('connection', (sock: Socket) => {
    const entry = { sock, writes: 0 };
    byPort.set(sock.remotePort as number, entry);
    const write = sock.write.bind(sock) as (...a: unknown[]) => boolean;
    sock.write = ((...a: unknown[]) => {
      entry.writes++;
      return write(...a);
    }) as typeof sock.write;
  });
  return byPort;
}

/** GET /events on a raw socket; `ids()` are the SSE ids received so far, in order. */
function sseClient(port: number, headers: string): { socket: Socket; ids: () => number[]; closed: () => boolean } {
  const s = connect(port, '127.0.0.1');
  clients.push(s);
  const ids: number[] = [];
  let rest = ''; // only the unfinished line is kept: this process is also the server whose heap is measured
  let closed = false;
  s.setEncoding('utf8');
  s.on('data', (d: string) => {
    const lines = (rest + d).split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) if (l.startsWith('id: ')) ids.push(Number(l.slice(4)));
  });
  s.on('close', () => (closed = true));
  s.on('error', () => {});
  s.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n${headers}\r\n`);
  return { socket: s, ids: () => ids, closed: () => closed };
}

/** Publishes `n` events, each its own store commit, yielding to the event loop every `per` commits. */
async function publish(store: Store, n: number, owner: string | null, per = 20): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    store.publish('note', owner, { n: i, pad: PAD });
    ids.push(store.lastEventId());
    if (i % per === per - 1) await new Promise((r) => setImmediate(r));
  }
  return ids;
}

/** Publishes until the slow viewer's server socket refuses writes (its buffer past the high-water mark). */
async function stall(store: Store, server: { sock: Socket }, owner: string | null): Promise<number[]> {
  const ids: number[] = [];
  for (let round = 0; round < 200 && !server.sock.writableNeedDrain; round++) ids.push(...(await publish(store, 20, owner)));
  expect(server.sock.writableNeedDrain).toBe(true);
  return ids;
}

const inOrder = (got: number[], want: number[]): void => {
  expect(got.length).toBe(want.length);
  expect(got).toEqual(want);
};

describe('a live viewer that stops reading', () => {
  it('SSE (admin app): while it does not drain nothing more is written to it; when it reads again it gets every event in order, in few writes', async () => {
    home = makeHome('colony-slowview-');
    idle = await startIdleAdmin(home, testConfig({ http: { stream_buffer_bytes: 256 * 1024 * 1024 } }));
    const { store } = idle.host;
    const sockets = watchServer(idle.app.server);
    const auth = `Authorization: Bearer ${idle.token}\r\n`;
    const fast = sseClient(idle.port, auth);
    const slow = sseClient(idle.port, auth);
    await waitFor(() => fast.socket.localPort !== undefined && slow.socket.localPort !== undefined && sockets.size >= 2, 'both connected');
    const first = await publish(store, 1, null);
    await waitFor(() => fast.ids().length === 1 && slow.ids().length === 1, 'the first event on both');
    slow.socket.pause();
    const server = sockets.get(slow.socket.localPort as number);
    if (!server) throw new Error('no server socket for the slow client');

    const before = await stall(store, server, null);
    const writesWhenStalled = server.writes;
    const during = await publish(store, 500, null);
    // The reader is not held back by the stalled viewer: it has everything already.
    await waitFor(() => fast.ids().length === 1 + before.length + during.length, 'the reader to have every event');
    expect(server.writes).toBe(writesWhenStalled); // 500 commits, no write to the stalled socket

    slow.socket.resume();
    const all = [...first, ...before, ...during];
    await waitFor(() => slow.ids().length >= all.length, 'the slow viewer to catch up', 30_000);
    inOrder(slow.ids(), all);
    inOrder(fast.ids(), all);
    // The 500 commits queued while stalled went out in a handful of writes once it drained, not 500.
    expect(server.writes - writesWhenStalled).toBeLessThan(50);
    expect(slow.closed()).toBe(false);
  });

  it('WebSocket (user app): the same — in order, none lost or repeated, the reader served meanwhile', async () => {
    home = makeHome('colony-slowview-ws-');
    running = await startTestHost(home, {
      lan: true,
      config: testConfig({
        lan: { rate_limit_read_per_min: 100_000, rate_limit_submit_per_min: 100_000 },
        http: { stream_buffer_bytes: 256 * 1024 * 1024 },
      }),
    });
    const { store } = running.host;
    const port = Number(new URL(running.userUrl as string).port);
    const sockets = watchServer(running.user?.server as Server);
    const res = await fetch(`http://127.0.0.1:${port}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ display_name: 'viewer' }),
    });
    expect(res.status).toBe(201);
    const cookie = `colony_session=${/colony_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1] ?? ''}`;
    const owner = null; // a public event: every viewer sees it in full
    const head = store.lastEventId(); // replay from here, so nothing published before the server subscribed is missed
    const open = async (): Promise<{ ws: WebSocket; ids: number[] }> => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/progress?lastEventId=${head}`, { headers: { cookie } });
      clients.push({ destroy: () => ws.terminate() });
      const ids: number[] = [];
      ws.on('message', (d) => {
        const f = JSON.parse(String(d)) as { event: string; id: number };
        if (f.event === 'note') ids.push(f.id);
      });
      ws.on('error', () => {});
      await new Promise((r) => ws.once('open', r));
      return { ws, ids };
    };
    const fast = await open();
    const slow = await open();
    const first = await publish(store, 1, owner);
    await waitFor(() => fast.ids.length === 1 && slow.ids.length === 1, 'the first event on both');
    slow.ws.pause();
    const server = sockets.get(portOf(slow.ws) ?? -1);
    if (!server) throw new Error('no server socket for the slow client');

    const before = await stall(store, server, owner);
    const writesWhenStalled = server.writes;
    const during = await publish(store, 500, owner);
    await waitFor(() => fast.ids.length === 1 + before.length + during.length, 'the reader to have every event');
    expect(server.writes).toBe(writesWhenStalled);

    slow.ws.resume();
    const all = [...first, ...before, ...during];
    await waitFor(() => slow.ids.length >= all.length, 'the slow viewer to catch up', 30_000);
    inOrder(slow.ids, all);
    inOrder(fast.ids, all);
    expect(slow.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('one that never reads is dropped past the stream bound, and the server does not hold its events (heap bounded)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    home = makeHome('colony-slowview-bound-');
    const bound = 1024 * 1024;
    idle = await startIdleAdmin(home, testConfig({ http: { stream_buffer_bytes: bound } }));
    const { store } = idle.host;
    const sockets = watchServer(idle.app.server);
    const auth = `Authorization: Bearer ${idle.token}\r\n`;
    const fast = sseClient(idle.port, auth);
    const slow = sseClient(idle.port, auth);
    await waitFor(() => sockets.size >= 2 && slow.socket.localPort !== undefined, 'both connected');
    await publish(store, 1, null);
    await waitFor(() => slow.ids().length === 1, 'the first event');
    slow.socket.pause();
    const server = sockets.get(slow.socket.localPort as number);
    if (!server) throw new Error('no server socket for the slow client');

    gc();
    const heap0 = process.memoryUsage().heapUsed;
    let peak = 0;
    const published: number[] = [];
    // ~24 MB of events, many times the bound and more than the kernel's socket buffers hold.
    for (let i = 0; i < 30; i++) {
      published.push(...(await publish(store, 200, null)));
      gc();
      peak = Math.max(peak, process.memoryUsage().heapUsed - heap0);
    }
    expect(server.sock.destroyed).toBe(true); // dropped by the server
    expect(peak).toBeLessThan(8 * 1024 * 1024); // what it was sent is not held for it (24 MB without the bound)
    await waitFor(() => fast.ids().length === 1 + published.length, 'the reader to have every event');

    // What it received before the drop is a prefix of the stream, in order, without repeats.
    slow.socket.resume();
    await waitFor(() => slow.closed(), 'the dropped stream to end');
    const got = slow.ids();
    expect(got.length).toBeGreaterThan(1);
    expect(got.length).toBeLessThan(1 + published.length);
    expect(got).toEqual(fast.ids().slice(0, got.length));
  });
});

function portOf(ws: WebSocket): number | undefined {
  return (ws as unknown as { _socket?: Socket })._socket?.localPort;
}
