/**
 * Server-sent events for OpenAI-compatible streaming chat completions:
 * `data:` lines (one JSON chat.completion.chunk each), blank line between
 * events, `data: [DONE]` at the end. The chunk reader accepts the usage where
 * each server puts it: OpenAI's final `usage` chunk (stream_options.include_usage)
 * or Groq's `x_groq.usage` on the last content chunk (Groq may send both).
 */

/** Field parser per the SSE spec: multi-line data joined with "\n", comments and other fields ignored. */
export function sseParser(onData: (data: string) => void): { push(chunk: string): void; flush(): void } {
  let buf = '';
  let data: string[] = [];
  const dispatch = (): void => {
    if (data.length) onData(data.join('\n'));
    data = [];
  };
  const line = (raw: string): void => {
    const l = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (l === '') return dispatch();
    if (l.startsWith(':')) return;
    const colon = l.indexOf(':');
    const field = colon < 0 ? l : l.slice(0, colon);
    if (field !== 'data') return;
    let value = colon < 0 ? '' : l.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    data.push(value);
  };
  return {
    push(chunk: string): void {
      buf += chunk;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        line(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
      }
    },
    flush(): void {
      if (buf) line(buf);
      buf = '';
      dispatch();
    },
  };
}

export interface ApiUsage {
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
}

export interface ChunkState {
  text: string;
  finish_reason: string | null;
  usage: ApiUsage | null;
  model: string | null;
  done: boolean; // saw [DONE]
}

export const newChunkState = (): ChunkState => ({ text: '', finish_reason: null, usage: null, model: null, done: false });

export type ChunkOutcome = { kind: 'text'; text: string } | { kind: 'none' } | { kind: 'done' } | { kind: 'error'; message: string };

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);

function usageOf(u: unknown): ApiUsage | null {
  if (!isObj(u) || (typeof u.prompt_tokens !== 'number' && typeof u.completion_tokens !== 'number')) return null;
  const details = isObj(u.prompt_tokens_details) ? u.prompt_tokens_details : {};
  return { prompt_tokens: count(u.prompt_tokens), completion_tokens: count(u.completion_tokens), cached_tokens: count(details.cached_tokens) };
}

/** Folds one SSE data payload into the state. A payload that is not a chunk is an error (malformed stream). */
export function applyChunk(state: ChunkState, data: string): ChunkOutcome {
  if (data.trim() === '[DONE]') {
    state.done = true;
    return { kind: 'done' };
  }
  let chunk: unknown;
  try {
    chunk = JSON.parse(data);
  } catch {
    return { kind: 'error', message: `malformed stream chunk (not JSON): ${data.length > 200 ? `${data.slice(0, 200)}…` : data}` };
  }
  if (!isObj(chunk)) return { kind: 'error', message: `malformed stream chunk (not an object): ${data.slice(0, 200)}` };
  if (chunk.error !== undefined) {
    const err = chunk.error;
    const msg = isObj(err) && typeof err.message === 'string' ? err.message : JSON.stringify(err);
    return { kind: 'error', message: `the server reported an error mid-stream: ${msg}` };
  }
  if (typeof chunk.model === 'string') state.model = chunk.model;
  const usage = usageOf(chunk.usage) ?? (isObj(chunk.x_groq) ? usageOf(chunk.x_groq.usage) : null);
  if (usage) state.usage = usage;
  if (!Array.isArray(chunk.choices)) {
    return usage ? { kind: 'none' } : { kind: 'error', message: `malformed stream chunk (no choices): ${data.slice(0, 200)}` };
  }
  let text = '';
  for (const choice of chunk.choices) {
    if (!isObj(choice)) continue;
    if (typeof choice.finish_reason === 'string') state.finish_reason = choice.finish_reason;
    const delta = isObj(choice.delta) ? choice.delta : null;
    if (delta && typeof delta.content === 'string') text += delta.content;
  }
  if (!text) return { kind: 'none' };
  state.text += text;
  return { kind: 'text', text };
}
