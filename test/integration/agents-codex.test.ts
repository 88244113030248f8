/** The codex engine with the real Codex CLI (pinned) against a fake OpenAI Responses API. */
import { createCodexEngine } from '../../src/engines/codex-cli.js';
import { agentConformance } from '../helpers/agent-conformance.js';
import { requireAgentCli } from '../helpers/agent-clis.js';
import { cliEnv } from '../helpers/agent-run.js';
import { realPricing } from '../helpers/engine-harness.js';
import { startFakeResponses } from '../helpers/fake-models.js';

const BIN = requireAgentCli('codex');

agentConformance({
  name: 'codex',
  startServer: startFakeResponses,
  engine: (server, o) =>
    createCodexEngine({
      config: {
        bin: BIN,
        default_model: 'gpt-5-codex',
        models: [],
        base_url: `${server.baseUrl}/v1`,
        api_key_env: 'OPENAI_API_KEY',
        extra_args: [],
        ...(o.maxRetries !== undefined ? { max_retries: o.maxRetries } : {}),
      },
      pricing: realPricing(),
      killGraceMs: 500,
    }),
  env: (home) => cliEnv(home, { OPENAI_API_KEY: 'sk-fake-openai' }),
  model: 'gpt-5-codex',
  pricing: realPricing(),
  // Codex's exec_command tool runs a shell command (its apply_patch is a shell command too); base64 keeps the content exact.
  writeTurn: (file, content) => ({
    kind: 'tool',
    name: 'exec_command',
    input: { cmd: `echo ${Buffer.from(content).toString('base64')} | base64 -d > '${file}'`, login: false },
  }),
  costSource: 'priced',
  overloadStatus: 503,
});
