import { describe, expect, it } from 'vitest';
import { scoreComplexity } from '../../src/core/complexity.js';
import { runRouterBench, type PolicyFigures } from '../../bench/router.bench.js';
import { generateTasks, OPTIONS, successProbability } from '../../bench/router-sim.js';

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

  it('learns: the adaptive router costs much less than always-strong without losing success', async () => {
    const r = await runRouterBench({ tasks: 800, seed: 5 });
    const rows = r.policies as PolicyFigures[];
    const by = (prefix: string) => rows.find((p) => p.policy.startsWith(prefix)) as PolicyFigures;
    const strong = by('always-strong');
    const adaptive = by('adaptive');
    const oracle = by('oracle');
    expect(adaptive.success_rate).toBeGreaterThanOrEqual(0.95 * strong.success_rate);
    expect(adaptive.total_cost_usd).toBeLessThan(0.7 * strong.total_cost_usd);
    expect(adaptive.total_cost_usd).toBeLessThan(by('rule-only').total_cost_usd);
    expect(oracle.total_cost_usd).toBeLessThan(adaptive.total_cost_usd);
    expect(oracle.success_rate).toBeGreaterThanOrEqual(adaptive.success_rate);
  });
});
