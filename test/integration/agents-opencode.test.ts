/** The opencode engine with the real opencode CLI (pinned) against a fake OpenAI chat-completions API. */
import { createOpencodeEngine } from '../../src/engines/opencode-cli.js';
import { loadPriceTable } from '../../src/core/pricing.js';
import { agentConformance } from '../helpers/agent-conformance.js';
import { requireAgentCli } from '../helpers/agent-clis.js';
import { cliEnv } from '../helpers/agent-run.js';
import { startFakeChat } from '../helpers/fake-models.js';

const BIN = requireAgentCli('opencode');
// A model behind an OpenAI-compatible gateway, priced in colony's table: opencode reports that cost itself.
const pricing = loadPriceTable({
  unit: 'USD per million tokens',
  providers: { gateway: { as_of: '2026-12-04', source: 'test', models: { 'fake-model': { input: 1, output: 2, cache_read: 0.1, cache_write: 1.25 } } } },
});

agentConformance({
  name: 'opencode',
  startServer: startFakeChat,
  engine: (server) =>
    createOpencodeEngine({
      config: { bin: BIN, default_model: 'fake-model', models: [], base_url: `${server.baseUrl}/v1`, api_key_env: 'GATEWAY_KEY', extra_args: [] },
      pricing,
      killGraceMs: 500,
    }),
  env: (home) => cliEnv(home, { GATEWAY_KEY: 'fake-gateway-key' }),
  model: 'fake-model',
  pricing,
  writeTurn: (file, content) => ({ kind: 'tool', name: 'write', input: { filePath: file, content } }),
  costSource: 'reported',
  overloadStatus: 503,
  stallSilenceMs: 90_000, // opencode prints nothing until its first step: ~10–45 s of start-up here
});
