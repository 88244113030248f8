import { describe, expect, it } from 'vitest';
import {
  addRecord,
  buildStats,
  chooseAdaptive,
  claudeTier,
  emptyStats,
  fallbackFor,
  meanCost,
  optionKey,
  type AdaptiveCandidate,
  type AdaptiveOptions,
  type AdaptiveStats,
} from '../../src/core/adaptive.js';
import { PRICING } from './router-fixtures.js';

const CANDIDATES: AdaptiveCandidate[] = [
  { engine: 'groq', model: 'llama-3.1-8b-instant', prior_cost_usd: 0.0003 },
  { engine: 'groq', model: 'llama-3.3-70b-versatile', prior_cost_usd: 0.003 },
  { engine: 'claude', model: 'haiku', prior_cost_usd: 0.01 },
  { engine: 'claude', model: 'sonnet', prior_cost_usd: 0.12 },
  { engine: 'claude', model: 'opus', prior_cost_usd: 0.3 },
];

function opts(over: Partial<AdaptiveOptions> = {}): AdaptiveOptions {
  return { success_threshold: 0.8, explore_rate: 0.05, budget_usd: 1, rng: () => 0.99, ...over };
}

function stats(bucket: string, rows: [engine: string, model: string, ok: number, n: number, cost: number | null][]): AdaptiveStats {
  const s = emptyStats();
  for (const [engine, model, ok, n, cost] of rows) {
    for (let i = 0; i < n; i += 1) addRecord(s, { bucket, engine, model, ok: i < ok, cost_usd: cost, latency_ms: 100 * (i + 1) });
  }
  return s;
}

describe('stats', () => {
  it('aggregates attempts per bucket and engine/model', () => {
    const s = buildStats([
      { bucket: 'easy', engine: 'groq', model: 'm', ok: true, cost_usd: 0.01, latency_ms: 100 },
      { bucket: 'easy', engine: 'groq', model: 'm', ok: false, cost_usd: null, latency_ms: 300 },
      { bucket: 'hard', engine: 'groq', model: 'm', ok: true, cost_usd: 0.02, latency_ms: null },
    ]);
    expect(s.buckets.get('easy')?.get(optionKey('groq', 'm'))).toEqual({ n: 2, ok: 1, cost_sum: 0.01, cost_n: 1, latency_sum: 400, latency_n: 2 });
    expect(s.buckets.get('hard')?.get('groq/m')?.n).toBe(1);
  });
});

describe('chooseAdaptive', () => {
  it('leaves a class with too little history to the rules (cold start)', () => {
    expect(chooseAdaptive(stats('easy', [['claude', 'sonnet', 4, 4, 0.1]]), 'easy', CANDIDATES, opts())).toBeNull();
    expect(chooseAdaptive(emptyStats(), 'easy', CANDIDATES, opts())).toBeNull();
  });

  it('picks the cheapest option whose record clears the threshold', () => {
    const s = stats('easy', [
      ['groq', 'llama-3.1-8b-instant', 19, 20, 0.0004],
      ['groq', 'llama-3.3-70b-versatile', 20, 20, 0.003],
      ['claude', 'haiku', 20, 20, 0.01],
      ['claude', 'sonnet', 20, 20, 0.1],
      ['claude', 'opus', 20, 20, 0.3],
    ]);
    const c = chooseAdaptive(s, 'easy', CANDIDATES, opts());
    expect(c).toMatchObject({ engine: 'groq', model: 'llama-3.1-8b-instant', rule: 'adaptive' });
    expect(c?.explanation).toContain('19/20 ok');
    expect(c?.candidates.find((v) => v.model === 'llama-3.1-8b-instant')).toMatchObject({ cost_source: 'observed', clears: true, latency_ms: 1050 });
  });

  it('skips a cheap option that keeps failing', () => {
    const s = stats('hard', [
      ['groq', 'llama-3.1-8b-instant', 1, 10, 0.0004],
      ['groq', 'llama-3.3-70b-versatile', 3, 10, 0.003],
      ['claude', 'haiku', 4, 10, 0.01],
      ['claude', 'sonnet', 18, 20, 0.12],
      ['claude', 'opus', 10, 10, 0.3],
    ]);
    expect(chooseAdaptive(s, 'hard', CANDIDATES, opts())).toMatchObject({ engine: 'claude', model: 'sonnet' });
  });

  it('tries an untried cheaper option optimistically (upper bound), then drops it after failures', () => {
    const seen = stats('medium', [['claude', 'sonnet', 10, 10, 0.12]]);
    // Never tried: bound 0.5 + 1.5·0.29 ≈ 0.93 clears 0.8, and it is the cheapest.
    expect(chooseAdaptive(seen, 'medium', CANDIDATES, opts())).toMatchObject({ model: 'llama-3.1-8b-instant' });
    for (let i = 0; i < 2; i += 1) addRecord(seen, { bucket: 'medium', engine: 'groq', model: 'llama-3.1-8b-instant', ok: false, cost_usd: 0.0004, latency_ms: 1 });
    expect(chooseAdaptive(seen, 'medium', CANDIDATES, opts())).toMatchObject({ model: 'llama-3.3-70b-versatile' });
  });

  it('falls back to the best record when nothing clears the threshold', () => {
    const s = stats('very_hard', [
      ['groq', 'llama-3.1-8b-instant', 0, 10, 0.0004],
      ['groq', 'llama-3.3-70b-versatile', 0, 10, 0.003],
      ['claude', 'haiku', 1, 10, 0.01],
      ['claude', 'sonnet', 5, 10, 0.12],
      ['claude', 'opus', 6, 10, 0.3],
    ]);
    const c = chooseAdaptive(s, 'very_hard', CANDIDATES, opts({ success_threshold: 0.95 }));
    expect(c).toMatchObject({ engine: 'claude', model: 'opus', rule: 'adaptive' });
    expect(c?.explanation).toContain('nothing clears 0.95');
  });

  it('counts on the fallback ladder when the task has attempts left', () => {
    const s = stats('hard', [
      ['groq', 'llama-3.1-8b-instant', 0, 10, 0.0002],
      ['groq', 'llama-3.3-70b-versatile', 1, 10, 0.002],
      ['claude', 'haiku', 3, 10, 0.008],
      ['claude', 'sonnet', 58, 100, 0.15],
      ['claude', 'opus', 78, 100, 0.33],
    ]);
    // One attempt: nothing clears 0.8 alone, so the best record (opus).
    expect(chooseAdaptive(s, 'hard', CANDIDATES, opts({ attempts: 1 }))).toMatchObject({ model: 'opus' });
    // Three attempts: sonnet, then opus on failure, is ~0.58 + 0.42·0.78 ≈ 0.9 for less than opus alone.
    const c = chooseAdaptive(s, 'hard', CANDIDATES, opts({ attempts: 3 }));
    expect(c).toMatchObject({ engine: 'claude', model: 'sonnet', rule: 'adaptive' });
    expect(c?.explanation).toContain('then claude/opus on failure');
    const sonnet = c?.candidates.find((v) => v.model === 'sonnet');
    expect(sonnet?.chain_success).toBeGreaterThan(0.85);
    // The nearly free 8b would "clear" through its fallbacks, but 0/10 is no first choice.
    expect(c?.candidates.find((v) => v.model === 'llama-3.1-8b-instant')).toMatchObject({ eligible: false, clears: false });
  });

  it('starts with a decent cheap option when its fallback makes the chain cheaper than the strong one', () => {
    const s = stats('medium', [
      ['claude', 'haiku', 62, 100, 0.007],
      ['claude', 'sonnet', 90, 100, 0.13],
      ['claude', 'opus', 95, 100, 0.28],
    ]);
    const three = CANDIDATES.slice(2);
    expect(chooseAdaptive(s, 'medium', three, opts({ attempts: 1 }))).toMatchObject({ model: 'sonnet' });
    expect(chooseAdaptive(s, 'medium', three, opts({ attempts: 2 }))).toMatchObject({ model: 'haiku' });
  });

  it('respects the budget, and gives up to the rules when nothing is affordable', () => {
    const s = stats('hard', [
      ['groq', 'llama-3.3-70b-versatile', 2, 10, 0.003],
      ['claude', 'sonnet', 10, 10, 0.12],
      ['claude', 'opus', 10, 10, 0.3],
    ]);
    const c = chooseAdaptive(s, 'hard', CANDIDATES.filter((x) => x.engine === 'claude' && x.model !== 'haiku'), opts({ budget_usd: 0.2 }));
    expect(c).toMatchObject({ model: 'sonnet' });
    expect(chooseAdaptive(s, 'hard', CANDIDATES.filter((x) => x.model === 'opus'), opts({ budget_usd: 0.2 }))).toBeNull();
  });

  it('never treats an unknown cost as free', () => {
    const s = stats('easy', [['claude', 'sonnet', 10, 10, 0.1]]);
    const c = chooseAdaptive(s, 'easy', [{ engine: 'local', model: 'x', prior_cost_usd: null }, CANDIDATES[3]!], opts());
    expect(c).toMatchObject({ model: 'sonnet' });
    expect(c?.candidates[0]).toMatchObject({ cost_source: 'unknown', affordable: false });
  });

  it('explores among affordable options when the rng says so', () => {
    const s = stats('easy', [['claude', 'sonnet', 10, 10, 0.1]]);
    const draws = [0.01, 0.99];
    const c = chooseAdaptive(s, 'easy', CANDIDATES, opts({ rng: () => draws.shift() ?? 0 }));
    expect(c).toMatchObject({ rule: 'explore', model: 'opus' });
  });
});

describe('fallbackFor', () => {
  const base = { claude_default_model: 'sonnet', pricing: PRICING, prompt_chars: 600 };

  it('sends a failed Groq attempt to Claude within the budget', () => {
    const f = fallbackFor({ engine: 'groq', model: 'llama-3.1-8b-instant' }, { error_code: 'E_ENGINE' }, 0.9, base);
    expect(f.next).toMatchObject({ engine: 'claude', model: 'sonnet' });
    expect(f.next?.estimate_usd).toBeGreaterThan(0);
    expect(f.reason).toContain('retrying on claude/sonnet');
  });

  it('climbs the Claude ladder haiku → sonnet → opus and stops at the top', () => {
    expect(fallbackFor({ engine: 'claude', model: 'haiku' }, { error_code: 'E_ENGINE' }, 5, base).next?.model).toBe('sonnet');
    expect(fallbackFor({ engine: 'claude', model: 'claude-sonnet-4-5-20250929' }, { error_code: 'E_TIMEOUT' }, 5, base).next?.model).toBe('opus');
    const top = fallbackFor({ engine: 'claude', model: 'opus' }, { error_code: 'E_ENGINE' }, 5, base);
    expect(top.next).toBeNull();
    expect(top.reason).toContain('strongest');
  });

  it('returns null with the numbers when the budget cannot cover the fallback', () => {
    const f = fallbackFor({ engine: 'groq', model: 'llama-3.1-8b-instant' }, { error_code: 'E_ENGINE' }, 0.01, base);
    expect(f.next).toBeNull();
    expect(f.reason).toMatch(/needs ~\$0\.\d+ but \$0\.01 is left/);
    expect(fallbackFor({ engine: 'groq', model: 'x' }, { error_code: 'E_ENGINE' }, 0, base).next).toBeNull();
  });

  it('uses the observed cost of the fallback option when there is history', () => {
    const s = stats('easy', [['claude', 'sonnet', 5, 5, 0.002]]);
    const f = fallbackFor({ engine: 'groq', model: 'x' }, { error_code: 'E_ENGINE' }, 0.01, { ...base, observed_cost: (e, m) => meanCost(s, 'easy', e, m) });
    expect(f.next?.estimate_usd).toBe(0.002);
  });

  it('does not retry failures another engine cannot fix', () => {
    for (const code of ['E_BUDGET', 'E_CANCELLED', 'E_HALTED', 'E_SAFETY_DENIED']) {
      expect(fallbackFor({ engine: 'groq', model: 'x' }, { error_code: code }, 5, base).next).toBeNull();
    }
    expect(fallbackFor({ engine: 'exec', model: null }, { error_code: 'E_ENGINE' }, 5, base).next).toBeNull();
    expect(fallbackFor({ engine: 'claude', model: 'haiku' }, { error_code: 'E_ENGINE_MISSING' }, 5, base).reason).toContain('not usable');
  });

  it('knows the Claude tiers', () => {
    expect(['haiku', 'claude-haiku-5-5', 'sonnet', 'claude-sonnet-4-5-20250929', 'opus', 'claude-opus-5-5', 'gpt'].map(claudeTier)).toEqual([0, 0, 1, 1, 2, 2, -1]);
  });
});
