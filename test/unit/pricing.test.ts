import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isColonyError } from '../../src/core/errors.js';
import { estimateAttemptCost, estimateCost, formatUsd, loadPriceTable, priceUsage, resolvePrice } from '../../src/core/pricing.js';

const FILE: unknown = JSON.parse(readFileSync(new URL('../../config/pricing.json', import.meta.url), 'utf8'));
const table = loadPriceTable(FILE);

describe('price table', () => {
  it('resolves aliases, dated ids, context suffixes and case', () => {
    expect(resolvePrice(table, 'sonnet')?.id).toBe('claude-sonnet-5'); // as Claude Code 2.1.197 resolves it
    expect(resolvePrice(table, 'haiku')?.id).toBe('claude-haiku-4-5');
    expect(resolvePrice(table, 'claude-haiku-4-5-20251001')?.id).toBe('claude-haiku-4-5');
    expect(resolvePrice(table, 'claude-sonnet-4-5-20250929')?.id).toBe('claude-sonnet-4-5');
    expect(resolvePrice(table, 'claude-opus-4-20250514')?.price.input).toBe(15);
    expect(resolvePrice(table, 'claude-sonnet-5-5[1m]')?.id).toBe('claude-sonnet-5-5');
    expect(resolvePrice(table, 'Llama-3.1-8B-Instant')?.price).toMatchObject({ input: 0.05, output: 0.08, provider: 'groq' });
    expect(resolvePrice(table, 'gpt-9')).toBeNull();
    expect(resolvePrice(table, null)).toBeNull();
  });

  it('lets config overrides replace a model, add one, or shadow an alias', () => {
    const t = loadPriceTable(FILE, {
      'llama-3.1-8b-instant': { input: 1, output: 2 },
      'qwen2.5-coder': { input: 0, output: 0 },
      sonnet: { input: 9, output: 9 },
    });
    expect(resolvePrice(t, 'llama-3.1-8b-instant')?.price).toEqual({ input: 1, output: 2, provider: 'override' });
    expect(resolvePrice(t, 'qwen2.5-coder')?.price.output).toBe(0);
    expect(resolvePrice(t, 'sonnet')?.price.input).toBe(9);
    expect(resolvePrice(t, 'claude-sonnet-5')?.price.input).toBe(3); // the model itself is untouched
    expect(resolvePrice(table, 'llama-3.1-8b-instant')?.price.input).toBe(0.05); // pure: the first table is unchanged
  });

  it('rejects a broken price file with E_CONFIG and the problem', () => {
    const bad = { unit: 'USD per million tokens', providers: { x: { as_of: 'yesterday', source: 's', models: { m: { input: -1, output: 1 } } } } };
    try {
      loadPriceTable(bad);
      expect.unreachable();
    } catch (e) {
      expect(isColonyError(e) && e.code).toBe('E_CONFIG');
      expect((e as Error).message).toContain('providers.x.as_of');
      expect((e as Error).message).toContain('providers.x.models.m.input');
    }
    const dangling = { unit: 'USD per million tokens', providers: { x: { as_of: '2026-01-01', source: 's', aliases: { fast: 'nope' }, models: {} } } };
    expect(() => loadPriceTable(dangling)).toThrow(/alias 'fast' points at unknown model 'nope'/);
  });
});

describe('priceUsage', () => {
  it('prices input, output, cache reads and cache writes at their own rates', () => {
    // claude-sonnet-5 (what the CLI bills): $3 in, $15 out, $0.30 cache read, $3.75 cache write per million
    const r = priceUsage(table, 'sonnet', { input: 1000, output: 2000, cache_read: 100_000, cache_write: 20_000 });
    expect(r).toEqual({ usd: 0.138, known: true });
  });

  it('charges cache tokens at the input rate when a model has no cache price', () => {
    expect(priceUsage(table, 'llama-3.1-8b-instant', { input: 0, output: 0, cache_read: 1_000_000, cache_write: 0 }).usd).toBe(0.05);
  });

  it('returns null for an unknown model, never 0', () => {
    expect(priceUsage(table, 'mystery', { input: 1000, output: 1000, cache_read: 0, cache_write: 0 })).toEqual({ usd: null, known: false });
  });

  it('prices a free local model at exactly 0 once it has a price', () => {
    const t = loadPriceTable(FILE, { 'local-model': { input: 0, output: 0 } });
    expect(priceUsage(t, 'local-model', { input: 5000, output: 5000, cache_read: 0, cache_write: 0 })).toEqual({ usd: 0, known: true });
  });
});

describe('estimateCost', () => {
  it('over-counts tokens (chars ÷ 3) and charges input at the dearest input rate', () => {
    // 3000 chars → 1000 tokens + 500 overhead, at sonnet's cache-write rate $3.75; 1000 output at $15
    const e = estimateCost(table, 'sonnet', 3000, 1000, 500);
    expect(e).toEqual({ usd: 0.020625, known: true, input_tokens: 1500, output_tokens: 1000 });
    expect(e.usd).toBeGreaterThan(priceUsage(table, 'sonnet', { input: 750, output: 1000, cache_read: 0, cache_write: 0 }).usd ?? Infinity);
  });

  it('returns null with the token counts for an unknown model', () => {
    expect(estimateCost(table, 'mystery', 30, 10)).toEqual({ usd: null, known: false, input_tokens: 10, output_tokens: 10 });
  });
});

describe('formatUsd', () => {
  it('keeps two decimals and shows what matters below a cent', () => {
    expect(formatUsd(0.12)).toBe('$0.12');
    expect(formatUsd(3)).toBe('$3.00');
    expect(formatUsd(0.0501)).toBe('$0.0501');
    expect(formatUsd(0.125)).toBe('$0.125');
    expect(formatUsd(0.00002)).toBe('$0.00002');
    expect(formatUsd(0)).toBe('$0.00');
  });
});

describe('estimateAttemptCost', () => {
  it('adds the engine overhead: a Claude Code run costs more than the same prompt on an API', () => {
    const claude = estimateAttemptCost(table, 'claude', 'sonnet', 600, {});
    const api = estimateAttemptCost(table, 'groq', 'llama-3.3-70b-versatile', 600, {});
    // sonnet: (200 + 20,000) input tokens at the $3.75 cache-write rate + 4,000 output at $15
    expect(claude).toBe(0.13575);
    expect(api).toBeLessThan(0.01);
    expect(estimateAttemptCost(table, 'exec', null, 600)).toBe(0);
    expect(estimateAttemptCost(table, 'groq', 'mystery', 600)).toBeNull();
  });
});
