/**
 * A real HTTP server on 127.0.0.1:0 speaking the OpenAI chat-completions
 * streaming protocol the way Groq does: chat.completion.chunk SSE events, the
 * last content chunk carrying finish_reason and `x_groq.usage`, an extra
 * `usage` chunk with empty choices when stream_options.include_usage is set,
 * then `data: [DONE]`. Each request takes the next queued behaviour (default:
 * a short answer); every request is recorded for assertions.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FakeBehaviour =
  | {
      kind: 'stream';
      content?: string[]; // content deltas
      usage?: 'x_groq' | 'usage' | 'both' | 'none';
      prompt_tokens?: number;
      completion_tokens?: number;
      cached_tokens?: number;
      chunk_delay_ms?: number;
      finish_reason?: string;
      omit_done?: boolean;
    }
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: unknown }
  | { kind: 'malformed'; after_chunks?: number }
  | { kind: 'error-chunk'; message: string }
  | { kind: 'stall'; after_chunks?: number }
  | { kind: 'truncated' }; // content, then the connection ends without finish_reason or [DONE]

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: unknown;
  at: number;
}

export interface FakeOpenAI {
  baseUrl: string;
  requests: RecordedRequest[];
  enqueue(...b: FakeBehaviour[]): void;
  close(): Promise<void>;
}

const ID = 'chatcmpl-9b1f3c2e-4d5a-4e8f-a1b2-c3d4e5f60718';
const REQ = 'req_01jadadp0femyae9kav1gpkhe8';

export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  const queue: FakeBehaviour[] = [];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (raw += c));
    req.on('end', () => {
      let body: unknown = raw;
      try {
        body = JSON.parse(raw);
      } catch {
        /* keep the raw text */
      }
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, at: Date.now() });
      const model = typeof body === 'object' && body !== null && 'model' in body ? String((body as { model: unknown }).model) : 'llama-3.3-70b-versatile';
      void respond(res, queue.shift() ?? { kind: 'stream' }, model);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;

  const wait = (ms: number): Promise<void> =>
    new Promise((r) => {
      const t = setTimeout(() => (timers.delete(t), r()), ms);
      timers.add(t);
    });

  async function respond(res: ServerResponse, b: FakeBehaviour, model: string): Promise<void> {
    if (b.kind === 'status') {
      res.writeHead(b.status, { 'content-type': 'application/json', ...b.headers });
      res.end(JSON.stringify(b.body ?? { error: { message: `fake status ${b.status}`, type: 'fake' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const send = (obj: unknown): boolean => res.write(`data: ${typeof obj === 'string' ? obj : JSON.stringify(obj)}\n\n`);
    const chunk = (delta: Record<string, unknown>, finish: string | null = null, extra: Record<string, unknown> = {}) => ({
      id: ID,
      object: 'chat.completion.chunk',
      created: 1729171479,
      model,
      system_fingerprint: 'fp_10c08bf97d',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...extra,
    });
    send(chunk({ role: 'assistant', content: '' }, null, { x_groq: { id: REQ } }));

    if (b.kind === 'malformed') {
      for (let i = 0; i < (b.after_chunks ?? 1); i += 1) send(chunk({ content: `part ${i} ` }));
      res.write('data: {"id":"chatcmpl-x","object":"chat.completion.chunk","choices":[{"delta":{"content":"oops\n\n');
      res.end();
      return;
    }
    if (b.kind === 'error-chunk') {
      send(chunk({ content: 'Starting…' }));
      send({ error: { message: b.message, type: 'internal_server_error' } });
      res.end();
      return;
    }
    if (b.kind === 'stall') {
      for (let i = 0; i < (b.after_chunks ?? 1); i += 1) send(chunk({ content: `part ${i} ` }));
      return; // keep the connection open, say nothing more
    }
    if (b.kind === 'truncated') {
      send(chunk({ content: 'Half an ans' }));
      res.end();
      return;
    }

    const content = b.content ?? ['Hello', ' from', ' the fake', ' server.'];
    for (const piece of content) {
      if (b.chunk_delay_ms) await wait(b.chunk_delay_ms);
      if (res.destroyed) return;
      send(chunk({ content: piece }));
    }
    const usage = {
      queue_time: 0.061348671,
      prompt_tokens: b.prompt_tokens ?? 120,
      prompt_time: 0.000211569,
      completion_tokens: b.completion_tokens ?? 40,
      completion_time: 0.0798,
      total_tokens: (b.prompt_tokens ?? 120) + (b.completion_tokens ?? 40),
      total_time: 0.08,
      ...(b.cached_tokens ? { prompt_tokens_details: { cached_tokens: b.cached_tokens } } : {}),
    };
    const mode = b.usage ?? 'both';
    const xg = mode === 'x_groq' || mode === 'both' ? { x_groq: { id: REQ, usage } } : {};
    send(chunk({}, b.finish_reason ?? 'stop', xg));
    if (mode === 'usage' || mode === 'both') {
      send({ id: ID, object: 'chat.completion.chunk', created: 1729171479, model, system_fingerprint: 'fp_10c08bf97d', choices: [], usage });
    }
    if (!b.omit_done) send('[DONE]');
    res.end();
  }

  return {
    baseUrl: `http://127.0.0.1:${port}/openai/v1`,
    requests,
    enqueue: (...b) => queue.push(...b),
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** An answer that changes `file` from `from` to `to` as a fenced git-style diff. */
export function diffAnswer(file: string, from: string, to: string): string[] {
  return [`I updated ${file}.\n\n`, '```diff\n', `--- a/${file}\n+++ b/${file}\n`, '@@ -1,3 +1,3 @@\n', ` line one\n-${from}\n+${to}\n line three\n`, '```\n'];
}
