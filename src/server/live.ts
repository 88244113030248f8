/**
 * Server-Sent Events from the store's event log. Every event has its id, so a
 * client that reconnects with Last-Event-ID gets exactly what it missed
 * (replayed from SQLite) and then the live tail. Each viewer passes a `view`
 * function: the stream a viewer receives is built for that viewer only.
 *
 * Bounded (issue 14): the replay covers at most `replay_window` events; a
 * client further behind gets one `resync` event (id = the head) telling it to
 * reload its snapshots instead of the history. A viewer whose unsent bytes
 * pass `stream_buffer_bytes` (it does not read) is dropped at once; it may
 * reconnect with Last-Event-ID. Open streams are capped per key (address,
 * session) by StreamSlots.
 */
import type { Server } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Store } from '../store/store.js';
import type { EventRecord } from '../store/rows.js';
import { defaultConfig } from '../core/config.js';
import { streamSlots, type HttpBounds } from './stream-bounds.js';
import { Outbox } from './live-outbox.js';

export type EventView = (e: EventRecord) => EventRecord | null;

const HEARTBEAT_MS = 15_000;
const REPLAY_PAGE = 100;
const DEFAULT_BOUNDS: HttpBounds = defaultConfig().http;

export interface StreamOptions {
  bounds?: HttpBounds;
  /** Stream caps to take a slot under (e.g. the client's address and session); past one → 429 before any byte is sent. */
  slots?: readonly { key: string; max: number; what: string }[];
}

/** Sent instead of a replay that would be longer than the window: reload snapshots, then follow from `last_id`. */
export const RESYNC_KIND = 'resync';

function resyncRecord(head: number, missed: number): EventRecord {
  return {
    id: head,
    at: Date.now(),
    kind: RESYNC_KIND,
    task_id: null,
    owner: null,
    data: { last_id: head, missed, reason: 'too far behind: reload the snapshots' },
  };
}

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

const jsonCache = new WeakMap<EventRecord, string>();

/** eventJson, once per event object (the same object goes to every viewer of its redaction class). */
export function cachedEventJson(e: EventRecord): string {
  let text = jsonCache.get(e);
  if (text === undefined) jsonCache.set(e, (text = eventJson(e)));
  return text;
}

export function formatSse(e: EventRecord): string {
  let text = sseCache.get(e);
  if (text === undefined) {
    text = `id: ${e.id}\nevent: ${e.kind}\ndata: ${cachedEventJson(e)}\n\n`;
    sseCache.set(e, text);
  }
  return text;
}

/**
 * Calls `onEvent` once per event in id order: first those after `after`
 * (replayed from SQLite; -1 = none, live tail only), then live ones.
 * Subscribes before replaying so nothing committed in between is lost;
 * duplicates are dropped by id. `onEvent` returns false when its viewer is
 * gone (dropped, closed): the replay stops there, reading nothing more.
 * `onFlush` runs after each group of events (the replay, each committed
 * batch of the store): a viewer gathers a group and writes it once.
 * Returns the unsubscribe function.
 */
export function followEvents(
  store: Store,
  after: number,
  onEvent: (e: EventRecord) => boolean | void,
  replayWindow = DEFAULT_BOUNDS.replay_window,
  onFlush: () => void = () => {},
): () => void {
  let last = after;
  const buffered: EventRecord[] = [];
  let replaying = true;
  let gone = false;
  const send = (e: EventRecord): void => {
    if (gone || e.id <= last) return;
    last = e.id;
    if (onEvent(e) === false) gone = true;
  };
  const unsubscribe = store.subscribeLive((events) => {
    if (replaying) buffered.push(...events);
    else {
      for (const e of events) send(e);
      onFlush();
    }
  });
  if (last >= 0) {
    const head = store.lastEventId();
    // Too far behind, or ahead of the log (a database reset or restore): start over from the head.
    if (head - last > replayWindow || last > head) {
      if (onEvent(resyncRecord(head, Math.max(0, head - last))) === false) gone = true;
      last = head;
    }
    for (let batch = store.eventsSince(last, REPLAY_PAGE); batch.length > 0 && !gone; batch = store.eventsSince(last, REPLAY_PAGE)) {
      for (const e of batch) send(e);
      if (batch.length < REPLAY_PAGE) break;
    }
  } else {
    last = store.lastEventId();
  }
  replaying = false;
  for (const e of buffered) send(e);
  onFlush();
  if (gone) unsubscribe();
  return unsubscribe;
}

export function streamEvents(request: FastifyRequest, reply: FastifyReply, store: Store, view: EventView, o: StreamOptions = {}): void {
  const bounds = o.bounds ?? DEFAULT_BOUNDS;
  const server = request.server.server;
  const release = streamSlots(server).acquire(o.slots ?? []); // throws E_RATE_LIMITED past a cap: a plain 429
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-content-type-options': 'nosniff',
  });
  res.write('retry: 2000\n\n');
  let dropped = false;
  let unsubscribe: () => void = () => {};
  // Events of one store commit go out in one write; while the client does not read, they wait
  // for 'drain' and go out together. Past the bound it is dropped (it reconnects with
  // Last-Event-ID and gets a bounded replay or a resync).
  const out = new Outbox(
    {
      buffered: () => res.writableLength,
      backedUp: () => res.writableNeedDrain,
      onceDrain: (fn) => res.once('drain', fn),
      write: (chunks) => res.write(chunks.length === 1 ? (chunks[0] as string) : chunks.join('')),
    },
    bounds.stream_buffer_bytes,
    () => {
      dropped = true;
      close();
      res.destroy();
    },
  );
  const write = (text: string): void => {
    if (out.push(text)) out.flush();
  };
  const hb = setInterval(() => write(': keep-alive\n\n'), HEARTBEAT_MS);
  const streams = openStreams.get(server) ?? new Set<() => void>();
  openStreams.set(server, streams);
  const close = (): void => {
    out.close();
    clearInterval(hb);
    unsubscribe();
    release();
    streams.delete(end);
  };
  unsubscribe = followEvents(
    store,
    lastEventId(request),
    (e) => {
      if (dropped) return false;
      const v = view(e);
      return v ? out.push(formatSse(v)) : !dropped;
    },
    bounds.replay_window,
    () => out.flush(),
  );
  const end = (): void => {
    close();
    res.end();
  };
  streams.add(end);
  request.raw.on('close', close);
  res.on('error', close);
}
