/**
 * The agent-CLI engines (codex, gemini, opencode) as test cases: each with its
 * fake model API, its engine pointed there, its key variable, and its tool
 * calls (write a file, run a shell command) in that CLI's vocabulary.
 */
import type { Engine } from '../../src/core/engine.js';
import { createCodexEngine } from '../../src/engines/codex-cli.js';
import { createGeminiEngine } from '../../src/engines/gemini-cli.js';
import { createOpencodeEngine } from '../../src/engines/opencode-cli.js';
import { realPricing } from './engine-harness.js';
import { startFakeChat, startFakeGemini, startFakeResponses, type FakeModelServer, type Turn } from './fake-models.js';

export interface AgentCase {
  name: 'codex' | 'gemini' | 'opencode';
  start: (host?: string) => Promise<FakeModelServer>;
  engine: (bin: string, server: FakeModelServer) => Engine;
  env: Record<string, string>;
  writeTurn: (file: string, content: string) => Turn;
  shellTurn: (cmd: string) => Turn;
  timeoutMs: number;
}

const cfg = (bin: string, model: string, base_url: string, api_key_env: string) => ({
  bin,
  default_model: model,
  models: [],
  base_url,
  api_key_env,
  extra_args: [],
});

export const AGENT_CASES: AgentCase[] = [
  {
    name: 'codex',
    start: startFakeResponses,
    engine: (bin, s) => createCodexEngine({ config: cfg(bin, 'gpt-5-codex', `${s.baseUrl}/v1`, 'OPENAI_API_KEY'), pricing: realPricing(), killGraceMs: 500 }),
    env: { OPENAI_API_KEY: 'sk-fake-openai' },
    writeTurn: (file, content) => ({ kind: 'tool', name: 'exec_command', input: { cmd: `printf '${content}' > '${file}'`, login: false } }),
    shellTurn: (cmd) => ({ kind: 'tool', name: 'exec_command', input: { cmd, login: false } }),
    timeoutMs: 90_000,
  },
  {
    name: 'gemini',
    start: startFakeGemini,
    engine: (bin, s) => createGeminiEngine({ config: cfg(bin, 'gemini-2.5-flash', s.baseUrl, 'GEMINI_API_KEY'), pricing: realPricing(), killGraceMs: 500 }),
    env: { GEMINI_API_KEY: 'fake-gemini-key' },
    writeTurn: (file, content) => ({ kind: 'tool', name: 'write_file', input: { file_path: file, content } }),
    shellTurn: (cmd) => ({ kind: 'tool', name: 'run_shell_command', input: { command: cmd, description: 'run it' } }),
    timeoutMs: 120_000,
  },
  {
    name: 'opencode',
    start: startFakeChat,
    engine: (bin, s) => createOpencodeEngine({ config: cfg(bin, 'fake-model', `${s.baseUrl}/v1`, 'GATEWAY_KEY'), pricing: realPricing(), killGraceMs: 500 }),
    env: { GATEWAY_KEY: 'fake-gateway-key' },
    writeTurn: (file, content) => ({ kind: 'tool', name: 'write', input: { filePath: file, content } }),
    shellTurn: (cmd) => ({ kind: 'tool', name: 'bash', input: { command: cmd, description: 'run it' } }),
    timeoutMs: 180_000,
  },
];
