/**
 * The user app's live streams over real sockets: GET /events (SSE) and
 * WS /ws/progress carry the same event JSON, built per viewer — the owner
 * sees their task's text and output, another user gets redacted events with
 * opaque ids and no output, live and on replay from Last-Event-ID. Upgrades
 * without a session or from a foreign Origin are refused before the socket
 * opens; a revoked session's streams end.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { waitFor } from '../helpers/proc.js';
import { adminCall, visitor, type Lan, type UserHost } from '../helpers/user-host.js';
import { startListeningPair, stopUserHost } from '../helpers/user-host-pair.js';

const SECRET = 'MARKER-live-7d1e0b';
let h: UserHost;
let port: number;
let a: Lan;
let b: Lan;

interface Stream {
  raw: () => string;
  events: () => Record<string, unknown>[];
  status: Promise<number>;
  closed: Promise<void>;
  close: () => void;
}

function sse(cookie: string, headers: Record<string, string> = {}): Stream {
  let raw = '';
  let onClose: () => void = () => {};
  const closed = new Promise<void>((r) => (onClose = r));
  let req: ReturnType<typeof httpRequest> | null = null;
  const status = new Promise<number>((resolve, reject) => {
    req = httpRequest({ host: '127.0.0.1', port, path: '/events', headers: { cookie, accept: 'text/event-stream', ...headers }, agent: false }, (res) => {
      resolve(res.statusCode ?? 0);
      res.setEncoding('utf8');
      res.on('data', (d: string) => (raw += d));
      res.on('close', onClose);
    });
    req.on('error', (e) => (raw ? onClose() : reject(e)));
    req.end();
  });
  const field = (block: string, name: string) =>
    block
      .split('\n')
      .find((l) => l.startsWith(`${name}: `))
      ?.slice(name.length + 2);
  const events = () =>
    raw
      .split('\n\n')
      .filter((block) => field(block, 'data') !== undefined)
      .map((block) => ({
        ...(JSON.parse(field(block, 'data') ?? '') as Record<string, unknown>),
        event: field(block, 'event'),
        event_id: Number(field(block, 'id')),
      }));
  return { raw: () => raw, events, status, closed, close: () => req?.destroy() };
}

function ws(cookie: string, query = '', origin?: string): Stream & { socket: WebSocket } {
  let raw = '';
  const msgs: Record<string, unknown>[] = [];
  const socket = new WebSocket(`ws://127.0.0.1:${port}/ws/progress${query}`, { headers: { cookie }, origin });
  const status = new Promise<number>((resolve) => {
    socket.on('open', () => resolve(101));
    socket.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    socket.on('error', () => resolve(0));
  });
  const closed = new Promise<void>((r) => socket.on('close', () => r()));
  socket.on('message', (d: Buffer) => {
    raw += d.toString('utf8');
    const frame = JSON.parse(d.toString('utf8')) as { event: string; id: number; data: Record<string, unknown> };
    msgs.push({ ...frame.data, event: frame.event, event_id: frame.id });
  });
  return { raw: () => raw, events: () => msgs, status, closed, close: () => socket.terminate(), socket };
}

const seen = (s: Stream, kind: string) => s.events().some((e) => e['event'] === kind);

beforeAll(async () => {
  ({ h, port, a, b } = await startListeningPair());
});

afterAll(() => stopUserHost(h));

/** Ada's task with the secret in its prompt (and so its title), its output, a worker card for it, then a public event as the end mark. */
async function adaWorks(): Promise<string> {
  const r = await a.call('POST', '/api/submit-task', { prompt: `echo ${SECRET}`, engine: 'exec' });
  const id = (r.json() as { id: string }).id;
  h.host.store.appendOutput(id, 1, 'stdout', `${SECRET}\n`);
  h.host.store.publish(
    'worker',
    `session:${a.userId}`,
    {
      id: 'host-1',
      kind: 'local',
      status: 'running',
      task_id: id,
      task_title: `echo ${SECRET}`,
      owner: `session:${a.userId}`,
      engine: 'exec',
      model: null,
      session_cost_usd: 0,
      tokens_used: 0,
      origin_ip: '127.0.0.1',
    },
    id,
  );
  h.host.store.publish('change', null, { task_id: id, status: 'pending', files_changed: 1 }, id); // owner left null by its publisher
  h.host.killswitch.pause({ actor: 'admin', origin: 'test' });
  h.host.killswitch.resume({ actor: 'admin', origin: 'test' });
  return id;
}

describe('per-viewer live streams', () => {
  it('sends the owner everything and another user only redacted events, on SSE and WebSocket alike', async () => {
    const streams = { aSse: sse(a.cookie), aWs: ws(a.cookie), bSse: sse(b.cookie), bWs: ws(b.cookie) };
    for (const s of Object.values(streams)) expect([200, 101]).toContain(await s.status);
    await new Promise((r) => setTimeout(r, 100));
    const id = await adaWorks();
    for (const [name, s] of Object.entries(streams))
      await waitFor(() => s.events().filter((e) => e['event'] === 'killswitch').length >= 2, `${name} to see the end mark`, 5000);

    for (const s of [streams.aSse, streams.aWs]) {
      expect(s.raw()).toContain(SECRET);
      expect(s.events().find((e) => e['event'] === 'task.output')).toMatchObject({ task_id: id, text: `${SECRET}\n` });
      expect(s.events().find((e) => e['event'] === 'change')).toMatchObject({ task_id: id, status: 'pending' });
    }
    for (const s of [streams.bSse, streams.bWs]) {
      expect(s.raw()).not.toContain(SECRET);
      expect(s.raw()).not.toContain(id);
      expect(s.raw()).not.toContain(a.userId);
      expect(seen(s, 'task.output')).toBe(false);
      expect(seen(s, 'change')).toBe(false);
      const states = s.events().filter((e) => e['event'] === 'task.state');
      expect(states.length).toBeGreaterThan(0);
      expect(states[0]).toMatchObject({ task_id: expect.stringMatching(/^x-[0-9a-f]{16}$/), from: 'waiting', to: 'ready', redacted: true });
      expect(s.events().find((e) => e['event'] === 'worker')).toMatchObject({ status: 'running', task_title: null, owner: 'other', redacted: true });
    }
    // the same event JSON on both transports
    expect(streams.aWs.events()).toEqual(streams.aSse.events());
    expect(streams.bWs.events()).toEqual(streams.bSse.events());
    for (const s of Object.values(streams)) s.close();
  });

  it('replays from Last-Event-ID (header or ?lastEventId=) with the same filtering', async () => {
    await adaWorks();
    const total = h.host.store.lastEventId();
    const replays = { sseHeader: sse(b.cookie, { 'last-event-id': '0' }), wsQuery: ws(b.cookie, '?lastEventId=0'), ownerWs: ws(a.cookie, '?lastEventId=0') };
    for (const [name, s] of Object.entries(replays))
      await waitFor(() => s.events().some((e) => e['event_id'] === total), `${name} to replay up to ${total}`, 5000);
    expect(replays.sseHeader.raw()).not.toContain(SECRET);
    expect(replays.wsQuery.raw()).not.toContain(SECRET);
    expect(replays.ownerWs.raw()).toContain(SECRET);
    expect(replays.wsQuery.events()).toEqual(replays.sseHeader.events());
    for (const s of Object.values(replays)) s.close();
  });

  it('refuses the upgrade without a session (401) or from a foreign Origin (403), before any socket opens', async () => {
    expect(await ws('').status).toBe(401);
    expect(await ws('colony_session=forged.x').status).toBe(401);
    expect(await ws(b.cookie, '', 'http://evil.example').status).toBe(403);
    expect(await ws(b.cookie, '', `http://127.0.0.1:${port}`).status).toBe(101);
    expect(await sse('').status).toBe(401);
  });

  it("ends a revoked session's streams", async () => {
    const c = await visitor(h, '127.0.0.1', 'Cy');
    const s = sse(c.cookie);
    const w = ws(c.cookie);
    expect(await s.status).toBe(200);
    expect(await w.status).toBe(101);
    await adminCall(h, 'POST', `/admin/sessions/${c.userId}/revoke`);
    await new Promise((r) => setTimeout(r, 2200)); // the view re-reads the session every 2 s
    await adaWorks();
    await Promise.all([s.closed, w.closed]);
    expect(w.socket.readyState).toBe(WebSocket.CLOSED);
    expect(await ws(c.cookie).status).toBe(403);
  });
});
