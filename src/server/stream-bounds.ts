/**
 * Resource bounds shared by both HTTP apps (issue 14): the server options that
 * cut slow or idle clients (request, header, keep-alive and idle timeouts), a
 * connection cap, and the per-address / per-session caps on concurrent live
 * streams (SSE and WebSocket progress). A LAN stranger who opens connections
 * and never finishes or never reads must not hold the host's memory or sockets.
 */
import type { Server } from 'node:http';
import type { ColonyConfig } from '../core/config.js';
import { ColonyError } from '../core/errors.js';

export type HttpBounds = ColonyConfig['http'];

/** Fastify constructor options for the bounds (merge into `Fastify({...})`). */
export function fastifyBoundOptions(b: HttpBounds): {
  requestTimeout: number;
  keepAliveTimeout: number;
  connectionTimeout: number;
  http: { headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number };
} {
  return {
    requestTimeout: b.request_timeout_ms,
    keepAliveTimeout: b.keep_alive_timeout_ms,
    connectionTimeout: b.idle_timeout_ms,
    // Node checks the header/request timers only every connectionsCheckingInterval (30 s by default):
    // check often enough that a slowloris client is cut near headers_timeout_ms, not half a minute later.
    http: { headersTimeout: b.headers_timeout_ms, requestTimeout: b.request_timeout_ms, connectionsCheckingInterval: Math.min(1000, b.headers_timeout_ms) },
  };
}

/** The connection cap: past it, Node closes new sockets at accept. */
export function capConnections(server: Server, b: HttpBounds): void {
  server.maxConnections = b.max_connections;
}

/**
 * Counts open streams per key. `acquire` takes one slot under every key
 * given (an address, a session) or none, and returns the release.
 */
export class StreamSlots {
  private readonly open = new Map<string, number>();

  acquire(keys: readonly { key: string; max: number; what: string }[]): () => void {
    for (const k of keys) {
      if ((this.open.get(k.key) ?? 0) >= k.max) {
        throw new ColonyError('E_RATE_LIMITED', `too many live streams from this ${k.what} (at most ${k.max}); close a tab or retry later`, {
          limit: k.max,
          per: k.what,
        });
      }
    }
    for (const k of keys) this.open.set(k.key, (this.open.get(k.key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const k of keys) {
        const n = (this.open.get(k.key) ?? 1) - 1;
        if (n <= 0) this.open.delete(k.key);
        else this.open.set(k.key, n);
      }
    };
  }

  count(key: string): number {
    return this.open.get(key) ?? 0;
  }
}

const slotsByServer = new WeakMap<Server, StreamSlots>();

/** The stream counters of one HTTP server (each app counts its own streams). */
export function streamSlots(server: Server): StreamSlots {
  let s = slotsByServer.get(server);
  if (!s) slotsByServer.set(server, (s = new StreamSlots()));
  return s;
}
