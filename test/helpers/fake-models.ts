/**
 * Fake model APIs for the real agent CLIs (scripted turn by turn, see
 * fake-model-core.ts):
 * - Anthropic Messages (Claude Code): `HEAD /`, `POST /v1/messages/count_tokens`,
 *   streaming `POST /v1/messages` (message_start … message_stop);
 * - OpenAI Responses (Codex): `POST /v1/responses` SSE (response.created …
 *   response.completed with usage);
 * - Gemini (Gemini CLI): `POST /v1beta/models/M:streamGenerateContent?alt=sse`,
 *   `:generateContent` and `:countTokens` side calls;
 * - OpenAI chat completions (opencode): streaming chunks, tool_calls deltas,
 *   a usage chunk (include_usage) and `[DONE]`; title requests are side calls.
 */
import { DEFAULT_USAGE, isObj, json, startFakeModelServer, type FakeModelServer, type Protocol, type RenderCtx, type Turn } from './fake-model-core.js';

export type { FakeModelServer, Turn } from './fake-model-core.js';

type Rendered = Exclude<Turn, { kind: 'error' }>;
const modelOf = (body: unknown, dflt: string): string => (isObj(body) && typeof body.model === 'string' ? body.model : dflt);

// ---------------------------------------------------------------- Anthropic
const ANTHROPIC_ERR: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  429: 'rate_limit_error',
  500: 'api_error',
  503: 'overloaded_error',
  529: 'overloaded_error',
};

function renderAnthropic(turn: Rendered, c: RenderCtx): void {
  const model = modelOf(c.body, 'claude-sonnet-4-5-20250929');
  const u = turn.kind === 'stall' ? DEFAULT_USAGE : (turn.usage ?? DEFAULT_USAGE);
  const id = `msg_fake${String(c.seq).padStart(4, '0')}`;
  if (isObj(c.body) && c.body.stream !== true) {
    const content =
      turn.kind === 'tool'
        ? [{ type: 'tool_use', id: turn.id ?? `toolu_${c.seq}`, name: turn.name, input: turn.input }]
        : [{ type: 'text', text: turn.kind === 'text' ? turn.text : '' }];
    json(c.res, 200, {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content,
      stop_reason: turn.kind === 'tool' ? 'tool_use' : 'end_turn',
      stop_sequence: null,
      usage: anthropicUsage(u),
    });
    return;
  }
  c.sse('message_start', {
    type: 'message_start',
    message: {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...anthropicUsage(u), output_tokens: 1 },
    },
  });
  let index = 0;
  const text = turn.kind === 'tool' ? turn.text : turn.text;
  if (text) {
    c.sse('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
    c.sse('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text } });
    if (turn.kind === 'stall') return; // headers and some text sent, then silence
    c.sse('content_block_stop', { type: 'content_block_stop', index });
    index += 1;
  } else if (turn.kind === 'stall') return;
  if (turn.kind === 'tool') {
    c.sse('content_block_start', {
      type: 'content_block_start',
      index,
      content_block: { type: 'tool_use', id: turn.id ?? `toolu_fake${c.seq}`, name: turn.name, input: {} },
    });
    c.sse('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(turn.input) } });
    c.sse('content_block_stop', { type: 'content_block_stop', index });
  }
  const finish = (): void => {
    c.sse('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: turn.kind === 'tool' ? 'tool_use' : 'end_turn', stop_sequence: null },
      usage: { output_tokens: u.output },
    });
    c.sse('message_stop', { type: 'message_stop' });
    c.res.end();
  };
  if (turn.kind === 'text' && turn.delay_ms) setTimeout(finish, turn.delay_ms);
  else finish();
}

function anthropicUsage(u: { input: number; output: number; cache_read?: number; cache_write?: number }): Record<string, number> {
  return { input_tokens: u.input, output_tokens: u.output, cache_read_input_tokens: u.cache_read ?? 0, cache_creation_input_tokens: u.cache_write ?? 0 };
}

export const ANTHROPIC: Protocol = {
  name: 'anthropic',
  side(req, path, _body, res) {
    if (req.method === 'HEAD' || req.method === 'GET') {
      res.writeHead(200);
      res.end();
      return true;
    }
    if (path.startsWith('/v1/messages/count_tokens')) return json(res, 200, { input_tokens: 1200 });
    if (!path.startsWith('/v1/messages')) return json(res, 404, { type: 'error', error: { type: 'not_found_error', message: `no route ${path}` } });
    return false;
  },
  render: renderAnthropic,
  errorBody: (status, message) => ({ type: 'error', error: { type: ANTHROPIC_ERR[status] ?? 'api_error', message } }),
};

// ---------------------------------------------------------------- OpenAI Responses
function renderResponses(turn: Rendered, c: RenderCtx): void {
  const model = modelOf(c.body, 'gpt-5-codex');
  const rid = `resp_fake${c.seq}`;
  const base = { id: rid, object: 'response', created_at: 1764806400, model, status: 'in_progress', output: [] as unknown[] };
  c.sse('response.created', { type: 'response.created', sequence_number: 0, response: base });
  const output: unknown[] = [];
  let oi = 0;
  const text = turn.text;
  if (text) {
    const item = { type: 'message', id: `msg_fake${c.seq}`, role: 'assistant', status: 'completed', content: [{ type: 'output_text', text, annotations: [] }] };
    c.sse('response.output_item.added', { type: 'response.output_item.added', output_index: oi, item: { ...item, status: 'in_progress', content: [] } });
    c.sse('response.output_text.delta', { type: 'response.output_text.delta', item_id: item.id, output_index: oi, content_index: 0, delta: text });
    if (turn.kind === 'stall') return;
    c.sse('response.output_item.done', { type: 'response.output_item.done', output_index: oi, item });
    output.push(item);
    oi += 1;
  } else if (turn.kind === 'stall') return;
  if (turn.kind === 'tool') {
    const item = {
      type: 'function_call',
      id: `fc_fake${c.seq}`,
      call_id: turn.id ?? `call_fake${c.seq}`,
      name: turn.name,
      arguments: JSON.stringify(turn.input),
      status: 'completed',
    };
    c.sse('response.output_item.added', { type: 'response.output_item.added', output_index: oi, item: { ...item, arguments: '', status: 'in_progress' } });
    c.sse('response.output_item.done', { type: 'response.output_item.done', output_index: oi, item });
    output.push(item);
  }
  const u = turn.usage ?? DEFAULT_USAGE;
  const cached = u.cache_read ?? 0;
  const usage = {
    input_tokens: u.input + cached,
    input_tokens_details: { cached_tokens: cached },
    output_tokens: u.output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: u.input + cached + u.output,
  };
  c.sse('response.completed', { type: 'response.completed', response: { ...base, status: 'completed', output, usage } });
  c.res.end();
}

export const RESPONSES: Protocol = {
  name: 'responses',
  side(req, path, _body, res) {
    if (req.method !== 'POST') return json(res, 200, { object: 'list', data: [] });
    if (!path.includes('/responses')) return json(res, 404, { error: { message: `no route ${path}`, type: 'invalid_request_error' } });
    return false;
  },
  render: renderResponses,
  errorBody: (status, message) => ({
    error: {
      message,
      type: status === 401 ? 'invalid_request_error' : status === 429 ? 'rate_limit_exceeded' : 'server_error',
      code: status === 401 ? 'invalid_api_key' : null,
    },
  }),
};

// ---------------------------------------------------------------- Gemini
function geminiChunk(parts: unknown[], finish: string | null, u: { input: number; output: number } | null, model: string): unknown {
  const cand: Record<string, unknown> = { content: { role: 'model', parts }, index: 0 };
  if (finish) cand.finishReason = finish;
  const out: Record<string, unknown> = { candidates: [cand], modelVersion: model, responseId: 'fake-gemini' };
  if (u) out.usageMetadata = { promptTokenCount: u.input, candidatesTokenCount: u.output, totalTokenCount: u.input + u.output };
  return out;
}

function geminiModel(path: string): string {
  return /\/models\/([^:?]+)/.exec(path)?.[1] ?? 'gemini-2.5-flash';
}

function renderGemini(turn: Rendered, c: RenderCtx): void {
  const model = geminiModel(c.path);
  const u = turn.kind === 'stall' ? DEFAULT_USAGE : (turn.usage ?? DEFAULT_USAGE);
  const parts: unknown[] = [];
  if (turn.text) parts.push({ text: turn.text });
  if (turn.kind === 'tool') parts.push({ functionCall: { name: turn.name, args: turn.input } });
  if (turn.kind === 'stall') {
    c.sse(null, geminiChunk([{ text: turn.text ?? 'Working' }], null, null, model));
    return;
  }
  c.sse(null, geminiChunk(parts, 'STOP', u, model));
  c.res.end();
}

export const GEMINI: Protocol = {
  name: 'gemini',
  side(req, path, _body, res) {
    if (req.method !== 'POST') return json(res, 200, { models: [] });
    if (path.includes(':countTokens')) return json(res, 200, { totalTokens: 1200 });
    // Non-streaming side calls (next-speaker checks, routing, summaries): a short neutral JSON answer.
    if (path.includes(':generateContent')) {
      return json(
        res,
        200,
        geminiChunk([{ text: '{"reasoning":"The task is complete.","next_speaker":"user"}' }], 'STOP', { input: 10, output: 5 }, geminiModel(path)),
      );
    }
    if (!path.includes(':streamGenerateContent')) return json(res, 404, { error: { code: 404, message: `no route ${path}`, status: 'NOT_FOUND' } });
    return false;
  },
  render: renderGemini,
  errorBody: (status, message) => ({
    error: {
      code: status,
      message,
      status: status === 401 ? 'UNAUTHENTICATED' : status === 403 ? 'PERMISSION_DENIED' : status === 429 ? 'RESOURCE_EXHAUSTED' : 'UNAVAILABLE',
    },
  }),
};

// ---------------------------------------------------------------- OpenAI chat completions
const isTitleRequest = (body: unknown): boolean =>
  isObj(body) &&
  Array.isArray(body.messages) &&
  body.messages.some(
    (m) => isObj(m) && m.role === 'system' && typeof m.content === 'string' && /title generator|generate a title|a title for/i.test(m.content),
  );

function renderChat(turn: Rendered, c: RenderCtx): void {
  const model = modelOf(c.body, 'fake-model');
  const id = `chatcmpl-fake${c.seq}`;
  const chunk = (delta: Record<string, unknown>, finish: string | null = null): unknown => ({
    id,
    object: 'chat.completion.chunk',
    created: 1764806400,
    model,
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  c.sse(null, chunk({ role: 'assistant', content: '' }));
  if (turn.text) c.sse(null, chunk({ content: turn.text }));
  if (turn.kind === 'stall') return;
  if (turn.kind === 'tool') {
    c.sse(
      null,
      chunk({
        tool_calls: [{ index: 0, id: turn.id ?? `call_fake${c.seq}`, type: 'function', function: { name: turn.name, arguments: JSON.stringify(turn.input) } }],
      }),
    );
  }
  c.sse(null, chunk({}, turn.kind === 'tool' ? 'tool_calls' : 'stop'));
  const u = turn.usage ?? DEFAULT_USAGE;
  const cached = u.cache_read ?? 0;
  c.sse(null, {
    id,
    object: 'chat.completion.chunk',
    created: 1764806400,
    model,
    choices: [],
    usage: {
      prompt_tokens: u.input + cached,
      completion_tokens: u.output,
      total_tokens: u.input + cached + u.output,
      prompt_tokens_details: { cached_tokens: cached },
    },
  });
  c.sse(null, '[DONE]');
  c.res.end();
}

export const CHAT: Protocol = {
  name: 'chat',
  side(req, path, body, res) {
    if (req.method !== 'POST') return json(res, 200, { object: 'list', data: [{ id: 'fake-model', object: 'model' }] });
    if (!path.includes('/chat/completions')) return json(res, 404, { error: { message: `no route ${path}` } });
    if (isTitleRequest(body)) {
      const model = modelOf(body, 'fake-model');
      if (isObj(body) && body.stream === true) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(
          `data: ${JSON.stringify({ id: 'title', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta: { role: 'assistant', content: 'Fake title' }, finish_reason: 'stop' }] })}\n\n`,
        );
        res.end('data: [DONE]\n\n');
        return true;
      }
      return json(res, 200, {
        id: 'title',
        object: 'chat.completion',
        created: 1,
        model,
        choices: [{ index: 0, message: { role: 'assistant', content: 'Fake title' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
      });
    }
    return false;
  },
  render: renderChat,
  errorBody: (status, message) => ({
    error: { message, type: status === 401 ? 'invalid_request_error' : 'server_error', code: status === 401 ? 'invalid_api_key' : String(status) },
  }),
};

export const startFakeAnthropic = (): Promise<FakeModelServer> => startFakeModelServer(ANTHROPIC);
export const startFakeResponses = (host?: string): Promise<FakeModelServer> => startFakeModelServer(RESPONSES, host);
export const startFakeGemini = (host?: string): Promise<FakeModelServer> => startFakeModelServer(GEMINI, host);
export const startFakeChat = (host?: string): Promise<FakeModelServer> => startFakeModelServer(CHAT, host);
