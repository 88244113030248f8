/**
 * The `gemini` engine: Gemini CLI 0.61 (`gemini -p … --output-format
 * stream-json --approval-mode yolo`), a JavaScript bundle run with node.
 *
 * - It relaunches itself as a child and the parent ignores SIGTERM:
 *   GEMINI_CLI_NO_RELAUNCH=true keeps one process (child.ts signals the group anyway).
 * - Settings come from `$GEMINI_CLI_HOME/.gemini/settings.json`, written per run
 *   in a private state folder: API-key auth (else it exits 41), no usage
 *   statistics, telemetry or update checks, and the retry limit.
 * - Folder trust: `--skip-trust` (else it exits 55 in a new folder).
 * - Endpoint GOOGLE_GEMINI_BASE_URL, key GEMINI_API_KEY.
 *
 * stream-json events: init{session_id, model}, message{role, content, delta},
 * tool_use, tool_result, error, result{status, error, stats{input_tokens,
 * output_tokens, cached, models}}; no cost (tokens are priced). Tokens during
 * the run come from its chat record (`.gemini/tmp/<project>/chats/session-*.jsonl`,
 * per model message). API errors appear only on stderr: "Attempt N failed
 * with status 503 … {json}" (429/503 retried with 5–30 s backoff), and a 401
 * ends the run (exit 145) with `result.error.message` "[API Error: {json}]".
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentCliConfig } from '../core/config.js';
import type { Engine } from '../core/engine.js';
import type { PriceTable } from '../core/pricing.js';
import type { TokenUsage } from '../core/task.js';
import { parseEventLine, runCliAgent, usageOnChange, type AgentParser, type AgentSignal } from './cli-agent.js';
import { DEFAULT_ENDPOINTS } from './agent-paths.js';
import { fileTail, findFile } from './file-tail.js';
import { truncate } from './stream-util.js';

export interface GeminiEngineOptions {
  config: AgentCliConfig;
  pricing: PriceTable;
  killGraceMs: number;
  stateRoot?: string;
}

export function geminiSettings(c: AgentCliConfig): Record<string, unknown> {
  return {
    security: { auth: { selectedType: 'gemini-api-key' } },
    privacy: { usageStatisticsEnabled: false },
    telemetry: { enabled: false },
    general: {
      enableAutoUpdate: false,
      enableAutoUpdateNotification: false,
      ...(c.max_retries !== undefined ? { maxAttempts: Math.min(10, c.max_retries + 1) } : {}),
    },
  };
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);

/** The API's {"error":{code,message}} inside a line of text, or the status named in it. */
export function geminiApiError(text: string): { status: number | null; message: string } | null {
  const brace = text.indexOf('{"error"');
  if (brace >= 0) {
    const end = text.lastIndexOf('}');
    try {
      const body = JSON.parse(text.slice(brace, end + 1)) as { error?: { code?: unknown; message?: unknown } };
      if (body.error) return { status: typeof body.error.code === 'number' ? body.error.code : null, message: String(body.error.message ?? 'API error') };
    } catch {
      /* not the whole object: fall through */
    }
  }
  const m = /failed with status (\d{3})/.exec(text);
  return m ? { status: Number(m[1]), message: text.trim() } : null;
}

/** Chat-record tokens: `input` includes the cached part; thoughts are billed as output. */
function recordUsage(t: Json): TokenUsage {
  const cached = n(t.cached);
  return { input: Math.max(0, n(t.input) - cached), output: n(t.output) + n(t.thoughts), cache_read: cached, cache_write: 0 };
}

export function geminiParser(stateDir: string): AgentParser {
  const byMessage = new Map<string, TokenUsage>();
  let chat: string | null = null;
  let text = '';
  const tail = fileTail();
  const total = (): TokenUsage =>
    [...byMessage.values()].reduce(
      (a, u) => ({ input: a.input + u.input, output: a.output + u.output, cache_read: a.cache_read + u.cache_read, cache_write: 0 }),
      { input: 0, output: 0, cache_read: 0, cache_write: 0 },
    );
  const usageSignal = usageOnChange();
  return {
    stdout(line) {
      const parsed = parseEventLine(line);
      if ('signals' in parsed) return parsed.signals;
      const rec = parsed.rec;
      switch (rec.type) {
        case 'init':
          return typeof rec.session_id === 'string' ? [{ kind: 'session', id: rec.session_id, model: typeof rec.model === 'string' ? rec.model : null }] : [];
        case 'message':
          if (rec.role !== 'assistant' || typeof rec.content !== 'string') return [];
          text = rec.delta === true ? text + rec.content : rec.content;
          return [{ kind: 'output', stream: 'text', text: rec.content }];
        case 'tool_use': {
          const p = isObj(rec.parameters) ? rec.parameters : {};
          const what = p.command ?? p.file_path ?? p.path ?? p.url ?? JSON.stringify(p);
          return [{ kind: 'output', stream: 'stdout', text: `[tool] ${String(rec.tool_name ?? '?')} ${truncate(String(what), 300)}` }];
        }
        case 'tool_result':
          return rec.status === 'success'
            ? []
            : [{ kind: 'output', stream: 'stdout', text: `[tool error] ${truncate(JSON.stringify(rec.error ?? rec.output ?? ''), 500)}` }];
        case 'error':
          return [{ kind: 'output', stream: 'stderr', text: `[gemini] ${truncate(String(rec.message ?? JSON.stringify(rec)), 1000)}` }];
        case 'result': {
          const out: AgentSignal[] = [];
          const stats = isObj(rec.stats) ? rec.stats : null;
          if (stats) {
            const cached = n(stats.cached);
            out.push(
              ...usageSignal({ input: Math.max(0, n(stats.input_tokens) - cached), output: n(stats.output_tokens), cache_read: cached, cache_write: 0 }),
            );
          }
          const err = isObj(rec.error) ? String(rec.error.message ?? 'error') : null;
          const api = err ? geminiApiError(err) : null;
          if (api) out.push({ kind: 'api_error', ...api });
          out.push({ kind: 'result', ok: rec.status === 'success', text: err ?? text });
          return out;
        }
        default:
          return [];
      }
    },
    stderr(line) {
      if (/^\s+at\s/.test(line) || !line.trim()) return []; // stack frames of the errors below
      const api = /Attempt \d+ failed|Error when talking to Gemini API|ApiError/.test(line) ? geminiApiError(line) : null;
      return api ? [{ kind: 'api_error', ...api }] : [{ kind: 'output', stream: 'stderr', text: line }];
    },
    poll() {
      chat ??= findFile(join(stateDir, '.gemini', 'tmp'), (f) => f.startsWith('session-') && f.endsWith('.jsonl'));
      if (!chat) return [];
      let changed = false;
      for (const l of tail.read(chat)) {
        if (!l.includes('"tokens"')) continue;
        try {
          const r = JSON.parse(l) as Json;
          if (r.type === 'gemini' && typeof r.id === 'string' && isObj(r.tokens)) {
            byMessage.set(r.id, recordUsage(r.tokens));
            changed = true;
          }
        } catch {
          /* partial line */
        }
      }
      return changed ? usageSignal(total()) : [];
    },
  };
}

export function createGeminiEngine(o: GeminiEngineOptions): Engine {
  const c = o.config;
  const bin = c.bin ?? 'gemini';
  const viaNode = bin.endsWith('.js') || bin.endsWith('.mjs');
  return {
    name: 'gemini',
    run: (req) =>
      runCliAgent(
        {
          name: 'gemini',
          bin: viaNode ? process.execPath : bin,
          model: req.model ?? c.default_model,
          pricing: o.pricing,
          killGraceMs: o.killGraceMs,
          ...(o.stateRoot ? { stateRoot: o.stateRoot } : {}),
          missingHint: 'Install the Gemini CLI (npm @google/gemini-cli) or set engines.gemini.bin to its gemini.js.',
          endpoint: c.base_url ?? DEFAULT_ENDPOINTS.gemini,
          ...(viaNode ? { program: bin } : {}),
          async prepare(stateDir, r, model) {
            await mkdir(join(stateDir, '.gemini'), { recursive: true, mode: 0o700 }); // the task's folder may hold it from an earlier attempt
            await writeFile(join(stateDir, '.gemini', 'settings.json'), JSON.stringify(geminiSettings(c), null, 2), { mode: 0o600 });
            const key = r.env[c.api_key_env];
            const env: Record<string, string> = { ...r.env, GEMINI_CLI_HOME: stateDir, GEMINI_CLI_NO_RELAUNCH: 'true', GEMINI_CLI_TRUST_WORKSPACE: 'true' };
            if (key !== undefined) env.GEMINI_API_KEY = key;
            if (c.base_url) env.GOOGLE_GEMINI_BASE_URL = c.base_url;
            return {
              args: [
                ...(viaNode ? [bin] : []),
                ...(r.resume_session ? ['--resume', r.resume_session] : []), // a follow-up: the chat kept in this task's GEMINI_CLI_HOME
                '-p',
                r.prompt,
                '--output-format',
                'stream-json',
                '-m',
                model,
                '--approval-mode',
                'yolo',
                '--skip-trust',
                ...c.extra_args,
              ],
              env,
              parser: geminiParser(stateDir),
            };
          },
        },
        req,
      ),
  };
}
