/**
 * OpenAI-compatible engines (Groq, Ollama, vLLM, LM Studio…): one streaming
 * chat completion per attempt. The answer is text; a fenced unified diff in
 * it is applied to the workspace (diff-apply.ts).
 *
 * Failures are classified (http-retry.ts): 429 and 5xx are retried before any
 * output arrived, honouring Retry-After; 401/403 and 400/422 are not.
 * Spend is capped before the call: `max_tokens` is what the budget left after
 * the (pessimistically estimated) prompt can pay for, so the provider itself
 * stops generating; the final cost is priced from the reported usage (Groq
 * reports tokens, not cost) and checked against the budget.
 */
import { budgetExceededError, budgetExhausted } from '../core/budget.js';
import type { Engine, EngineEvent, EngineRequest } from '../core/engine.js';
import { estimateCost, formatUsd, priceUsage, resolvePrice, type PriceTable } from '../core/pricing.js';
import type { TokenUsage } from '../core/task.js';
import { applyDiffs, extractDiffBlocks } from './diff-apply.js';
import { gatherFileContext, renderFileContext } from './file-context.js';
import { backoffMs, classifyStatus, errorCodeFor, errorMessageOf, parseRetryAfter, sleep } from './http-retry.js';
import { applyChunk, newChunkState, sseParser, type ChunkState } from './sse.js';
import { truncate } from './stream-util.js';

export interface OpenAIEngineOptions {
  name: string;
  baseUrl: string;
  apiKey: string | null;
  apiKeyEnv?: string | null; // named in the message when the key is missing or refused
  defaultModel: string;
  pricing: PriceTable;
  fetchImpl?: typeof fetch;
  maxRetries?: number; // retries after the first request (default 3)
  retryBaseMs?: number; // backoff base (default 500 ms)
  retryMaxMs?: number; // backoff cap (default 8 s)
  maxRetryAfterMs?: number; // a longer Retry-After fails at once instead of waiting (default 60 s)
  maxTokens?: number; // default 8192
  applyDiffs?: boolean; // default true
  fileContext?: boolean; // include files named in the task (default true)
  systemPrompt?: string;
  random?: () => number; // backoff jitter
}

export const DIFF_SYSTEM_PROMPT = [
  'You are a careful software engineer working on a repository. You cannot run commands or open files;',
  'the task and the current contents of the files it names are in the user message.',
  'If the task needs files to change, reply with one or two sentences on what you changed, then ONE fenced',
  'code block that opens with ```diff and closes with ```, containing a unified diff in git format: "--- a/path" and "+++ b/path" headers with',
  'paths relative to the repository root ("--- /dev/null" for a new file), "@@" hunk headers, and three',
  'unchanged context lines around each change copied exactly from the current file. Never use absolute paths',
  'or "..". If no file needs to change, answer in plain text without a diff block.',
].join(' ');

type Done = Extract<EngineEvent, { type: 'done' }>;

/** Below this many affordable output tokens an answer is not worth starting. */
const MIN_OUTPUT_TOKENS = 256;

export function createOpenAIEngine(opts: OpenAIEngineOptions): Engine {
  return { name: opts.name, run: (req) => runOpenAI(opts, req) };
}

async function* runOpenAI(o: OpenAIEngineOptions, req: EngineRequest): AsyncGenerator<EngineEvent> {
  const model = req.model ?? o.defaultModel;
  yield { type: 'info', engine: o.name, model };
  if (!o.apiKey && o.apiKeyEnv) {
    yield fail('E_ENGINE_AUTH', `${o.name}: ${o.apiKeyEnv} is not set; export it (or change engines.providers.${o.name}.api_key_env) to use this engine`);
    return;
  }
  if (req.signal.aborted) {
    yield fail('E_CANCELLED', 'cancelled before start');
    return;
  }

  const files = o.fileContext === false ? [] : await gatherFileContext(req.workspace, req.prompt);
  const user = files.length ? `${req.prompt}\n\n${renderFileContext(files)}` : req.prompt;
  const system = o.systemPrompt ?? DIFF_SYSTEM_PROMPT;
  const cap = outputCap(o.pricing, model, system.length + user.length, req.budget_usd, o.maxTokens ?? 8192);
  if (!cap.ok) {
    yield fail('E_BUDGET', cap.reason);
    return;
  }
  const body = JSON.stringify({
    model,
    messages: [
      { role: 'system', content: system },
      { role: 'user', content: user },
    ],
    stream: true,
    stream_options: { include_usage: true },
    max_tokens: cap.maxTokens,
  });
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream' };
  if (o.apiKey) headers.authorization = `Bearer ${o.apiKey}`;
  const url = `${o.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  const doFetch = o.fetchImpl ?? fetch;

  // One controller for the HTTP exchange; whoever stops it first records why.
  const ac = new AbortController();
  const ctl = { stop: null as Done | null, silence: null as NodeJS.Timeout | null };
  const stop = (d: Done): void => {
    if (ctl.stop) return;
    ctl.stop = d;
    ac.abort();
  };
  const disarmSilence = (): void => {
    if (ctl.silence) clearTimeout(ctl.silence);
    ctl.silence = null;
  };
  const armSilence = (): void => {
    disarmSilence();
    const ms = req.silence_timeout_ms;
    if (ms !== null) ctl.silence = setTimeout(() => stop(fail('E_TIMEOUT', `no data from ${o.name} for ${ms} ms (silence timeout)`)), ms);
  };
  const wall =
    req.run_timeout_ms === null
      ? null
      : setTimeout(() => stop(fail('E_TIMEOUT', `no answer from ${o.name} after ${req.run_timeout_ms} ms (run timeout)`)), req.run_timeout_ms);
  const onAbort = (): void => stop(fail('E_CANCELLED', 'cancelled'));
  req.signal.addEventListener('abort', onAbort, { once: true });

  try {
    // 1. The request, retried while nothing has been streamed yet.
    let res: Response | null = null;
    const maxRetries = o.maxRetries ?? 3;
    for (let attempt = 0; res === null; attempt += 1) {
      armSilence();
      let r: Response;
      try {
        r = await doFetch(url, { method: 'POST', headers, body, signal: ac.signal });
      } catch (err) {
        if (ctl.stop) return yield ctl.stop;
        const why = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
        if (attempt >= maxRetries) return yield fail('E_ENGINE', `could not reach ${o.name} at ${o.baseUrl} after ${attempt + 1} attempt(s): ${why}`);
        const wait = backoffMs(attempt, o.retryBaseMs ?? 500, o.retryMaxMs ?? 8_000, o.random ?? Math.random);
        yield notice(`${o.name}: request failed (${why}); retrying in ${(wait / 1000).toFixed(1)} s`);
        if (!(await pause(wait))) return yield ctl.stop ?? fail('E_CANCELLED', 'cancelled');
        continue;
      }
      if (r.ok) {
        res = r;
        break;
      }
      const text = await r.text().catch(() => '');
      const cls = classifyStatus(r.status);
      const message = errorMessageOf(text);
      const retryAfter = parseRetryAfter(r.headers.get('retry-after'), Date.now());
      if ((cls === 'rate_limited' || cls === 'server') && attempt < maxRetries && (retryAfter ?? 0) <= (o.maxRetryAfterMs ?? 60_000)) {
        const wait = retryAfter ?? backoffMs(attempt, o.retryBaseMs ?? 500, o.retryMaxMs ?? 8_000, o.random ?? Math.random);
        yield notice(`${o.name}: HTTP ${r.status}${message ? ` (${truncate(message, 200)})` : ''}; retrying in ${(wait / 1000).toFixed(1)} s`);
        if (!(await pause(wait))) return yield ctl.stop ?? fail('E_CANCELLED', 'cancelled');
        continue;
      }
      return yield fail(errorCodeFor(cls), httpFailure(o, r.status, cls, message, attempt + 1, retryAfter));
    }

    // 2. The stream.
    const state = newChunkState();
    const reader = res.body?.getReader();
    if (!reader) return yield fail('E_ENGINE', `${o.name} returned an empty body`);
    const decoder = new TextDecoder();
    const pending: EngineEvent[] = [];
    let malformed: string | null = null;
    const parser = sseParser((data) => {
      if (malformed || state.done) return;
      const out = applyChunk(state, data);
      if (out.kind === 'error') malformed = out.message;
      else if (out.kind === 'text') pending.push({ type: 'output', stream: 'text', text: out.text });
    });
    try {
      for (;;) {
        armSilence();
        const { done, value } = await reader.read();
        if (done) {
          parser.push(decoder.decode());
          parser.flush();
        } else {
          parser.push(decoder.decode(value, { stream: true }));
        }
        yield* pending.splice(0);
        if (malformed) return yield fail('E_ENGINE', `${o.name}: ${malformed}`);
        if (done || state.done) break;
      }
    } catch (err) {
      yield* pending.splice(0);
      if (ctl.stop) return yield* finishStopped(state, ctl.stop);
      return yield fail('E_ENGINE', `${o.name}: the stream broke: ${err instanceof Error ? err.message : String(err)}`);
    }
    disarmSilence();
    if (!state.done && !state.finish_reason) return yield fail('E_ENGINE', `${o.name}: the stream ended before the answer was complete`);

    // 3. Usage, cost, budget.
    const usd = yield* reportCost(state);
    if (usd !== null && budgetExhausted(usd, req.budget_usd)) return yield fail('E_BUDGET', budgetExceededError(usd, req.budget_usd).message);

    // 4. Changes.
    const truncated = state.finish_reason === 'length' ? ' (the answer was cut off at max_tokens)' : '';
    const blocks = o.applyDiffs === false ? [] : extractDiffBlocks(state.text);
    if (blocks.length === 0) {
      return yield { type: 'done', ok: true, summary: truncate(state.text.trim() || '(empty answer)', 2000) + truncated };
    }
    const applied = await applyDiffs(req.workspace, blocks, req.env.PATH ? { path: req.env.PATH } : {});
    if (!applied.ok) return yield fail('E_CONFLICT', `the answer's diff was not applied: ${applied.reason}${truncated}`);
    yield notice(`applied diff: ${applied.files.join(', ')}`);
    return yield { type: 'done', ok: true, summary: `applied diff to ${applied.files.length} file(s): ${applied.files.join(', ')}${truncated}` };
  } finally {
    req.signal.removeEventListener('abort', onAbort);
    disarmSilence();
    if (wall) clearTimeout(wall);
    ac.abort(); // releases the connection if we stopped early
  }

  function pause(ms: number): Promise<boolean> {
    disarmSilence(); // a deliberate wait is not silence
    return sleep(ms, ac.signal);
  }

  function* reportCost(state: ChunkState): Generator<EngineEvent, number | null> {
    if (!state.usage) {
      yield notice(`${o.name} reported no token usage; cost unknown`);
      yield { type: 'cost', usd: null, source: 'unknown' };
      return null;
    }
    const cached = Math.min(state.usage.cached_tokens, state.usage.prompt_tokens);
    const usage: TokenUsage = { input: state.usage.prompt_tokens - cached, output: state.usage.completion_tokens, cache_read: cached, cache_write: 0 };
    yield { type: 'usage', usage };
    const priced = priceUsage(o.pricing, model, usage).usd ?? (state.model ? priceUsage(o.pricing, state.model, usage).usd : null);
    yield priced === null ? { type: 'cost', usd: null, source: 'unknown' } : { type: 'cost', usd: priced, source: 'priced' };
    return priced;
  }

  function* finishStopped(state: ChunkState, d: Done): Generator<EngineEvent> {
    if (state.usage) yield* reportCost(state);
    yield d;
  }
}

function fail(code: string, summary: string): Done {
  return { type: 'done', ok: false, summary, error_code: code };
}

function notice(text: string): EngineEvent {
  return { type: 'output', stream: 'stderr', text };
}

function httpFailure(o: OpenAIEngineOptions, status: number, cls: string, message: string, attempts: number, retryAfter: number | null): string {
  const base = `${o.name} answered HTTP ${status}${message ? `: ${truncate(message, 500)}` : ''}`;
  switch (cls) {
    case 'auth':
      return `${base} — the API key was refused${o.apiKeyEnv ? `; check ${o.apiKeyEnv}` : ''}`;
    case 'bad_request':
      return `${base} — the request was rejected (model name, prompt size?); not retried`;
    case 'rate_limited':
      return retryAfter !== null && attempts === 1
        ? `${base} — rate limited and Retry-After (${Math.round(retryAfter / 1000)} s) is longer than we wait`
        : `${base} — still rate limited after ${attempts} attempt(s)`;
    case 'server':
      return `${base} — server error after ${attempts} attempt(s)`;
    default:
      return base;
  }
}

/** max_tokens the budget can pay for after the prompt; refuses when that is too few to be useful. */
export function outputCap(
  pricing: PriceTable,
  model: string,
  promptChars: number,
  budgetUsd: number,
  maxTokens: number,
): { ok: true; maxTokens: number } | { ok: false; reason: string } {
  const found = resolvePrice(pricing, model);
  if (!found || found.price.output === 0) return { ok: true, maxTokens };
  const inputUsd = estimateCost(pricing, model, promptChars, 0).usd ?? 0;
  const affordable = Math.floor(((budgetUsd - inputUsd) * 1_000_000) / found.price.output);
  if (affordable < Math.min(MIN_OUTPUT_TOKENS, maxTokens)) {
    return {
      ok: false,
      reason: `budget ${formatUsd(budgetUsd)} leaves room for ${Math.max(0, affordable)} output tokens after the prompt (~${formatUsd(inputUsd)}); at least ${MIN_OUTPUT_TOKENS} are needed`,
    };
  }
  return { ok: true, maxTokens: Math.min(maxTokens, affordable) };
}
