/**
 * The `codex` engine: OpenAI Codex CLI 0.169 (`codex exec --json`), native
 * binary, run with its own sandbox off (colony's sandbox replaces it; its
 * workspace-write sandbox cannot start here) and stdin at /dev/null.
 *
 * Its endpoint is set only through `$CODEX_HOME/config.toml` (OPENAI_BASE_URL
 * is ignored): colony writes one per run into a private state folder with a
 * custom provider speaking the Responses API, and turns off plugins,
 * analytics and update checks (otherwise it calls out even with a custom provider).
 *
 * Events (JSON lines): thread.started{thread_id}, item.completed
 * (agent_message, command_execution, file_change, error), error{message}
 * ("Reconnecting... n/5 (unexpected status 401 …)"), turn.completed{usage},
 * turn.failed{error}. Usage comes only at the end, so during the run colony
 * reads the per-response token counts from the session's rollout file.
 * No cost is reported: tokens are priced (input_tokens includes cached ones).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentCliConfig } from '../core/config.js';
import type { Engine } from '../core/engine.js';
import type { PriceTable } from '../core/pricing.js';
import type { TokenUsage } from '../core/task.js';
import { parseEventLine, runCliAgent, usageOnChange, type AgentParser, type AgentSignal } from './cli-agent.js';
import { DEFAULT_ENDPOINTS } from './agent-paths.js';
import { fileTail, findFile } from './file-tail.js';
import { truncate } from './stream-util.js';

export interface CodexEngineOptions {
  config: AgentCliConfig;
  pricing: PriceTable;
  killGraceMs: number;
  stateRoot?: string;
}

const tomlString = (s: string): string => JSON.stringify(s); // TOML basic strings share JSON's escapes

export function codexConfigToml(c: AgentCliConfig, model: string): string {
  const lines = [
    'model_provider = "colony"',
    `model = ${tomlString(model)}`,
    'check_for_update_on_startup = false',
    '',
    '[model_providers.colony]',
    'name = "colony"',
    `base_url = ${tomlString(c.base_url ?? 'https://api.openai.com/v1')}`,
    `env_key = ${tomlString(c.api_key_env)}`,
    'wire_api = "responses"',
  ];
  // Request-level retries are silent; stream retries print "Reconnecting... n/N (status …)". With the
  // former off every API error is seen (a 401 ends the run at once, a timeout can name the last error).
  lines.push('request_max_retries = 0', `stream_max_retries = ${c.max_retries ?? 5}`);
  lines.push('', '[features]', 'plugins = false', '', '[analytics]', 'enabled = false', '');
  return lines.join('\n');
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);

/** Codex counts cached tokens inside input_tokens; colony's input is the non-cached part. */
export function codexUsage(u: unknown): TokenUsage | null {
  if (!isObj(u)) return null;
  const cached = n(u.cached_input_tokens);
  return { input: Math.max(0, n(u.input_tokens) - cached), output: n(u.output_tokens), cache_read: cached, cache_write: n(u.cache_write_input_tokens) };
}

/** "Reconnecting... 2/5 (unexpected status 401 Unauthorized: bad key, url: …)" → 401 and "bad key". */
export function codexApiError(message: string): { status: number | null; message: string } {
  const status = /\bstatus:? (\d{3})\b/.exec(message);
  const inner = /unexpected status \d{3}[^:]*: (.*?)(?:, url: \S+)?\)?$/.exec(message);
  return { status: status ? Number(status[1]) : null, message: inner?.[1] ?? message };
}

export function codexParser(stateDir: string): AgentParser {
  let thread: string | null = null;
  let rollout: string | null = null;
  let lastText = '';
  const tail = fileTail();
  const usageSignal = usageOnChange();
  return {
    stdout(line) {
      const parsed = parseEventLine(line);
      if ('signals' in parsed) return parsed.signals;
      const rec = parsed.rec;
      switch (rec.type) {
        case 'thread.started':
          thread = typeof rec.thread_id === 'string' ? rec.thread_id : null;
          return thread ? [{ kind: 'session', id: thread }] : [];
        case 'item.completed':
          return itemSignals(rec.item, (t) => (lastText = t));
        case 'error': {
          const e = codexApiError(String(rec.message ?? ''));
          return e.status !== null ? [{ kind: 'api_error', ...e }] : [{ kind: 'output', stream: 'stderr', text: `[codex] ${String(rec.message ?? '')}` }];
        }
        case 'turn.completed': {
          const u = codexUsage(rec.usage);
          return [...(u ? usageSignal(u) : []), { kind: 'result', ok: true, text: lastText }];
        }
        case 'turn.failed': {
          const msg = isObj(rec.error) ? String(rec.error.message ?? 'turn failed') : 'turn failed';
          const e = codexApiError(msg);
          return [...(e.status !== null ? [{ kind: 'api_error' as const, ...e }] : []), { kind: 'result', ok: false, text: msg }];
        }
        default:
          return [];
      }
    },
    poll() {
      if (!thread) return [];
      const id = thread;
      rollout ??= findFile(join(stateDir, 'sessions'), (name) => name.startsWith('rollout-') && name.endsWith(`${id}.jsonl`));
      if (!rollout) return [];
      let latest: TokenUsage | null = null;
      for (const l of tail.read(rollout)) {
        if (!l.includes('"token_count"')) continue;
        try {
          const r = JSON.parse(l) as { payload?: { type?: string; info?: { total_token_usage?: unknown } } };
          if (r.payload?.type === 'token_count') latest = codexUsage(r.payload.info?.total_token_usage) ?? latest;
        } catch {
          /* a partial line: read again next time */
        }
      }
      return latest ? usageSignal(latest) : [];
    },
  };
}

function itemSignals(item: unknown, onText: (t: string) => void): AgentSignal[] {
  if (!isObj(item)) return [];
  switch (item.type) {
    case 'agent_message': {
      const text = String(item.text ?? '');
      onText(text);
      return text ? [{ kind: 'output', stream: 'text', text }] : [];
    }
    case 'command_execution': {
      const out = typeof item.aggregated_output === 'string' && item.aggregated_output.trim() ? `\n${truncate(item.aggregated_output.trim(), 500)}` : '';
      return [
        { kind: 'output', stream: 'stdout', text: `[tool] shell ${truncate(String(item.command ?? ''), 300)} → exit ${String(item.exit_code ?? '?')}${out}` },
      ];
    }
    case 'file_change': {
      const changes = Array.isArray(item.changes)
        ? item.changes.map((c) => (isObj(c) ? `${String(c.kind ?? '')} ${String(c.path ?? '')}` : '')).join(', ')
        : '';
      return [{ kind: 'output', stream: 'stdout', text: `[tool] file change (${String(item.status ?? '')}) ${changes}` }];
    }
    case 'error':
      return [{ kind: 'output', stream: 'stderr', text: `[codex] ${String(item.message ?? '')}` }];
    default:
      return [];
  }
}

export function createCodexEngine(o: CodexEngineOptions): Engine {
  const c = o.config;
  return {
    name: 'codex',
    run: (req) =>
      runCliAgent(
        {
          name: 'codex',
          bin: c.bin ?? 'codex',
          model: req.model ?? c.default_model,
          pricing: o.pricing,
          killGraceMs: o.killGraceMs,
          ...(o.stateRoot ? { stateRoot: o.stateRoot } : {}),
          missingHint: 'Install the Codex CLI (npm @openai/codex) or set engines.codex.bin to its native binary.',
          endpoint: c.base_url ?? DEFAULT_ENDPOINTS.codex,
          async prepare(stateDir, r, model) {
            await writeFile(join(stateDir, 'config.toml'), codexConfigToml(c, model), { mode: 0o600 });
            const big = Buffer.byteLength(r.prompt) > 100_000;
            return {
              // A follow-up continues the thread kept in this task's CODEX_HOME (`exec resume <id>`).
              args: [
                'exec',
                ...(r.resume_session ? ['resume'] : []),
                '--json',
                '--dangerously-bypass-approvals-and-sandbox',
                '--skip-git-repo-check',
                '-m',
                model,
                ...c.extra_args,
                '--',
                ...(r.resume_session ? [r.resume_session] : []),
                big ? '-' : r.prompt,
              ],
              env: { ...r.env, CODEX_HOME: stateDir },
              parser: codexParser(stateDir),
              ...(big ? { stdin: r.prompt } : {}),
            };
          },
        },
        req,
      ),
  };
}
