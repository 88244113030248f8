/**
 * The live feed: one EventSource on /events (no polling). The server names
 * each event (`event: task.state`), so handlers are keyed by that name; the
 * payload's own `kind`/`id` fields can belong to the subject (a worker's id
 * and kind), which is why the event name is passed separately.
 * EventSource reconnects by itself and sends Last-Event-ID, so the server
 * replays what was missed. Views load their snapshots from `onResync`, which
 * fires once the stream is open (so nothing happening meanwhile is lost) and
 * again after every reconnect.
 */
import type { LiveEvent } from './types.js';

export const EVENT_KINDS = [
  'graph.submitted',
  'task.state',
  'task.output',
  'attempt.started',
  'attempt.finished',
  'worker',
  'killswitch',
  'session',
  'change',
  'pairing',
  'approval', // a tool call of an agent held for the admin, or answered
  'notify', // a notification for the viewer (issue 18: web/notifications.ts)
  'budget', // a graph or user paused at its budget, or resumed
] as const;

export type ConnectionState = 'connecting' | 'live' | 'reconnecting';
type Handler = (e: LiveEvent) => void;

export class Live {
  private source: EventSource | null = null;
  private readonly handlers = new Map<string, Set<Handler>>();
  private readonly statusHandlers = new Set<(s: ConnectionState) => void>();
  private readonly resyncHandlers = new Set<() => void>();
  private everOpen = false;
  private stopped = false;
  /** Called when the server refuses the stream; resolve false to stop retrying. */
  refused: (() => Promise<boolean>) | null = null;
  private lost = false;
  state: ConnectionState = 'connecting';

  constructor(private readonly url = '/events') {}

  start(): void {
    if (this.source) return;
    this.stopped = false;
    // If the stream cannot open (host down, no session yet), still load the snapshots once.
    if (!this.everOpen) setTimeout(() => !this.everOpen && this.resync(), 2500);
    const es = new EventSource(this.url, { withCredentials: true });
    this.source = es;
    es.addEventListener('open', () => {
      // First open and every reconnect: the server now streams everything new, so snapshots read from here on miss nothing.
      if (!this.everOpen || this.lost) this.resync();
      this.everOpen = true;
      this.lost = false;
      this.setState('live');
    });
    es.addEventListener('error', () => {
      this.lost = true;
      this.setState('reconnecting');
      if (es.readyState === EventSource.CLOSED) {
        // The server refused the stream (e.g. a revoked session): ask the app whether to retry.
        this.source = null;
        void (this.refused ? this.refused() : Promise.resolve(true)).then((retry) => {
          if (retry && !this.stopped) setTimeout(() => this.start(), 3000);
        });
      }
    });
    const dispatch = (kind: string) => (msg: MessageEvent<string>) => {
      let data: Record<string, unknown>;
      try {
        data = JSON.parse(msg.data) as Record<string, unknown>;
      } catch {
        return;
      }
      const e: LiveEvent = { kind, data };
      for (const fn of this.handlers.get(kind) ?? []) fn(e);
      for (const fn of this.handlers.get('*') ?? []) fn(e);
    };
    for (const kind of EVENT_KINDS) es.addEventListener(kind, dispatch(kind) as EventListener);
    // The host skipped a replay longer than its window (we were away too long): reload the snapshots.
    es.addEventListener('resync', () => this.resync());
    es.addEventListener('message', dispatch('message') as EventListener);
  }

  stop(): void {
    this.stopped = true;
    this.source?.close();
    this.source = null;
  }

  /** Subscribes to one event kind, or '*' for all; returns the unsubscribe function. */
  on(kind: (typeof EVENT_KINDS)[number] | 'message' | '*', fn: Handler): () => void {
    let set = this.handlers.get(kind);
    if (!set) this.handlers.set(kind, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  onStatus(fn: (s: ConnectionState) => void): void {
    this.statusHandlers.add(fn);
    fn(this.state);
  }

  /** Called when the stream opens and after it comes back from an interruption: (re)load snapshots here. */
  onResync(fn: () => void): void {
    this.resyncHandlers.add(fn);
  }

  private resync(): void {
    for (const fn of this.resyncHandlers) fn();
  }

  private setState(s: ConnectionState): void {
    if (s === this.state) return;
    this.state = s;
    for (const fn of this.statusHandlers) fn(s);
  }
}
