import { describe, expect, it } from 'vitest';
import { addRecord, armView, buildStats, claudeTier, emptyStats, fallbackFor, meanCost, snapshot } from '../../src/core/adaptive.js';
import { sampleBeta } from '../../src/core/beta.js';
import { canonicalModel, optionId } from '../../src/core/model-id.js';
import { mulberry32 } from '../../src/core/rng.js';
import { PRICING } from './router-fixtures.js';

describe('one model identity', () => {
  it('maps aliases, dated ids and context suffixes to the price table id', () => {
    expect(canonicalModel(PRICING, 'sonnet')).toBe('claude-sonnet-5');
    expect(canonicalModel(PRICING, 'claude-sonnet-5-5-20261001')).toBe('claude-sonnet-5-5');
    expect(canonicalModel(PRICING, 'claude-sonnet-4-5-20250929')).toBe('claude-sonnet-4-5');
    expect(canonicalModel(PRICING, 'Claude-Haiku-5-5[1m]')).toBe('claude-haiku-5-5');
    expect(optionId(PRICING, 'claude', 'haiku')).toBe(optionId(PRICING, 'claude', 'claude-haiku-4-5-20251001'));
    expect(optionId(PRICING, 'local', 'My-Model')).toBe('local/my-model'); // unpriced: its own id
    expect(optionId(PRICING, 'claude', null)).toBe('claude/default');
  });
});

describe('discounted statistics', () => {
  const A = 'groq/llama-3.1-8b-instant';
  const B = 'claude/claude-sonnet-5-5';

  it('counts per class and per path: a fallback is its own arm', () => {
    const s = buildStats(
      [
        { cls: 'easy', path: [A], ok: false, cost_usd: 0.001 },
        { cls: 'easy', path: [A, B], ok: true, cost_usd: 0.1 },
        { cls: 'hard', path: [A], ok: true, cost_usd: null },
      ],
      1e6,
    );
    expect(armView(s, 'easy', A)).toMatchObject({ n: 1, ok: 0 });
    expect(armView(s, 'easy', `${A} > ${B}`)).toMatchObject({ n: 1, ok: 1, cost_usd: 0.1 });
    expect(armView(s, 'hard', A)).toMatchObject({ n: 1, ok: 1, cost_usd: null });
    expect(armView(s, 'easy', B)).toBeNull();
    expect(meanCost(s, 'easy', B)).toBeCloseTo(0.1); // the option's cost over every step that ran it
    expect(snapshot(s).map((c) => [c.cls, c.step])).toEqual([
      ['easy', 2],
      ['hard', 1],
    ]);
  });

  it('weighs recent outcomes more: every attempt of the class multiplies older evidence by 1 − 1/memory', () => {
    const s = emptyStats(10);
    for (let i = 0; i < 50; i += 1) addRecord(s, { cls: 'c', path: [A], ok: true, cost_usd: 1 });
    const before = armView(s, 'c', A);
    expect(before?.n).toBe(50);
    expect(before?.weight).toBeCloseTo((1 - 0.9 ** 50) / 0.1, 6); // geometric sum, not 50
    // Other attempts of the class age A's evidence even though A did not run.
    for (let i = 0; i < 20; i += 1) addRecord(s, { cls: 'c', path: [B], ok: false, cost_usd: 1 });
    expect(armView(s, 'c', A)?.weight).toBeCloseTo((before?.weight ?? 0) * 0.9 ** 20, 6);
    expect(armView(s, 'c', A)?.n).toBe(50);
    // A switch from success to failure dominates within a few memories.
    for (let i = 0; i < 30; i += 1) addRecord(s, { cls: 'c', path: [A], ok: false, cost_usd: 1 });
    const after = armView(s, 'c', A) as { successes: number; weight: number };
    expect(after.successes / after.weight).toBeLessThan(0.1);
  });

  it('draws Beta samples with the right mean from the injected rng', () => {
    const rng = mulberry32(9);
    for (const [a, b] of [
      [2, 8],
      [0.3, 0.7],
      [40, 10],
    ] as const) {
      let sum = 0;
      for (let i = 0; i < 4000; i += 1) sum += sampleBeta(rng, a, b);
      expect(sum / 4000).toBeCloseTo(a / (a + b), 1);
    }
    expect(sampleBeta(() => 0.5, 2, 2)).toBeGreaterThanOrEqual(0); // a constant rng cannot hang it
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
    const s = emptyStats();
    for (let i = 0; i < 5; i += 1) addRecord(s, { cls: 'easy', path: ['groq/x', 'claude/claude-sonnet-5'], ok: true, cost_usd: 0.002 });
    const f = fallbackFor({ engine: 'groq', model: 'x' }, { error_code: 'E_ENGINE' }, 0.01, {
      ...base,
      observed_cost: (e, m) => meanCost(s, 'easy', optionId(PRICING, e, m)),
    });
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
    expect(['haiku', 'claude-haiku-5-5', 'sonnet', 'claude-sonnet-4-5-20250929', 'opus', 'claude-opus-5-5', 'gpt'].map(claudeTier)).toEqual([
      0, 0, 1, 1, 2, 2, -1,
    ]);
  });
});
