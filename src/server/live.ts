/**
 * Server-Sent Events from the store's event log. Every event has its id, so a
 * client that reconnects with Last-Event-ID gets exactly what it missed
 * (replayed from SQLite) and then the live tail. Each viewer passes a `view`
 * function: the stream a viewer receives is built for that viewer only.
 */
import type { Server } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Store } from '../store/store.js';
import type { EventRecord } from '../store/rows.js';

export type EventView = (e: EventRecord) => EventRecord | null;

const HEARTBEAT_MS = 15_000;
const REPLAY_LIMIT = 5000;

/** Open streams per HTTP server, so shutdown can end them: an SSE response never ends by itself and would hold `app.close()` forever. */
const openStreams = new WeakMap<Server, Set<() => void>>();

/** Ends every event stream served by this server (call before `app.close()`); clients reconnect with Last-Event-ID elsewhere or later. */
export function closeLiveStreams(server: Server): void {
  const set = openStreams.get(server);
  if (!set) return;
  for (const end of [...set]) end();
}

export function lastEventId(request: FastifyRequest): number {
  const header = request.headers['last-event-id'];
  const q = (request.query as Record<string, unknown> | undefined)?.['lastEventId'];
  const raw = (Array.isArray(header) ? header[0] : header) ?? (typeof q === 'string' ? q : undefined);
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isInteger(n) && n >= 0 ? n : -1;
}

/** The JSON an event is sent as, on SSE (`data:`) and on WebSocket streams alike. */
export function eventJson(e: EventRecord): string {
  return JSON.stringify({ id: e.id, at: e.at, kind: e.kind, task_id: e.task_id, ...e.data });
}

// One event object goes to many viewers (the admin's view is the identity, and
// a user's own events pass unchanged): serialise each object once, not per client.
const sseCache = new WeakMap<EventRecord, string>();

export function formatSse(e: EventRecord): string {
  let text = sseCache.get(e);
  if (text === undefined) {
    text = `id: ${e.id}\nevent: ${e.kind}\ndata: ${eventJson(e)}\n\n`;
    sseCache.set(e, text);
  }
  return text;
}

/**
 * Calls `onEvent` once per event in id order: first those after `after`
 * (replayed from SQLite; -1 = none, live tail only), then live ones.
 * Subscribes before replaying so nothing committed in between is lost;
 * duplicates are dropped by id. Returns the unsubscribe function.
 */
export function followEvents(store: Store, after: number, onEvent: (e: EventRecord) => void): () => void {
  let last = after;
  const buffered: EventRecord[] = [];
  let replaying = true;
  const send = (e: EventRecord): void => {
    if (e.id <= last) return;
    last = e.id;
    onEvent(e);
  };
  const unsubscribe = store.subscribe((events) => {
    if (replaying) buffered.push(...events);
    else for (const e of events) send(e);
  });
  if (last >= 0) {
    for (let batch = store.eventsSince(last, REPLAY_LIMIT); batch.length > 0; batch = store.eventsSince(last, REPLAY_LIMIT)) {
      for (const e of batch) send(e);
      if (batch.length < REPLAY_LIMIT) break;
    }
  } else {
    last = store.lastEventId();
  }
  replaying = false;
  for (const e of buffered) send(e);
  return unsubscribe;
}

export function streamEvents(request: FastifyRequest, reply: FastifyReply, store: Store, view: EventView): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write('retry: 2000\n\n');
  const unsubscribe = followEvents(store, lastEventId(request), (e) => {
    const v = view(e);
    if (v) res.write(formatSse(v));
  });
  const hb = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
  const server = request.server.server;
  const streams = openStreams.get(server) ?? new Set<() => void>();
  openStreams.set(server, streams);
  const close = (): void => {
    clearInterval(hb);
    unsubscribe();
    streams.delete(end);
  };
  const end = (): void => {
    close();
    res.end();
  };
  streams.add(end);
  request.raw.on('close', close);
  res.on('error', close);
}
