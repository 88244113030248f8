/**
 * The shared part of the fake model servers (fake-models.ts): a real HTTP
 * server on 127.0.0.1 port 0, a queue of scripted turns taken one per model
 * request, a record of every request, and helpers to answer with an error
 * status or an SSE stream that can stall.
 *
 * A turn is what the model "says" in one response: text, a tool call, an
 * error status (repeated `times` requests, or for ever), or a stream that
 * starts and then goes silent. Requests a protocol marks as side calls
 * (token counting, titles, probes) are answered without taking a turn.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FakeUsage {
  input: number;
  output: number;
  cache_read?: number;
  cache_write?: number;
}

export type Turn =
  | { kind: 'text'; text: string; usage?: FakeUsage; delay_ms?: number }
  | { kind: 'tool'; name: string; input: Record<string, unknown>; text?: string; usage?: FakeUsage; id?: string }
  | { kind: 'error'; status: number; message?: string; times?: number | 'forever'; retry_after_s?: number }
  | { kind: 'stall'; text?: string };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
  at: number; // Date.now() when the request arrived
  side: boolean; // answered without taking a turn
}

export interface Protocol {
  name: string;
  /** Answers a request that takes no turn (HEAD probes, token counts, titles); false = a model turn. */
  side(req: IncomingMessage, path: string, body: unknown, res: ServerResponse): boolean;
  /** Writes one turn as this protocol's streaming (or JSON) response. */
  render(turn: Exclude<Turn, { kind: 'error' }>, ctx: RenderCtx): void;
  /** The body of an error response for a status. */
  errorBody(status: number, message: string): unknown;
}

export interface RenderCtx {
  res: ServerResponse;
  path: string;
  body: unknown;
  seq: number; // 1-based count of model turns served
  sse(event: string | null, data: unknown): void;
}

export const DEFAULT_USAGE: FakeUsage = { input: 1200, output: 80 };

export interface FakeModelServer {
  baseUrl: string; // http://127.0.0.1:PORT (no path)
  requests: RecordedRequest[];
  /** Model requests only (side calls left out). */
  modelRequests(): RecordedRequest[];
  enqueue(...turns: Turn[]): void;
  /** The turn served when the queue is empty (default: a short text). */
  setDefault(turn: Turn): void;
  firstModelRequestAt(): number | null;
  close(): Promise<void>;
}

/** `host`: the address to listen on (default loopback; another one stands for a model API on another machine). */
export async function startFakeModelServer(protocol: Protocol, host = '127.0.0.1'): Promise<FakeModelServer> {
  const queue: Turn[] = [];
  let fallback: Turn = { kind: 'text', text: 'Done.' };
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let seq = 0;

  const takeTurn = (): Turn => {
    const head = queue[0];
    if (!head) return fallback;
    if (head.kind === 'error' && head.times !== undefined && head.times !== 1) {
      if (head.times === 'forever') return head;
      queue[0] = { ...head, times: head.times - 1 };
      return head;
    }
    return queue.shift() as Turn;
  };

  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (raw += c));
    req.on('end', () => {
      let body: unknown = raw;
      try {
        body = raw ? JSON.parse(raw) : null;
      } catch {
        /* keep the raw text */
      }
      const path = req.url ?? '/';
      const rec: RecordedRequest = { method: req.method ?? '', path, headers: req.headers, body, at: Date.now(), side: true };
      requests.push(rec);
      if (protocol.side(req, path, body, res)) return;
      rec.side = false;
      const turn = takeTurn();
      if (turn.kind === 'error') {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (turn.retry_after_s !== undefined) headers['retry-after'] = String(turn.retry_after_s);
        res.writeHead(turn.status, headers);
        res.end(JSON.stringify(protocol.errorBody(turn.status, turn.message ?? `fake error ${turn.status}`)));
        return;
      }
      seq += 1;
      const sse = (event: string | null, data: unknown): void => {
        if (res.destroyed) return;
        if (!res.headersSent) res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
        res.write(`${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
      };
      protocol.render(turn, { res, path, body, seq, sse });
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://${host}:${port}`,
    requests,
    modelRequests: () => requests.filter((r) => !r.side),
    enqueue: (...t) => queue.push(...t),
    setDefault: (t) => (fallback = t),
    firstModelRequestAt: () => requests.find((r) => !r.side)?.at ?? null,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export function json(res: ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
  return true;
}

export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
