/**
 * Live progress for LAN users: `GET /events` (SSE) and `WS /ws/progress`
 * carry the same event JSON (on the socket framed as {event, id, data}, see
 * wsFrame), built per viewer by core/redact.ts (own tasks in
 * full, others' redacted, others' output never). Both replay from
 * Last-Event-ID (header, or `?lastEventId=` on either). The viewer's session
 * is re-read every few seconds, so a revoked session's stream ends and a
 * newly granted `view_all` takes effect without reconnecting.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { can, type UserSession } from '../../core/permissions.js';
import { othersView, viewEvent, type LiveEvent } from '../../core/redact.js';
import type { EventRecord } from '../../store/rows.js';
import { cachedEventJson, followEvents, lastEventId, streamEvents } from '../live.js';
import { Outbox } from '../live-outbox.js';
import type { LanDeps } from './deps.js';
import { requireSession } from './session.js';
import { clientIp, ipBucket } from './deps.js';
import { streamSlots } from '../stream-bounds.js';

const REFRESH_MS = 2000;
const PING_MS = 15_000;

/** The stream caps a LAN viewer counts against: its address (IPv6 by /64) and its session. */
function slotKeys(deps: LanDeps, request: FastifyRequest, s: UserSession): { key: string; max: number; what: string }[] {
  const b = deps.ctx.host.config.http;
  return [
    { key: `addr:${ipBucket(clientIp(request))}`, max: b.max_streams_per_address, what: 'address' },
    { key: `session:${s.user_id}`, max: b.max_streams_per_session, what: 'session' },
  ];
}

const wsSlots = new WeakMap<FastifyRequest, () => void>();

/**
 * Per event, shared by all viewers of one app: the event with its owner filled
 * in, and its view for visitors who may not see the owner. Each is built once
 * per event, not once per viewer, so the SSE text and WS frame of each class
 * (owner and view_all: the event; others: the redacted view) are serialised once.
 */
interface ViewMemo {
  owned: WeakMap<EventRecord, EventRecord>;
  others: WeakMap<EventRecord, LiveEvent | null>;
}
const memos = new WeakMap<LanDeps, ViewMemo>();
function memoOf(deps: LanDeps): ViewMemo {
  let m = memos.get(deps);
  if (!m) memos.set(deps, (m = { owned: new WeakMap(), others: new WeakMap() }));
  return m;
}

/** Some publishers (e.g. pending changes) name a task but leave the owner null: the task's submitter owns such an event. */
function withOwner(deps: LanDeps, e: EventRecord): EventRecord {
  if (e.owner !== null || e.task_id === null) return e;
  const memo = memoOf(deps).owned;
  let v = memo.get(e);
  if (v === undefined) {
    const owner = deps.ctx.host.store.getTask(e.task_id)?.submitted_by ?? null;
    memo.set(e, (v = owner === null ? e : { ...e, owner }));
  }
  return v;
}

/** The per-viewer view; returns 'closed' once the session is revoked or loses `view`. */
function viewerView(deps: LanDeps, first: UserSession): (e: EventRecord) => EventRecord | null | 'closed' {
  const showOwners = deps.ctx.host.config.lan.show_worker_owners;
  const others = memoOf(deps).others;
  const forOthers = (e: LiveEvent): LiveEvent | null => {
    let v = others.get(e);
    if (v === undefined) others.set(e, (v = othersView(e, deps.opaque, showOwners)));
    return v;
  };
  let s: UserSession | null = first;
  let checkedAt = deps.now();
  return (e) => {
    const now = deps.now();
    if (s && now - checkedAt > REFRESH_MS) {
      s = deps.sessions.get(s.user_id);
      checkedAt = now;
    }
    if (!s || !can(s, 'view')) return 'closed';
    return viewEvent(s, withOwner(deps, e), deps.opaque, showOwners, forOthers);
  };
}

/**
 * One WebSocket message per event, framed like SSE: `event` and `id` as the
 * SSE `event:` and `id:` lines, `data` exactly the SSE `data:` JSON (whose own
 * `id`/`kind` may belong to the subject, e.g. a worker card).
 */
export function wsFrame(e: EventRecord): string {
  let text = frameCache.get(e);
  if (text === undefined) frameCache.set(e, (text = `{"event":${JSON.stringify(e.kind)},"id":${e.id},"data":${cachedEventJson(e)}}`));
  return text;
}
const frameCache = new WeakMap<EventRecord, string>();

export function registerLiveRoutes(app: FastifyInstance, deps: LanDeps): void {
  const { store } = deps.ctx.host;

  app.get('/events', (request, reply) => {
    const session = requireSession(request, 'view');
    const view = viewerView(deps, session);
    streamEvents(
      request,
      reply,
      store,
      (e) => {
        const v = view(e);
        if (v === 'closed') {
          reply.raw.destroy();
          return null;
        }
        return v;
      },
      { bounds: deps.ctx.host.config.http, slots: slotKeys(deps, request, session) },
    );
  });

  app.get(
    '/ws/progress',
    {
      websocket: true,
      // Runs before the upgrade: no session or no `view` → a plain HTTP 401/403, no socket.
      preHandler: async (request: FastifyRequest) => {
        const s = requireSession(request, 'view');
        const release = streamSlots(request.server.server).acquire(slotKeys(deps, request, s)); // past a cap: a plain 429, no socket
        wsSlots.set(request, release);
        request.raw.socket.once('close', release); // also when the upgrade never completes (release is idempotent)
      },
    },
    (socket: WebSocket, request: FastifyRequest) => {
      const view = viewerView(deps, requireSession(request, 'view'));
      const release = wsSlots.get(request) ?? (() => {});
      const maxBuffered = deps.ctx.host.config.http.stream_buffer_bytes;
      let unsubscribe: () => void = () => {};
      let stopped = false;
      const stop = (code: number, reason: string): false => {
        if (stopped) return false;
        stopped = true;
        out.close();
        unsubscribe();
        release();
        socket.close(code, reason);
        // A peer that does not read would not take the close frame either: do not keep its buffer.
        setTimeout(() => socket.terminate(), 5000).unref();
        return false;
      };
      // The frames of one store commit go out corked: one socket write per viewer per commit, not
      // one per event; while the socket does not drain they wait and go out together (Outbox).
      const tcp = request.raw.socket;
      const out = new Outbox(
        {
          buffered: () => socket.bufferedAmount,
          backedUp: () => tcp.writableNeedDrain,
          onceDrain: (fn) => tcp.once('drain', fn),
          write: (frames) => {
            tcp.cork();
            for (const f of frames) socket.send(f);
            process.nextTick(() => tcp.uncork()); // ws writes each frame in two parts: uncork after them all
          },
        },
        maxBuffered,
        () => stop(1013, 'too slow: reconnect with lastEventId'),
      );
      unsubscribe = followEvents(
        store,
        lastEventId(request),
        (e) => {
          if (stopped) return false;
          const v = view(e);
          if (v === 'closed') return stop(1008, 'session revoked');
          return v ? out.push(wsFrame(v)) : true;
        },
        deps.ctx.host.config.http.replay_window,
        () => out.flush(),
      );
      const ping = setInterval(() => socket.ping(), PING_MS);
      socket.on('message', () => {
        /* the stream is one-way; client messages are ignored */
      });
      socket.on('close', () => {
        stopped = true;
        out.close();
        clearInterval(ping);
        unsubscribe();
        release();
      });
    },
  );
}
