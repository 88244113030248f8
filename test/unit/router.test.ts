import { describe, expect, it } from 'vitest';
import { addRecord, emptyStats, type AdaptiveStats } from '../../src/core/adaptive.js';
import { optionId } from '../../src/core/model-id.js';
import { defaultConfig } from '../../src/core/config.js';
import { candidatesFor, explicitFromText, routeTask } from '../../src/core/router.js';
import { ctx, EASY, HARD, input, MEDIUM, PRICING } from './router-fixtures.js';

function trained(bucket: string, rows: [engine: string, model: string, ok: number, n: number, cost: number][]): AdaptiveStats {
  const s = emptyStats();
  for (const [engine, model, ok, n, cost] of rows) {
    for (let i = 0; i < n; i += 1) addRecord(s, { cls: bucket, path: [optionId(PRICING, engine, model)], ok: i < ok, cost_usd: cost });
  }
  return s;
}

describe('routeTask rules, in order', () => {
  it('1. a forced engine wins over everything, with its default model', () => {
    const d = routeTask(input({ engine: 'groq', prompt: `${HARD} use claude` }), ctx());
    expect(d).toMatchObject({ engine: 'groq', model: 'llama-3.3-70b-versatile', rule: 'forced' });
  });

  it('1. a forced engine takes the task model, or a model named for it in the text', () => {
    expect(routeTask(input({ engine: 'claude', model: 'opus' }), ctx())).toMatchObject({ engine: 'claude', model: 'opus', rule: 'forced' });
    expect(routeTask(input({ engine: 'claude', prompt: 'use opus for this' }), ctx())).toMatchObject({ model: 'opus', rule: 'forced' });
    expect(routeTask(input({ engine: 'exec', prompt: 'npm test' }), ctx())).toMatchObject({ engine: 'exec', model: null, rule: 'forced' });
  });

  it('2. explicit words in the task beat complexity, budget and history', () => {
    const stats = trained('hard', [['claude', 'sonnet', 20, 20, 0.1]]);
    const d = routeTask(input({ prompt: `Use groq. ${HARD}` }), ctx({ stats }));
    expect(d).toMatchObject({ engine: 'groq', model: 'llama-3.3-70b-versatile', rule: 'explicit' });
    expect(d.explanation).toContain('"Use groq"');
    expect(Object.keys(d).sort()).toEqual(['cls', 'complexity', 'engine', 'explanation', 'model', 'rule']);
    expect(routeTask(input({ prompt: `${EASY}, use claude` }), ctx())).toMatchObject({ engine: 'claude', model: 'sonnet', rule: 'explicit' });
  });

  it('2. reads model names: full ids anywhere, Claude aliases only after a verb', () => {
    expect(routeTask(input({ prompt: 'Try llama-3.1-8b on this one' }), ctx())).toMatchObject({
      engine: 'groq',
      model: 'llama-3.1-8b-instant',
      rule: 'explicit',
    });
    expect(routeTask(input({ prompt: 'Summarise the log using opus' }), ctx())).toMatchObject({ engine: 'claude', model: 'opus', rule: 'explicit' });
    expect(routeTask(input({ prompt: 'run it with claude-opus-4-5 please' }), ctx())).toMatchObject({ engine: 'claude', model: 'claude-opus-4-5' });
    expect(routeTask(input({ prompt: 'Write a haiku about the scheduler for the README' }), ctx()).rule).not.toBe('explicit');
  });

  it('2. ignores a negated mention and a mere mention of Claude', () => {
    expect(routeTask(input({ prompt: `${EASY}. Do not use groq.` }), ctx()).rule).not.toBe('explicit');
    expect(routeTask(input({ prompt: "don't use claude for this: fix the typo in README.md" }), ctx()).rule).not.toBe('explicit');
    expect(routeTask(input({ prompt: 'Fix the integration with Claude Code stream parsing' }), ctx()).rule).not.toBe('explicit');
  });

  it('2. a model field on the task picks its engine', () => {
    expect(routeTask(input({ model: 'llama-3.1-8b-instant' }), ctx())).toMatchObject({ engine: 'groq', model: 'llama-3.1-8b-instant', rule: 'explicit' });
    expect(routeTask(input({ model: 'haiku' }), ctx())).toMatchObject({ engine: 'claude', model: 'haiku', rule: 'explicit' });
  });

  it('3. complexity: a clearly hard task goes to Claude, a clearly simple one to the cheap engine', () => {
    const hard = routeTask(input({ prompt: HARD }), ctx());
    expect(hard).toMatchObject({ engine: 'claude', model: 'sonnet', rule: 'complexity' });
    expect(hard.explanation).toMatch(/^complexity 0\.\d\d \(hard_keywords/);
    expect(routeTask(input({ prompt: EASY }), ctx())).toMatchObject({ engine: 'groq', model: 'llama-3.1-8b-instant', rule: 'complexity' });
  });

  it('3. the budget constrains complexity: a hard task on a small budget gets the cheapest option that fits', () => {
    const d = routeTask(input({ prompt: HARD, budget_usd: 0.01 }), ctx());
    expect(d).toMatchObject({ engine: 'groq', model: 'llama-3.1-8b-instant', rule: 'budget' });
    expect(d.explanation).toMatch(
      /→ claude\/sonnet, but claude\/sonnet needs ~\$0\.\d+ but \$0\.01 is left → groq\/llama-3\.1-8b-instant \(~\$0\.\d+\), the cheapest that fits$/,
    );
  });

  it('refuses with E_BUDGET naming the cheapest option when nothing fits', () => {
    for (const c of [ctx(), ctx({ stats: emptyStats() })]) {
      let err: unknown;
      try {
        routeTask(input({ prompt: HARD, budget_usd: 0.00001 }), c);
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'E_BUDGET' });
      expect((err as Error).message).toMatch(
        /^no engine fits the remaining budget of \$0\.00001: the cheapest option, groq\/llama-3\.1-8b-instant, needs ~\$0\.000\d+$/,
      );
    }
  });

  it('an estimate equal to what is left fits (the pre-call rule of checkBeforeCall)', () => {
    const cheapest = Math.min(...candidatesFor({ prompt: HARD }, ctx()).map((c) => c.estimate_usd ?? Infinity));
    for (const c of [ctx(), ctx({ stats: emptyStats() })]) {
      expect(routeTask(input({ prompt: HARD, budget_usd: cheapest }), c)).toMatchObject({ engine: 'groq', model: 'llama-3.1-8b-instant' });
      expect(() => routeTask(input({ prompt: HARD, budget_usd: cheapest - 0.000001 }), c)).toThrow(/no engine fits/);
    }
  });

  it('4. a small budget sends a middle-band task to the cheap engine', () => {
    const d = routeTask(input({ budget_usd: 0.05 }), ctx());
    expect(d).toMatchObject({ engine: 'groq', model: 'llama-3.1-8b-instant', rule: 'budget' });
    expect(d.explanation).toBe('budget $0.05 < $0.10 → groq/llama-3.1-8b-instant');
    expect(routeTask(input({ budget_usd: 0.1 }), ctx()).explanation).not.toMatch(/< \$0\.10/); // < is strict
  });

  it('5. INFERENCE_ENGINE applies after the budget rule, when it names a known engine', () => {
    expect(routeTask(input({ env_engine: 'groq' }), ctx())).toMatchObject({ engine: 'groq', rule: 'env' });
    expect(routeTask(input({ env_engine: 'groq', budget_usd: 0.01 }), ctx()).rule).toBe('budget');
    expect(routeTask(input({ env_engine: 'nonsense' }), ctx()).rule).toBe('default');
    expect(routeTask(input({ env_engine: 'groq' }), ctx({ available: ['claude', 'exec'] })).rule).toBe('default');
  });

  it('never picks exec on its own: not from INFERENCE_ENGINE, not as the default engine', () => {
    expect(routeTask(input({ env_engine: 'exec' }), ctx())).toMatchObject({ engine: 'claude', rule: 'default' });
    const cfg = defaultConfig();
    expect(routeTask(input(), ctx({ router: { ...cfg.router, default_engine: 'exec' } }))).toMatchObject({ engine: 'claude', rule: 'default' });
    expect(routeTask(input({ prompt: 'use exec: rm -rf build' }), ctx()).engine).not.toBe('exec');
  });

  it('6. otherwise the default engine', () => {
    const d = routeTask(input(), ctx());
    expect(d).toMatchObject({ engine: 'claude', model: 'sonnet', rule: 'default' });
    const cfg = defaultConfig();
    expect(routeTask(input(), ctx({ router: { ...cfg.router, default_engine: 'groq' } }))).toMatchObject({ engine: 'groq', rule: 'default' });
  });

  it('uses Claude haiku as the cheap engine when no provider is available', () => {
    expect(routeTask(input({ prompt: EASY }), ctx({ available: ['claude', 'exec'] }))).toMatchObject({ engine: 'claude', model: 'haiku', rule: 'complexity' });
  });

  it('explains every decision in one line', () => {
    const stats = trained('medium', [['claude', 'sonnet', 10, 10, 0.1]]);
    const inputs = [
      input({ engine: 'groq' }),
      input({ prompt: 'use groq' }),
      input({ prompt: HARD }),
      input({ prompt: EASY }),
      input({ budget_usd: 0.01 }),
      input({ env_engine: 'groq' }),
      input(),
    ];
    for (const i of inputs) {
      for (const c of [ctx(), ctx({ stats })]) {
        const d = routeTask(i, c);
        expect(d.explanation.length).toBeGreaterThan(10);
        expect(d.explanation).not.toContain('\n');
      }
    }
  });

  it('is deterministic for the same input and rng', () => {
    const stats = trained('medium', [['claude', 'sonnet', 10, 10, 0.1]]);
    let seed = 1;
    const rng = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const a = Array.from({ length: 20 }, () => routeTask(input(), ctx({ stats, rng })).engine);
    seed = 1;
    const b = Array.from({ length: 20 }, () => routeTask(input(), ctx({ stats, rng })).engine);
    expect(a).toEqual(b);
  });
});

describe('explicitFromText', () => {
  it('picks the earliest mention and the longer phrase at one position', () => {
    const c = ctx();
    expect(explicitFromText('use claude opus, not groq', c)).toMatchObject({ engine: 'claude', model: 'opus' });
    expect(explicitFromText('via groq (llama-3.1-8b)', c)).toMatchObject({ engine: 'groq', model: 'llama-3.3-70b-versatile' });
    expect(explicitFromText('engine: groq', c)).toMatchObject({ engine: 'groq' });
    expect(explicitFromText('nothing to see', c)).toBeNull();
  });
});
