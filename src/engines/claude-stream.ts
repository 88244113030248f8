/**
 * Parser for `claude -p --output-format stream-json --verbose` output: one
 * JSON record per line (shapes as recorded from Claude Code 2.1.x):
 *
 *   {"type":"system","subtype":"init","session_id":…,"model":"claude-…","tools":[…],…}
 *   {"type":"assistant","message":{"id":"msg_…","content":[{"type":"text",…}|{"type":"tool_use",…}],"usage":{…}},…}
 *   {"type":"user","message":{"content":[{"type":"tool_result","content":…}]},…}
 *   {"type":"result","subtype":"success"|"error_max_turns"|"error_during_execution"|…,
 *    "is_error":bool,"result":"…","errors":[…],"total_cost_usd":0.13,"usage":{…},
 *    "api_error_status":401|null,"modelUsage":{"claude-…":{"inputTokens":…,"costUSD":…}}}
 *   {"type":"system","subtype":"api_retry","attempt":1,"max_retries":10,"retry_delay_ms":620,
 *    "error_status":401,"error":"authentication_failed"}          (Claude Code 2.1.197)
 *   {"type":"control_request","request_id":…,"request":{"subtype":"can_use_tool",
 *    "tool_name":"Write","input":{…},"tool_use_id":…}}          (--permission-prompt-tool stdio)
 *
 * One API message is split into several assistant records (one per content
 * block) that repeat the same id and usage, so usage is kept per message id
 * and summed over distinct ids. Lines that are not JSON are passed through as
 * stderr output; unknown record types are ignored (the CLI adds new ones).
 */
import type { EngineEvent } from '../core/engine.js';
import { addUsage, ZERO_USAGE, type TokenUsage } from '../core/task.js';
import { truncate } from './stream-util.js';

export interface ClaudeResult {
  subtype: string;
  is_error: boolean;
  text: string;
  errors: string[];
  total_cost_usd: number | null;
  usage: TokenUsage | null;
  num_turns: number | null;
  api_error_status: number | null;
  model_usage: { model: string; usage: TokenUsage; cost_usd: number | null }[];
}

export interface ApiRetry {
  attempt: number;
  max_retries: number | null;
  status: number | null;
  error: string; // the CLI's short error kind ("authentication_failed", "overloaded", …)
  delay_ms: number | null;
}

export interface ControlRequest {
  request_id: string;
  subtype: string; // 'can_use_tool' is the one colony answers
  tool_name: string;
  input: Record<string, unknown>;
  tool_use_id: string | null;
}

export interface ClaudeStreamState {
  session_id: string | null;
  model: string | null;
  usage_by_message: Map<string, TokenUsage>;
  anonymous_usage: TokenUsage; // assistant records without a message id
  result: ClaudeResult | null;
  last_retry: ApiRetry | null;
}

export function newClaudeStreamState(): ClaudeStreamState {
  return { session_id: null, model: null, usage_by_message: new Map(), anonymous_usage: ZERO_USAGE, result: null, last_retry: null };
}

/** Usage summed over distinct assistant messages seen so far. */
export function streamUsage(state: ClaudeStreamState): TokenUsage {
  let total = state.anonymous_usage;
  for (const u of state.usage_by_message.values()) total = addUsage(total, u);
  return total;
}

export interface ParsedLine {
  events: EngineEvent[];
  usage_changed: boolean;
  api_retry?: ApiRetry;
  control?: ControlRequest;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export function usageFromClaude(u: unknown): TokenUsage | null {
  if (!isObj(u)) return null;
  return {
    input: num(u.input_tokens),
    output: num(u.output_tokens),
    cache_read: num(u.cache_read_input_tokens),
    cache_write: num(u.cache_creation_input_tokens),
  };
}

export function parseClaudeLine(line: string, state: ClaudeStreamState): ParsedLine {
  const trimmed = line.trim();
  if (!trimmed) return { events: [], usage_changed: false };
  let rec: unknown;
  try {
    rec = JSON.parse(trimmed);
  } catch {
    return { events: [{ type: 'output', stream: 'stderr', text: truncate(line, 2000) }], usage_changed: false };
  }
  if (!isObj(rec)) return { events: [{ type: 'output', stream: 'stderr', text: truncate(line, 2000) }], usage_changed: false };

  switch (rec.type) {
    case 'system':
      if (rec.subtype === 'init') {
        state.session_id = str(rec.session_id) ?? state.session_id;
        state.model = str(rec.model) ?? state.model;
        const info: EngineEvent = { type: 'info', engine: 'claude', model: state.model };
        if (state.session_id) info.session_id = state.session_id;
        return { events: [info], usage_changed: false };
      }
      if (rec.subtype === 'api_retry') {
        const r: ApiRetry = {
          attempt: num(rec.attempt),
          max_retries: typeof rec.max_retries === 'number' ? rec.max_retries : null,
          status: typeof rec.error_status === 'number' ? rec.error_status : null,
          error: str(rec.error) ?? 'unknown',
          delay_ms: typeof rec.retry_delay_ms === 'number' ? Math.round(rec.retry_delay_ms) : null,
        };
        state.last_retry = r;
        return { events: [], usage_changed: false, api_retry: r };
      }
      return { events: [], usage_changed: false };
    case 'control_request': {
      const req = isObj(rec.request) ? rec.request : null;
      const id = str(rec.request_id);
      if (!req || !id) return { events: [], usage_changed: false };
      const control: ControlRequest = {
        request_id: id,
        subtype: str(req.subtype) ?? 'unknown',
        tool_name: str(req.tool_name) ?? 'unknown',
        input: isObj(req.input) ? req.input : {},
        tool_use_id: str(req.tool_use_id),
      };
      return { events: [], usage_changed: false, control };
    }
    case 'assistant':
      return assistantEvents(rec, state);
    case 'user':
      return { events: toolResultEvents(rec), usage_changed: false };
    case 'result':
      state.result = parseResult(rec);
      return { events: [], usage_changed: false };
    default:
      return { events: [], usage_changed: false };
  }
}

function assistantEvents(rec: Json, state: ClaudeStreamState): ParsedLine {
  const msg = isObj(rec.message) ? rec.message : null;
  if (!msg) return { events: [], usage_changed: false };
  if (!state.model) state.model = str(msg.model);
  const events: EngineEvent[] = [];
  const content = Array.isArray(msg.content) ? msg.content : [];
  for (const block of content) {
    if (!isObj(block)) continue;
    if (block.type === 'text' && typeof block.text === 'string' && block.text) {
      events.push({ type: 'output', stream: 'text', text: block.text });
    } else if (block.type === 'tool_use') {
      events.push({ type: 'output', stream: 'stdout', text: `[tool] ${str(block.name) ?? 'unknown'} ${describeInput(block.input)}` });
    }
  }
  const usage = usageFromClaude(msg.usage);
  let usage_changed = false;
  if (usage) {
    const id = str(msg.id);
    if (id) {
      const prev = state.usage_by_message.get(id);
      usage_changed =
        !prev || prev.input !== usage.input || prev.output !== usage.output || prev.cache_read !== usage.cache_read || prev.cache_write !== usage.cache_write;
      state.usage_by_message.set(id, usage);
    } else {
      state.anonymous_usage = addUsage(state.anonymous_usage, usage);
      usage_changed = true;
    }
  }
  return { events, usage_changed };
}

function toolResultEvents(rec: Json): EngineEvent[] {
  const msg = isObj(rec.message) ? rec.message : null;
  const content = msg && Array.isArray(msg.content) ? msg.content : [];
  const events: EngineEvent[] = [];
  for (const block of content) {
    if (!isObj(block) || block.type !== 'tool_result') continue;
    const c = block.content;
    const text = typeof c === 'string' ? c : Array.isArray(c) ? c.map((x) => (isObj(x) && typeof x.text === 'string' ? x.text : '')).join('\n') : '';
    const prefix = block.is_error === true ? '[tool error] ' : '[tool result] ';
    if (text.trim()) events.push({ type: 'output', stream: 'stdout', text: prefix + truncate(text.trim(), 500) });
  }
  return events;
}

function parseResult(rec: Json): ClaudeResult {
  const errors = Array.isArray(rec.errors) ? rec.errors.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))) : [];
  const cost = rec.total_cost_usd;
  return {
    subtype: str(rec.subtype) ?? 'unknown',
    is_error: rec.is_error === true,
    text: str(rec.result) ?? '',
    errors,
    total_cost_usd: typeof cost === 'number' && Number.isFinite(cost) && cost >= 0 ? cost : null,
    usage: usageFromClaude(rec.usage),
    num_turns: typeof rec.num_turns === 'number' ? rec.num_turns : null,
    api_error_status: typeof rec.api_error_status === 'number' ? rec.api_error_status : null,
    model_usage: parseModelUsage(rec.modelUsage),
  };
}

/** `modelUsage`: per model id, the tokens and the cost the CLI charged (camelCase, unlike `usage`). */
function parseModelUsage(v: unknown): ClaudeResult['model_usage'] {
  if (!isObj(v)) return [];
  return Object.entries(v).flatMap(([model, u]) => {
    if (!isObj(u)) return [];
    const cost = u.costUSD;
    return [
      {
        model,
        usage: {
          input: num(u.inputTokens),
          output: num(u.outputTokens),
          cache_read: num(u.cacheReadInputTokens),
          cache_write: num(u.cacheCreationInputTokens),
        },
        cost_usd: typeof cost === 'number' && Number.isFinite(cost) && cost >= 0 ? cost : null,
      },
    ];
  });
}

function describeInput(input: unknown): string {
  if (!isObj(input)) return '';
  const keyField = ['command', 'file_path', 'path', 'pattern', 'url', 'description'].find((k) => typeof input[k] === 'string');
  if (keyField) return truncate(String(input[keyField]), 200);
  return truncate(JSON.stringify(input), 200);
}

/** One line for a failed result: subtype plus the CLI's own error text (errors[] may be empty, see claude-code-action#823). */
export function describeFailedResult(r: ClaudeResult): string {
  const detail = r.errors.join('; ') || r.text;
  const what = r.subtype === 'success' ? 'claude reported an error' : `claude stopped: ${r.subtype}`;
  return detail ? `${what}: ${truncate(detail, 1000)}` : what;
}
