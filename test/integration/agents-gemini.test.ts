/** The gemini engine with the real Gemini CLI (pinned) against a fake Gemini API. */
import { createGeminiEngine } from '../../src/engines/gemini-cli.js';
import { agentConformance } from '../helpers/agent-conformance.js';
import { requireAgentCli } from '../helpers/agent-clis.js';
import { cliEnv } from '../helpers/agent-run.js';
import { realPricing } from '../helpers/engine-harness.js';
import { startFakeGemini } from '../helpers/fake-models.js';

const BIN = requireAgentCli('gemini');

agentConformance({
  name: 'gemini',
  startServer: startFakeGemini,
  engine: (server, o) =>
    createGeminiEngine({
      config: {
        bin: BIN,
        default_model: 'gemini-2.5-flash',
        models: [],
        base_url: server.baseUrl,
        api_key_env: 'GEMINI_API_KEY',
        extra_args: [],
        ...(o.maxRetries !== undefined ? { max_retries: o.maxRetries } : {}),
      },
      pricing: realPricing(),
      killGraceMs: 500,
    }),
  env: (home) => cliEnv(home, { GEMINI_API_KEY: 'fake-gemini-key' }),
  model: 'gemini-2.5-flash',
  pricing: realPricing(),
  writeTurn: (file, content) => ({ kind: 'tool', name: 'write_file', input: { file_path: file, content } }),
  costSource: 'priced',
  overloadStatus: 503,
});
