import { describe, expect, it } from 'vitest';
import { scoreComplexity } from '../../src/core/complexity.js';
import { runOne, type PolicyFigures } from '../../bench/router.bench.js';
import { correlatedDraw, generateTasks, OPTIONS, successProbability, WORLDS } from '../../bench/router-sim.js';

describe('router simulation', () => {
  it('is reproducible from its seed', () => {
    expect(generateTasks(50, 3)).toEqual(generateTasks(50, 3));
    expect(generateTasks(50, 3).map((t) => t.text)).not.toEqual(generateTasks(50, 4).map((t) => t.text));
  });

  it('writes texts whose complexity score follows the hidden difficulty', () => {
    const tasks = generateTasks(1500, 11);
    const mean = (tier: string) => {
      const xs = tasks.filter((t) => t.tier === tier).map((t) => scoreComplexity({ prompt: t.text, depends_on_depth: t.depth }).score);
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    };
    expect(mean('easy') + 0.1).toBeLessThan(mean('medium'));
    expect(mean('medium') + 0.1).toBeLessThan(mean('hard'));
  });

  it('makes stronger models succeed more often on harder tasks', () => {
    for (const d of [0.1, 0.5, 0.9]) {
      const ps = OPTIONS.map((o) => successProbability(o, d));
      expect([...ps].sort((a, b) => a - b)).toEqual(ps);
    }
  });

  it('correlates outcomes across models while each draw stays uniform', () => {
    const n = 4000;
    let both = 0;
    let a = 0;
    let b = 0;
    for (let t = 0; t < n; t += 1) {
      const [x] = correlatedDraw(1, 0.6, t, 0, 0);
      const [y] = correlatedDraw(1, 0.6, t, 3, 0);
      if (x < 0.5) a += 1;
      if (y < 0.5) b += 1;
      if (x < 0.5 && y < 0.5) both += 1;
    }
    expect(a / n).toBeCloseTo(0.5, 1);
    expect(b / n).toBeCloseTo(0.5, 1);
    expect(both / n).toBeGreaterThan(0.3); // independent draws would give 0.25
  });

  it('learns in a world that changes: near always-strong success at a fraction of its cost', () => {
    const r = runOne(WORLDS[1]!, 5, 4000);
    const by = (prefix: string) => r.policies.find((p) => p.policy.startsWith(prefix)) as PolicyFigures;
    const strong = by('always-strong');
    const adaptive = by('adaptive');
    const oracle = by('oracle');
    expect(adaptive.success_rate).toBeGreaterThanOrEqual(0.92 * strong.success_rate); // one seed; the bench holds the 95% target over seeds (prices from config/pricing.json)
    expect(adaptive.total_cost_usd).toBeLessThan(0.6 * strong.total_cost_usd);
    expect(adaptive.total_cost_usd).toBeLessThan(by('rule-only').total_cost_usd);
    expect(oracle.total_cost_usd).toBeLessThan(adaptive.total_cost_usd);
    expect(oracle.success_rate).toBeGreaterThanOrEqual(adaptive.success_rate);
    // The upgraded cheap model gains share after the change in at least one class.
    expect(r.follow.some((f) => f.option === 'groq/llama-3.3-70b-versatile' && f.share_after > f.share_before)).toBe(true);
  });
});
