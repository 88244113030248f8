import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultConfig, parseConfig, type ColonyConfig } from '../../src/core/config.js';
import { isColonyError } from '../../src/core/errors.js';
import { createEngineRegistry } from '../../src/engines/registry.js';
import { loadPricingFile } from '../../src/engines/pricing-file.js';
import { collect, doneOf, lastCost, request, tempDir } from '../helpers/engine-harness.js';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai-server.js';

let server: FakeOpenAI;
beforeEach(async () => {
  server = await startFakeOpenAI();
});
afterEach(async () => {
  await server.close();
});

function config(raw: unknown): ColonyConfig {
  const r = parseConfig(raw);
  if (!r.ok) throw new Error(r.problems.join('; '));
  return r.config;
}

describe('engine registry', () => {
  it('lists claude, exec and every configured provider', () => {
    const reg = createEngineRegistry(defaultConfig(), { env: {} });
    expect(reg.names().sort()).toEqual(['claude', 'exec', 'groq']);
    expect(reg.get('groq').name).toBe('groq');
    expect(reg.get('claude').name).toBe('claude');
    expect(reg.get('exec').name).toBe('exec');
  });

  it('rejects an unknown engine with E_BAD_INPUT listing the known ones', () => {
    const reg = createEngineRegistry(defaultConfig(), { env: {} });
    try {
      reg.get('gpt-9');
      expect.unreachable();
    } catch (e) {
      expect(isColonyError(e) && e.code).toBe('E_BAD_INPUT');
      expect((e as Error).message).toContain('claude, exec, groq');
    }
  });

  it('keeps a provider without its key listed but unavailable, and its run names the variable', async () => {
    const reg = createEngineRegistry(defaultConfig(), { env: {} });
    expect(reg.names()).toContain('groq');
    expect(reg.available()).not.toContain('groq');
    expect(reg.status().find((s) => s.name === 'groq')).toMatchObject({ ready: false, reason: 'GROQ_API_KEY is not set' });
    const done = doneOf(await collect(reg.get('groq'), request({ workspace: await tempDir() })));
    expect(done).toMatchObject({ ok: false, error_code: 'E_ENGINE_AUTH' });
    expect(done.summary).toContain('GROQ_API_KEY');
  });

  it('wires a configured provider to its base URL, key and prices', async () => {
    const cfg = config({
      engines: {
        providers: {
          groq: {
            base_url: server.baseUrl,
            api_key_env: 'GROQ_API_KEY',
            models: ['llama-3.1-8b-instant'],
            default_model: 'llama-3.1-8b-instant',
          },
        },
      },
      pricing: { 'llama-3.1-8b-instant': { input: 1, output: 1 } },
    });
    const reg = createEngineRegistry(cfg, { env: { GROQ_API_KEY: 'gsk_abc' } });
    expect(reg.available()).toContain('groq');
    server.enqueue({ kind: 'stream', prompt_tokens: 1_000_000, completion_tokens: 0 });
    const events = await collect(reg.get('groq'), request({ workspace: await tempDir(), budget_usd: 5 }));
    expect(doneOf(events).ok).toBe(true);
    expect(server.requests[0]?.headers.authorization).toBe('Bearer gsk_abc');
    expect(lastCost(events)?.usd).toBe(1); // the override, not pricing.json's $0.05
  });

  it('needs no key for a local provider', async () => {
    const cfg = config({
      engines: { providers: { ollama: { base_url: server.baseUrl, api_key_env: null, models: ['qwen2.5-coder'], default_model: 'qwen2.5-coder' } } },
    });
    const reg = createEngineRegistry(cfg, { env: {} });
    expect(reg.available()).toContain('ollama');
    const done = doneOf(await collect(reg.get('ollama'), request({ workspace: await tempDir() })));
    expect(done.ok).toBe(true);
    expect(server.requests[0]?.headers.authorization).toBeUndefined();
  });

  it('refuses a provider named like a built-in engine', () => {
    const cfg = config({ engines: { providers: { exec: { base_url: 'http://127.0.0.1:1/v1', models: ['m'], default_model: 'm' } } } });
    expect(() => createEngineRegistry(cfg, { env: {} })).toThrow(/built-in engine/);
  });

  it('runs a shell command on the exec engine', async () => {
    const reg = createEngineRegistry(defaultConfig(), { env: {} });
    const done = doneOf(await collect(reg.get('exec'), request({ workspace: await tempDir(), prompt: 'echo hi' })));
    expect(done.ok).toBe(true);
  });

  it('loads the shipped price file with dated sources for every provider', () => {
    const table = loadPricingFile();
    for (const p of Object.values(table.providers)) {
      expect(p.as_of).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(p.source.length).toBeGreaterThan(10);
    }
    for (const m of ['haiku', 'sonnet', 'opus', 'llama-3.1-8b-instant', 'llama-3.3-70b-versatile', 'claude-sonnet-4-5-20250929']) {
      expect(table.models[m] ?? table.models[table.aliases[m] ?? ''] ?? table.models[m.replace(/-\d{8}$/, '')], m).toBeDefined();
    }
  });
});
