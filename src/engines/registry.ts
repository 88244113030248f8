/**
 * Every engine colony can run, built once from the validated config:
 * 'claude' (the Claude Code CLI), 'exec' (shell commands), the agent CLIs
 * configured under engines.codex / gemini / opencode, and one
 * OpenAI-compatible engine per configured provider ('groq', 'ollama', …).
 *
 * A provider whose API key variable is unset is still listed (the UI shows
 * it, a task may name it) but is not `available()`, and running it fails at
 * once with E_ENGINE_AUTH naming the variable.
 */
import type { ColonyConfig } from '../core/config.js';
import type { Engine } from '../core/engine.js';
import { ColonyError } from '../core/errors.js';
import type { PriceTable } from '../core/pricing.js';
import { createClaudeEngine } from './claude-cli.js';
import { createExecEngine } from './exec.js';
import { createOpenAIEngine } from './openai.js';
import { loadPricingFile } from './pricing-file.js';
import { safetyToolGate } from './tool-gate.js';
import { AGENT_CLI_ENGINES, agentCliConfig, createAgentCliEngine, findBinary, sandboxNeedsOf, type SandboxNeeds } from './agent-engines.js';

export interface EngineStatus {
  name: string;
  kind: 'claude' | 'exec' | 'openai' | 'agent-cli';
  ready: boolean;
  reason: string | null; // why not ready
  default_model: string | null;
  models: string[];
}

export interface EngineRegistry {
  get(name: string): Engine;
  has(name: string): boolean;
  names(): string[];
  /** Engines that can run now (for the router's `available`). */
  available(): string[];
  status(): EngineStatus[];
  readonly pricing: PriceTable;
  /** What a sandbox must let an agent engine's process reach (binary, state folders, endpoint); null for others. */
  sandboxNeeds(name: string): SandboxNeeds | null;
}

const BUILT_IN = new Set(['claude', 'exec', 'auto']);

export function createEngineRegistry(
  config: ColonyConfig,
  opts: { env?: NodeJS.ProcessEnv; fetchImpl?: typeof fetch; pricing?: PriceTable; home?: string } = {},
): EngineRegistry {
  const env = opts.env ?? process.env;
  const pricing = opts.pricing ?? loadPricingFile(config.pricing);
  const engines = new Map<string, Engine>();
  const statuses: EngineStatus[] = [];
  const claude = config.engines.claude;

  const bin = claude.bin ?? env.CLAUDE_BIN;
  engines.set(
    'claude',
    createClaudeEngine({
      ...(bin ? { bin } : {}),
      defaultModel: claude.default_model,
      permissionMode: claude.permission_mode,
      allowedTools: [...claude.allowed_tools],
      extraArgs: [...claude.extra_args],
      pricing,
      killGraceMs: config.runner.kill_grace_ms,
      toolGate: claude.tool_gate,
      defaultToolGate: (req) => safetyToolGate(config, req.workspace, opts.home ?? null),
    }),
  );
  statuses.push({ name: 'claude', kind: 'claude', ready: true, reason: null, default_model: claude.default_model, models: ['haiku', 'sonnet', 'opus'] });

  engines.set('exec', createExecEngine({ killGraceMs: config.runner.kill_grace_ms }));
  statuses.push({ name: 'exec', kind: 'exec', ready: true, reason: null, default_model: null, models: [] });

  for (const [name, p] of Object.entries(config.engines.providers)) {
    if (BUILT_IN.has(name)) {
      throw new ColonyError('E_CONFIG', `engines.providers.${name}: '${name}' is a built-in engine name; pick another name for this provider`);
    }
    const key = p.api_key_env ? env[p.api_key_env]?.trim() || null : null;
    const missing = p.api_key_env !== null && key === null;
    engines.set(
      name,
      createOpenAIEngine({
        name,
        baseUrl: p.base_url,
        apiKey: key,
        apiKeyEnv: p.api_key_env,
        defaultModel: p.default_model,
        pricing,
        ...(opts.fetchImpl ? { fetchImpl: opts.fetchImpl } : {}),
      }),
    );
    statuses.push({
      name,
      kind: 'openai',
      ready: !missing,
      reason: missing ? `${p.api_key_env} is not set` : null,
      default_model: p.default_model,
      models: [...p.models],
    });
  }

  // Agent CLIs (codex, gemini, opencode): offered only when configured; ready when the binary and the key are there.
  const needs = new Map<string, SandboxNeeds>();
  needs.set('claude', sandboxNeedsOf('claude', bin ?? 'claude', env.ANTHROPIC_BASE_URL, env));
  for (const name of AGENT_CLI_ENGINES) {
    const c = agentCliConfig(config, name);
    if (!c) continue;
    if (config.engines.providers[name])
      throw new ColonyError('E_CONFIG', `engines.providers.${name}: '${name}' is an agent engine name (engines.${name}); pick another name for this provider`);
    engines.set(name, createAgentCliEngine(name, c, pricing, config.runner.kill_grace_ms));
    const binary = findBinary(c.bin ?? name, env);
    const key = env[c.api_key_env]?.trim();
    const reason = !binary ? `${c.bin ?? name} not found (install it or set engines.${name}.bin)` : !key ? `${c.api_key_env} is not set` : null;
    statuses.push({
      name,
      kind: 'agent-cli',
      ready: reason === null,
      reason,
      default_model: c.default_model,
      models: c.models.length ? [...c.models] : [c.default_model],
    });
    needs.set(name, sandboxNeedsOf(name, c.bin ?? name, c.base_url, env));
  }

  const names = [...engines.keys()];
  return {
    get(name: string): Engine {
      const e = engines.get(name);
      if (!e) {
        throw new ColonyError('E_BAD_INPUT', `unknown engine '${name}'; known engines: ${names.join(', ')} (or 'auto')`, { engine: name, known: names });
      }
      return e;
    },
    has: (name) => engines.has(name),
    names: () => [...names],
    available: () => statuses.filter((s) => s.ready).map((s) => s.name),
    status: () => statuses.map((s) => ({ ...s, models: [...s.models] })),
    pricing,
    sandboxNeeds: (name) => {
      const n = needs.get(name);
      return n ? { ...n, writable: [...n.writable], endpoints: [...n.endpoints] } : null;
    },
  };
}
