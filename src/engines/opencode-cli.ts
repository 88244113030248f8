/**
 * The `opencode` engine: opencode 1.18 (`opencode run --format json`), its
 * native binary (Bun).
 *
 * Config: colony writes `opencode.json` per run into a private state folder
 * (OPENCODE_CONFIG) and points XDG_CONFIG/DATA/STATE/CACHE_HOME there, so the
 * user's own opencode config and state are neither read nor written. With a
 * `base_url`, the model is served by a provider `colony`
 * (`@ai-sdk/openai-compatible`, bundled) whose key comes from the configured
 * variable, and whose model gets colony's prices (pricing.json) so that
 * opencode reports its cost (without prices it reports 0).
 *
 * Events: {type, sessionID, part}: text, tool_use{tool, state}, step_finish
 * {tokens{input, output, reasoning, cache{read, write}}, cost}, error{error
 * {name, data{message, statusCode}}}; no final record (colony sums the steps).
 * Retried API errors are only in its log (`--print-logs --log-level WARN`,
 * `message="stream error" … error.error="…"`).
 *
 * Plugins: at every start opencode installs its plugin SDK (`@opencode-ai/plugin`,
 * types for plugins kept in a config folder) into each config folder whose
 * package-lock.json does not list it yet, from the npm registry. colony's config
 * folder is the task's private one and holds no plugin, so it is written with
 * that entry and an empty node_modules (`seedPluginLock`): nothing is fetched,
 * not on a first run and not on later ones (in the sandbox the fetch was denied
 * on every run, a warning and a denied-connection note in the task's output).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentCliConfig } from '../core/config.js';
import type { Engine } from '../core/engine.js';
import { resolvePrice, type PriceTable } from '../core/pricing.js';
import type { TokenUsage } from '../core/task.js';
import { parseEventLine, runCliAgent, type AgentParser, type AgentSignal } from './cli-agent.js';
import { DEFAULT_ENDPOINTS } from './agent-paths.js';
import { truncate } from './stream-util.js';

export interface OpencodeEngineOptions {
  config: AgentCliConfig;
  pricing: PriceTable;
  killGraceMs: number;
  stateRoot?: string;
}

/** "colony/<model>" with a base_url; a model naming its own provider ("anthropic/…") is used as is. */
export function opencodeModel(c: AgentCliConfig, model: string): string {
  return c.base_url && !model.includes('/') ? `colony/${model}` : model;
}

export function opencodeConfig(c: AgentCliConfig, model: string, pricing: PriceTable): Record<string, unknown> {
  const cfg: Record<string, unknown> = { $schema: 'https://opencode.ai/config.json', autoupdate: false, share: 'disabled' };
  if (c.base_url && !model.includes('/')) {
    const p = resolvePrice(pricing, model)?.price;
    const cost = p ? { input: p.input, output: p.output, cache_read: p.cache_read ?? p.input, cache_write: p.cache_write ?? p.input } : undefined;
    cfg.provider = {
      colony: {
        npm: '@ai-sdk/openai-compatible',
        name: 'colony',
        options: { baseURL: c.base_url, apiKey: `{env:${c.api_key_env}}` },
        models: { [model]: { name: model, ...(cost ? { cost } : {}) } },
      },
    };
  }
  return cfg;
}

/**
 * What opencode 1.18's `Npm.install` checks before it fetches the plugin SDK into a
 * config folder: a node_modules folder, and the package in package-lock.json's root
 * dependencies. Written into the task's own config folder only (never a shared one).
 */
export async function seedPluginLock(configDir: string): Promise<void> {
  await mkdir(join(configDir, 'node_modules'), { recursive: true, mode: 0o700 });
  const lock = { name: 'colony-opencode-config', lockfileVersion: 3, requires: true, packages: { '': { dependencies: { '@opencode-ai/plugin': '*' } } } };
  await writeFile(join(configDir, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`, { mode: 0o600 });
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);

/** The event parser, plus the session: every record names it; the first one is reported (a follow-up continues it with `--session`). */
export function opencodeParser(): AgentParser {
  const inner = opencodeEvents();
  let session: string | null = null;
  return {
    ...inner,
    stdout(line) {
      const out = inner.stdout(line);
      if (session !== null) return out;
      const parsed = parseEventLine(line);
      if (!('rec' in parsed) || typeof parsed.rec.sessionID !== 'string' || !parsed.rec.sessionID) return out;
      session = parsed.rec.sessionID;
      return [{ kind: 'session', id: session }, ...out];
    },
  };
}

function opencodeEvents(): AgentParser & { stderr(line: string): AgentSignal[] } {
  const total: TokenUsage = { input: 0, output: 0, cache_read: 0, cache_write: 0 };
  let cost = 0;
  let text = '';
  let failed: string | null = null;
  return {
    stdout(line) {
      const parsed = parseEventLine(line);
      if ('signals' in parsed) return parsed.signals;
      const rec = parsed.rec;
      const part = isObj(rec.part) ? rec.part : {};
      switch (rec.type) {
        case 'text':
          if (typeof part.text !== 'string' || !part.text) return [];
          text = part.text;
          return [{ kind: 'output', stream: 'text', text: part.text }];
        case 'tool_use': {
          const st = isObj(part.state) ? part.state : {};
          const input = isObj(st.input) ? st.input : {};
          const what = input.command ?? input.filePath ?? input.path ?? input.url ?? JSON.stringify(input);
          return [{ kind: 'output', stream: 'stdout', text: `[tool] ${String(part.tool ?? '?')} ${truncate(String(what), 300)} (${String(st.status ?? '')})` }];
        }
        case 'step_finish': {
          const t = isObj(part.tokens) ? part.tokens : {};
          const cache = isObj(t.cache) ? t.cache : {};
          total.input += n(t.input);
          total.output += n(t.output) + n(t.reasoning);
          total.cache_read += n(cache.read);
          total.cache_write += n(cache.write);
          cost += n(part.cost);
          const signals: AgentSignal[] = [{ kind: 'usage', usage: { ...total }, cost_usd: cost }];
          if (part.reason === 'stop') signals.push({ kind: 'result', ok: failed === null, text: failed ?? text });
          return signals;
        }
        case 'error': {
          const e = isObj(rec.error) ? rec.error : {};
          const data = isObj(e.data) ? e.data : {};
          const message = String(data.message ?? e.name ?? 'error');
          failed = message;
          return [
            { kind: 'api_error', status: typeof data.statusCode === 'number' ? data.statusCode : null, message },
            { kind: 'result', ok: false, text: message },
          ];
        }
        default:
          return [];
      }
    },
    stderr(line) {
      if (!line.trim()) return [];
      const m = /message="stream error".*?error\.error="(?:AI_\w+: )?((?:[^"\\]|\\.)*)"/.exec(line);
      if (m) return [{ kind: 'api_error', status: null, message: m[1] ?? 'stream error' }];
      return [{ kind: 'output', stream: 'stderr', text: line }];
    },
  };
}

export function createOpencodeEngine(o: OpencodeEngineOptions): Engine {
  const c = o.config;
  return {
    name: 'opencode',
    run: (req) =>
      runCliAgent(
        {
          name: 'opencode',
          bin: c.bin ?? 'opencode',
          model: req.model ?? c.default_model,
          pricing: o.pricing,
          killGraceMs: o.killGraceMs,
          ...(o.stateRoot ? { stateRoot: o.stateRoot } : {}),
          missingHint: 'Install opencode (npm opencode-ai) or set engines.opencode.bin to its native binary.',
          endpoint: c.base_url ?? DEFAULT_ENDPOINTS.opencode,
          async prepare(stateDir, r, model) {
            const file = join(stateDir, 'opencode.json');
            await writeFile(file, JSON.stringify(opencodeConfig(c, model, o.pricing), null, 2), { mode: 0o600 });
            await seedPluginLock(join(stateDir, 'config', 'opencode')); // its XDG_CONFIG_HOME/opencode, below
            const env: Record<string, string> = {
              ...r.env,
              OPENCODE_CONFIG: file,
              XDG_CONFIG_HOME: join(stateDir, 'config'),
              XDG_DATA_HOME: join(stateDir, 'data'),
              XDG_STATE_HOME: join(stateDir, 'state'),
              XDG_CACHE_HOME: join(stateDir, 'cache'),
              OPENCODE_DISABLE_MODELS_FETCH: '1',
              OPENCODE_DISABLE_AUTOUPDATE: '1',
              OPENCODE_DISABLE_LSP_DOWNLOAD: '1',
              OPENCODE_DISABLE_DEFAULT_PLUGINS: '1',
              OPENCODE_DISABLE_SHARE: '1',
            };
            return {
              args: [
                'run',
                ...(r.resume_session ? ['--session', r.resume_session] : []),
                '--format',
                'json',
                '--print-logs',
                '--log-level',
                'WARN',
                '-m',
                opencodeModel(c, model),
                ...c.extra_args,
                '--',
                r.prompt,
              ],
              env,
              parser: opencodeParser(),
            };
          },
        },
        req,
      ),
  };
}
