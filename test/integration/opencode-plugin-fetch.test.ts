/**
 * The real opencode CLI (pinned) does not fetch its plugin SDK from the npm
 * registry: not on a task's first run and not on a later one in the same
 * private state folder (a follow-up). Before, every run inside the OS sandbox
 * tried (`@opencode-ai/plugin` into its config folder): the attempt's proxy
 * denied registry.npmjs.org each time, which left a denied-connection note and
 * a warning in the task's output. Run as in the product: real bwrap, the
 * default safety config, the fake chat API as the model.
 */
import { mkdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/core/config.js';
import { loadPriceTable } from '../../src/core/pricing.js';
import { createOpencodeEngine } from '../../src/engines/opencode-cli.js';
import { createSandboxPlanner } from '../../src/safety/os-sandbox/index.js';
import { requireAgentCli } from '../helpers/agent-clis.js';
import { cliEnv } from '../helpers/agent-run.js';
import { collect, doneOf, outputText, request, tempDir } from '../helpers/engine-harness.js';
import { startFakeChat, type FakeModelServer } from '../helpers/fake-models.js';

const BIN = requireAgentCli('opencode');
const pricing = loadPriceTable({
  unit: 'USD per million tokens',
  providers: { gateway: { as_of: '2026-12-04', source: 'test', models: { 'fake-model': { input: 1, output: 2 } } } },
});

let api: FakeModelServer;
let dir: string;
beforeEach(async () => {
  api = await startFakeChat();
  dir = realpathSync(await tempDir('colony-opencode-plugin-'));
});
afterEach(async () => {
  await api.close();
});

describe('opencode and its plugin SDK', () => {
  it('fetches nothing from the npm registry, first run or later', { timeout: 400_000 }, async () => {
    const ws = join(dir, 'ws');
    const home = join(dir, 'home');
    const state = join(dir, 'task-state'); // the task's private agent-state folder, the same for all its attempts
    for (const d of [ws, home, state]) mkdirSync(d);
    const denied: string[] = [];
    const planner = createSandboxPlanner({
      safety: defaultConfig().safety,
      colonyHome: '/nonexistent-colony-home',
      configFile: null,
      onDenied: (_task, target) => void denied.push(target),
    });
    const engine = createOpencodeEngine({
      config: { bin: BIN, default_model: 'fake-model', models: [], base_url: `${api.baseUrl}/v1`, api_key_env: 'GATEWAY_KEY', extra_args: [] },
      pricing,
      killGraceMs: 500,
    });
    for (const attempt of [1, 2]) {
      const env = cliEnv(home, { GATEWAY_KEY: 'fake-gateway-key' });
      const sandbox = planner.planFor({ taskId: 't1', engine: 'opencode', workspace: ws, env });
      const events = await collect(engine, request({ attempt, env, sandbox, workspace: ws, state_dir: state, prompt: 'Say hello', run_timeout_ms: 180_000 }));
      const out = outputText(events);
      expect(doneOf(events).ok, `${doneOf(events).summary}\n${out}`).toBe(true);
      expect(out).not.toMatch(/registry\.npmjs\.org|dependency install failed/);
    }
    expect(denied).toEqual([]); // no connection attempt beyond the model API
    expect(api.modelRequests().length).toBeGreaterThanOrEqual(2);
  });
});
