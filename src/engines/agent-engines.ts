/**
 * The agent-CLI engines colony offers when configured (`engines.codex`,
 * `engines.gemini`, `engines.opencode`): how to build each, whether it can run
 * (binary found, key variable set), and what a sandbox must let it reach
 * (`sandboxNeeds`: its binary, its private state folders, its endpoint).
 */
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentCliConfig, ColonyConfig } from '../core/config.js';
import type { Engine } from '../core/engine.js';
import type { PriceTable } from '../core/pricing.js';
import { DEFAULT_ENDPOINTS, findBinary } from './agent-paths.js';
import { createCodexEngine } from './codex-cli.js';
import { createGeminiEngine } from './gemini-cli.js';
import { createOpencodeEngine } from './opencode-cli.js';

export const AGENT_CLI_ENGINES = ['codex', 'gemini', 'opencode'] as const;
export type AgentCliName = (typeof AGENT_CLI_ENGINES)[number];

export { DEFAULT_ENDPOINTS, findBinary };

/** What colony's sandbox must allow an engine's process (see the sandbox issue). */
export interface SandboxNeeds {
  binary: string; // the executable (resolved when found on PATH)
  writable: string[]; // besides the workspace: per-attempt state folders (created under these roots), the CLI's own home files
  endpoints: string[]; // API base URLs it must reach
}

export function agentCliConfig(config: ColonyConfig, name: AgentCliName): AgentCliConfig | undefined {
  return config.engines[name];
}

/** The model a CLI found on a worker's PATH runs when neither the worker's config nor the task names one. */
export const DETECTED_DEFAULT_MODELS: Readonly<Record<AgentCliName, string>> = {
  codex: 'gpt-5-codex',
  gemini: 'gemini-2.5-flash',
  opencode: 'qwen3-coder', // with engines.opencode.base_url in the worker's config: a model its gateway serves
};

export function isAgentCliName(name: string): name is AgentCliName {
  return (AGENT_CLI_ENGINES as readonly string[]).includes(name);
}

/**
 * The config with a default section for each agent CLI in `names` the config does not set up (a worker offering
 * a CLI it found on PATH, with no config file): its default model and key variable, everything else as configured.
 */
export function withAgentCliDefaults(config: ColonyConfig, names: readonly string[]): ColonyConfig {
  const missing = names.filter(isAgentCliName).filter((n) => !config.engines[n]);
  if (missing.length === 0) return config;
  const keyEnv: Record<AgentCliName, string> = { codex: 'OPENAI_API_KEY', gemini: 'GEMINI_API_KEY', opencode: 'OPENCODE_API_KEY' };
  const added = Object.fromEntries(
    missing.map((n) => [n, { default_model: DETECTED_DEFAULT_MODELS[n], models: [], api_key_env: keyEnv[n], extra_args: [] } satisfies AgentCliConfig]),
  );
  return { ...config, engines: { ...config.engines, ...added } };
}

/** The engine's default state root: outside /tmp for codex (it refuses to put helper binaries under a temp dir). */
export function stateRootOf(name: string): string {
  return name === 'codex' ? join(homedir(), '.cache', 'colony', 'engine-state') : tmpdir();
}

export function createAgentCliEngine(name: AgentCliName, c: AgentCliConfig, pricing: PriceTable, killGraceMs: number, stateRoot?: string): Engine {
  const o = { config: c, pricing, killGraceMs, stateRoot: stateRoot ?? stateRootOf(name) };
  if (name === 'codex') return createCodexEngine(o);
  if (name === 'gemini') return createGeminiEngine(o);
  return createOpencodeEngine(o);
}

export function sandboxNeedsOf(name: AgentCliName | 'claude', bin: string, baseUrl: string | undefined, env: NodeJS.ProcessEnv = process.env): SandboxNeeds {
  const binary = findBinary(bin, env) ?? bin;
  const home = env.HOME ?? homedir();
  const writable = [name === 'claude' ? tmpdir() : stateRootOf(name)];
  // Claude Code keeps its login, settings and session transcripts (for --resume) in the user's home.
  if (name === 'claude') writable.push(join(home, '.claude'), join(home, '.claude.json'));
  // What the CLI reads (its install folder) the attempt binds itself: cli-agent.ts sandboxAccessOf, from its resolved package root.
  return { binary, writable, endpoints: [baseUrl ?? DEFAULT_ENDPOINTS[name]] };
}
