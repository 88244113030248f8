/**
 * Paths of the pinned real agent CLIs installed by scripts/agent-clis.mjs
 * (`node scripts/agent-clis.mjs install`, run by .ci/run before the tests).
 * The native platform binaries are called directly; Gemini CLI is a
 * JavaScript bundle run with this node.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export type AgentCli = 'claude' | 'codex' | 'gemini' | 'opencode';

// Same pins as scripts/agent-clis.mjs (which installs them): keep the two in step.
const PINNED: Record<AgentCli, { pkg: string; version: string; bin: string }> = {
  claude: { pkg: '@anthropic-ai/claude-code', version: '2.1.197', bin: 'node_modules/@anthropic-ai/claude-code-linux-x64/claude' },
  codex: { pkg: '@openai/codex', version: '0.169.0', bin: 'node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex' },
  gemini: { pkg: '@google/gemini-cli', version: '0.61.0', bin: 'node_modules/@google/gemini-cli/bundle/gemini.js' },
  opencode: { pkg: 'opencode-ai', version: '1.18.33', bin: 'node_modules/opencode-linux-x64/bin/opencode' },
};

export function agentCliCache(): string {
  return process.env.COLONY_AGENT_CLI_CACHE || join(homedir(), '.cache', 'colony-agent-clis');
}

/** The binary of a pinned CLI, or null when `scripts/agent-clis.mjs install` has not put it in the cache. */
export function agentCliPath(name: AgentCli): string | null {
  const p = PINNED[name];
  const dir = join(agentCliCache(), `${p.pkg.replace('/', '+')}@${p.version}`);
  const bins = [join(dir, p.bin)];
  if (name === 'opencode') bins.push(join(dir, 'node_modules/opencode-linux-x64-baseline/bin/opencode'));
  return bins.find((b) => existsSync(b)) ?? null;
}

/** Like agentCliPath but fails loudly: a conformance test that silently skips would prove nothing. */
export function requireAgentCli(name: AgentCli): string {
  const p = agentCliPath(name);
  if (!p) throw new Error(`${name} CLI not installed: run \`node scripts/agent-clis.mjs install ${name}\` (cache ${agentCliCache()})`);
  return p;
}

export const AGENT_CLI_VERSIONS: Record<AgentCli, string> = Object.fromEntries(Object.entries(PINNED).map(([k, v]) => [k, v.version])) as Record<
  AgentCli,
  string
>;
