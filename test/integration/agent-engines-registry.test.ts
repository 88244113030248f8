/** Agent CLI engines in the registry and the router: offered when configured, ready when binary and key are there. */
import { describe, expect, it } from 'vitest';
import { parseConfig, type ColonyConfig } from '../../src/core/config.js';
import { candidatesFor } from '../../src/core/router.js';
import { createEngineRegistry } from '../../src/engines/registry.js';
import { routerProviders } from '../../src/runner/engine-routing.js';
import { requireAgentCli } from '../helpers/agent-clis.js';

function config(raw: unknown): ColonyConfig {
  const r = parseConfig(raw);
  if (!r.ok) throw new Error(r.problems.join('; '));
  return r.config;
}

const CODEX = requireAgentCli('codex');

describe('agent CLI engines in the registry', () => {
  it('are absent unless configured', () => {
    const reg = createEngineRegistry(config({}), { env: {} });
    expect(reg.names()).not.toContain('codex');
    expect(reg.sandboxNeeds('codex')).toBeNull();
  });

  it('are listed when configured, ready only with the binary and the key', () => {
    const cfg = config({
      engines: {
        codex: { bin: CODEX, default_model: 'gpt-5-codex', base_url: 'http://127.0.0.1:9/v1' },
        gemini: { bin: '/nonexistent/gemini.js', default_model: 'gemini-2.5-flash' },
      },
    });
    const withKey = createEngineRegistry(cfg, { env: { OPENAI_API_KEY: 'k', GEMINI_API_KEY: 'k', PATH: '/usr/bin' } });
    expect(withKey.names()).toEqual(expect.arrayContaining(['codex', 'gemini']));
    expect(withKey.available()).toContain('codex');
    const gem = withKey.status().find((s) => s.name === 'gemini');
    expect(gem).toMatchObject({ kind: 'agent-cli', ready: false });
    expect(gem?.reason).toContain('not found');
    const noKey = createEngineRegistry(cfg, { env: { PATH: '/usr/bin' } });
    expect(noKey.status().find((s) => s.name === 'codex')).toMatchObject({ ready: false, reason: 'OPENAI_API_KEY is not set' });
    expect(noKey.available()).not.toContain('codex');
  });

  it('tell the sandbox what they need: binary, state folders, endpoint', () => {
    const cfg = config({ engines: { codex: { bin: CODEX, default_model: 'gpt-5-codex', base_url: 'http://127.0.0.1:9/v1' } } });
    const needs = createEngineRegistry(cfg, { env: { PATH: '/usr/bin', HOME: '/home/u' } }).sandboxNeeds('codex');
    expect(needs?.binary).toBe(CODEX);
    expect(needs?.endpoints).toEqual(['http://127.0.0.1:9/v1']);
    expect(needs?.writable.length).toBeGreaterThan(0);
    // The install folder is bound by the attempt itself, from the CLI's resolved package root (sandbox-agent-access.test.ts).
    expect(needs).not.toHaveProperty('readonly');
    const claude = createEngineRegistry(cfg, { env: { PATH: '/usr/bin', HOME: '/home/u', ANTHROPIC_BASE_URL: 'http://gw:1' } }).sandboxNeeds('claude');
    expect(claude?.endpoints).toEqual(['http://gw:1']);
    expect(claude?.writable).toContain('/home/u/.claude');
  });

  it('are router candidates with their models', () => {
    const cfg = config({ engines: { codex: { default_model: 'gpt-5-codex', models: ['gpt-5-codex', 'gpt-5-mini'], cheap_model: 'gpt-5-mini' } } });
    const providers = routerProviders(cfg);
    expect(providers.codex).toMatchObject({ default_model: 'gpt-5-codex', cheap_model: 'gpt-5-mini', api_key_env: 'OPENAI_API_KEY' });
    const reg = createEngineRegistry(cfg, { env: {} });
    const cands = candidatesFor(
      { prompt: 'fix the bug' },
      { router: cfg.router, providers, claude_default_model: 'sonnet', pricing: reg.pricing, rng: () => 0.5 },
    );
    expect(cands.some((c) => c.engine === 'codex' && c.model === 'gpt-5-codex')).toBe(true);
  });

  it('refuses a provider named like an agent engine', () => {
    expect(() =>
      createEngineRegistry(
        config({ engines: { codex: { default_model: 'm' }, providers: { codex: { base_url: 'http://x/v1', models: ['m'], default_model: 'm' } } } }),
        { env: {} },
      ),
    ).toThrow(/agent engine name/);
  });
});
