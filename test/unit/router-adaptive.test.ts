import { describe, expect, it } from 'vitest';
import { addRecord, armView, emptyStats, nextOnLadder, type AdaptiveStats } from '../../src/core/adaptive.js';
import { defaultConfig } from '../../src/core/config.js';
import { optionId } from '../../src/core/model-id.js';
import { PRIOR_WEIGHT } from '../../src/core/plan.js';
import { mulberry32 } from '../../src/core/rng.js';
import { routeTask, type RouteContext } from '../../src/core/router.js';
import { ctx, EASY, HARD, input, PRICING } from './router-fixtures.js';

const CFG = defaultConfig();
const id = (engine: string, model: string): string => optionId(PRICING, engine, model);
const G8 = id('groq', 'llama-3.1-8b-instant');
const G70 = id('groq', 'llama-3.3-70b-versatile');
const HAIKU = id('claude', 'haiku');
const SONNET = id('claude', 'sonnet');
const OPUS = id('claude', 'opus');

/** Greedy (posterior means, no exploration) unless told otherwise. */
function adaptive(stats: AdaptiveStats, over: Partial<RouteContext['router']> = {}, rng: () => number = () => 0.5): RouteContext {
  return ctx({ stats, rng, router: { ...CFG.router, explore_rate: 0, ...over } });
}

function record(s: AdaptiveStats, cls: string, path: string[], ok: number, n: number, cost: number): void {
  for (let i = 0; i < n; i += 1) addRecord(s, { cls, path, ok: i < ok, cost_usd: cost });
}

describe('adaptive plans', () => {
  it('starts from priors given by the complexity class: cheap first on an easy task, not on a hard one', () => {
    const easy = routeTask(input({ prompt: EASY, attempts_left: 2 }), adaptive(emptyStats()));
    expect(easy).toMatchObject({ rule: 'adaptive', cls: 'trivial' });
    expect([G8, G70, HAIKU]).toContain(easy.plan?.steps[0]?.id);
    const hard = routeTask(input({ prompt: HARD, attempts_left: 2 }), adaptive(emptyStats()));
    expect(hard.plan?.steps.map((s) => s.n)).toEqual(hard.plan?.steps.map(() => 0));
    // The priors: a dearer model is expected to do better, and every model worse on a harder class.
    const firstP = (d: typeof hard, o: string): number => d.plans?.find((p) => p.steps[0]?.id === o)?.steps[0]?.p ?? NaN;
    expect(firstP(hard, G8)).toBeLessThan(firstP(hard, SONNET));
    expect(firstP(hard, SONNET)).toBeLessThan(firstP(hard, OPUS));
    expect(firstP(hard, G8)).toBeLessThan(firstP(easy, G8));
  });

  it('learns under the canonical id: attempts reported with a dated id count for the alias the router picks', () => {
    const s = emptyStats();
    const reported = optionId(PRICING, 'claude', 'claude-haiku-4-5-20251001');
    expect(reported).toBe(HAIKU);
    record(s, 'hard', [reported], 0, 40, 0.01);
    const d = routeTask(input({ prompt: HARD, attempts_left: 1 }), adaptive(s));
    const haiku = d.plans?.find((p) => p.steps[0]?.id === HAIKU);
    expect(haiku?.steps[0]).toMatchObject({ n: 40, ok: 0 });
    expect(d.model).not.toBe('haiku');
  });

  it('credits "cheap now, fall back if it fails" only when the task has a fallback left', () => {
    const s = emptyStats(1e6);
    record(s, 'hard', [G70], 60, 100, 0.002);
    record(s, 'hard', [G70, SONNET], 80, 100, 0.12);
    record(s, 'hard', [SONNET], 88, 100, 0.12);
    record(s, 'hard', [SONNET, OPUS], 50, 100, 0.3);
    record(s, 'hard', [OPUS], 92, 100, 0.3);
    record(s, 'hard', [G8], 5, 100, 0.0002);
    record(s, 'hard', [HAIKU], 30, 100, 0.01);
    const one = routeTask(input({ prompt: HARD, attempts_left: 1 }), adaptive(s));
    expect(one.plan?.steps).toHaveLength(1);
    expect(one.model).not.toBe('llama-3.3-70b-versatile'); // 0.60 alone is not worth it
    const two = routeTask(input({ prompt: HARD, attempts_left: 2 }), adaptive(s));
    expect(two).toMatchObject({ engine: 'groq', model: 'llama-3.3-70b-versatile', rule: 'adaptive' });
    expect(two.plan?.steps.map((x) => x.id)).toEqual([G70, SONNET]);
    // Success of the plan is the chain of conditional rates: p1 + (1 − p1)·p2.
    const [p1, p2] = (two.plan?.steps ?? []).map((x) => x.p) as [number, number];
    expect(two.plan?.success).toBeCloseTo(p1 + (1 - p1) * p2, 12);
  });

  it('only chooses plans whose expected cost fits the remaining budget, dropping fallbacks that do not', () => {
    const s = emptyStats(1e6);
    record(s, 'hard', [SONNET], 50, 100, 0.1);
    record(s, 'hard', [SONNET, OPUS], 90, 100, 0.3);
    record(s, 'hard', [OPUS], 95, 100, 0.3);
    const d = routeTask(input({ prompt: HARD, attempts_left: 2, budget_usd: 0.2, value_usd: 5 }), adaptive(s));
    for (const p of d.plans ?? []) {
      expect(p.cost_usd).toBeLessThanOrEqual(0.2);
      expect(p.steps[0]?.estimate_usd).toBeLessThanOrEqual(0.2);
    }
    expect(d.plans?.some((p) => p.steps.some((x) => x.id === OPUS))).toBe(false);
  });

  it('explains with the numbers it used: every figure matches the statistics', () => {
    const s = emptyStats(200);
    record(s, 'hard', [G70], 7, 30, 0.0021);
    record(s, 'hard', [G70, SONNET], 20, 23, 0.118);
    record(s, 'hard', [SONNET], 31, 40, 0.124);
    record(s, 'hard', [OPUS], 12, 13, 0.31);
    const d = routeTask(input({ prompt: HARD, attempts_left: 2 }), adaptive(s));
    const steps = [
      ...d.explanation.matchAll(
        /([\w-]+\/[\w.-]+)(?: if the step before failed)?: p (\d\.\d{3}) \(prior (\d\.\d{3}), (\d+\.\d{2}) ok of (\d+\.\d{2}) weighted; (\d+) runs, (\d+) ok\), cost \$([\d.]+) (\w+)/g,
      ),
    ];
    expect(steps.length).toBe(d.plan?.steps.length);
    const path: string[] = [];
    for (const m of steps) {
      const [, option, p, prior, okW, weight, runs, okRaw, cost] = m as unknown as string[];
      path.push(option as string);
      const arm = armView(s, 'hard', path.join(' > '));
      expect(Number(okW)).toBeCloseTo(arm?.successes ?? 0, 2);
      expect(Number(weight)).toBeCloseTo(arm?.weight ?? 0, 2);
      expect(Number(runs)).toBe(arm?.n ?? 0);
      expect(Number(okRaw)).toBe(arm?.ok ?? 0);
      expect(Number(p)).toBeCloseTo((PRIOR_WEIGHT * Number(prior) + (arm?.successes ?? 0)) / (PRIOR_WEIGHT + (arm?.weight ?? 0)), 3);
      const step = d.plan?.steps[path.length - 1];
      expect(Number(cost)).toBeCloseTo(step?.cost_source === 'observed' ? (arm?.cost_usd ?? NaN) : (step?.cost_usd ?? NaN), 4); // formatUsd: 4 decimals (6 under a cent)
    }
    const plan = /⇒ success (\d\.\d{3}), cost \$([\d.]+), value \$([\d.]+) × (\d\.\d{3}) − cost = \$(-?[\d.]+)/.exec(d.explanation);
    expect(plan).not.toBeNull();
    const [, success, cost, value, success2, net] = (plan as RegExpExecArray).map(Number) as number[];
    expect(success).toBeCloseTo(d.plan?.success ?? NaN, 3);
    expect(success2).toBe(success);
    expect(cost).toBeCloseTo(d.plan?.cost_usd ?? NaN, 4);
    expect(value).toBe(1); // the task's budget
    expect(net).toBeCloseTo((value as number) * (d.plan?.success ?? 0) - (d.plan?.cost_usd ?? 0), 4);
    // The first step's numbers come from the prior of its class when it has no history.
    const fresh = routeTask(input({ prompt: HARD, attempts_left: 2 }), adaptive(emptyStats()));
    expect(fresh.explanation).toMatch(/: p (\d\.\d{3}) \(prior \1, 0\.00 ok of 0\.00 weighted; 0 runs, 0 ok\), cost \$[\d.]+ estimate/);
  });

  it('values a success at the task budget unless router.success_value_usd says otherwise', () => {
    expect(routeTask(input({ prompt: HARD, attempts_left: 2, budget_usd: 0.5, value_usd: 2 }), adaptive(emptyStats())).explanation).toContain('value $2.00 × ');
    expect(routeTask(input({ prompt: HARD, attempts_left: 2, budget_usd: 0.5 }), adaptive(emptyStats())).explanation).toContain('value $0.50 × ');
    const d = routeTask(input({ prompt: HARD, attempts_left: 2, value_usd: 2 }), adaptive(emptyStats(), { success_value_usd: 5 }));
    expect(d.explanation).toContain('value $5.00 × ');
    // A higher worth of success never picks a plan less likely to succeed.
    const cheapWorth = routeTask(input({ prompt: HARD, attempts_left: 2 }), adaptive(emptyStats(), { success_value_usd: 0.05 }));
    expect(d.plan?.success).toBeGreaterThanOrEqual(cheapWorth.plan?.success ?? 1);
  });

  it('explores by posterior draws, only among plausible plans, and less as a class accumulates evidence', () => {
    const rng = mulberry32(4);
    const c = (s: AdaptiveStats): RouteContext => ctx({ stats: s, rng, router: { ...CFG.router, explore_rate: 1 } });
    const explored = (s: AdaptiveStats): { share: number; opus: number } => {
      let ex = 0;
      let opus = 0;
      for (let i = 0; i < 400; i += 1) {
        const d = routeTask(input({ prompt: EASY, attempts_left: 2 }), c(s));
        if (d.rule === 'explore') ex += 1;
        if (d.model === 'opus') opus += 1;
        const plausible = (d.plans ?? []).filter((p) => p.plausible).map((p) => p.steps[0]?.id);
        expect(plausible).toContain(d.plan?.steps[0]?.id);
      }
      return { share: ex / 400, opus };
    };
    const few = emptyStats();
    record(few, 'trivial', [G8], 4, 5, 0.0003);
    const many = emptyStats();
    record(many, 'trivial', [G8], 140, 150, 0.0003);
    record(many, 'trivial', [G8, SONNET], 9, 10, 0.1);
    record(many, 'trivial', [G70], 40, 50, 0.002);
    record(many, 'trivial', [HAIKU], 40, 50, 0.01);
    const a = explored(few);
    const b = explored(many);
    expect(a.share).toBeGreaterThan(b.share);
    expect(b.opus).toBe(0); // not opus on a typo fix once cheap plans are known to work
    // The plan explored in `many` is never one that evidence rules out.
    const d = routeTask(input({ prompt: EASY, attempts_left: 2 }), ctx({ stats: many, router: { ...CFG.router, explore_rate: 1 }, rng: mulberry32(1) }));
    expect(d.plans?.find((p) => p.steps[0]?.id === OPUS)?.plausible).toBe(false);
  });

  /**
   * One class of tasks run as the pool runs them (a first attempt, then one fallback up the
   * ladder), with each option's success rate given by `success(option, t)`; returns the first choices.
   */
  function runClass(success: (option: string, t: number) => number, n: number, seed: number): string[] {
    const s = emptyStats(CFG.router.memory);
    const c = ctx({ stats: s, rng: mulberry32(seed), router: CFG.router });
    const world = mulberry32(seed + 1000);
    const cost = (o: string): number => (o.startsWith('groq') ? 0.001 : o === OPUS ? 0.3 : o === SONNET ? 0.12 : 0.01);
    const firsts: string[] = [];
    for (let t = 0; t < n; t += 1) {
      const d = routeTask(input({ prompt: 'Add a --json flag to the status command', attempts_left: 2 }), c);
      const path = [optionId(PRICING, d.engine, d.model)];
      firsts.push(path[0] as string);
      let ok = world() < success(path[0] as string, t);
      addRecord(s, { cls: d.cls, path: [...path], ok, cost_usd: cost(path[0] as string) });
      const next = ok ? null : nextOnLadder(d, 'sonnet');
      if (next) {
        path.push(optionId(PRICING, next.engine, next.model));
        ok = world() < success(path[1] as string, t);
        addRecord(s, { cls: d.cls, path, ok, cost_usd: cost(path[1] as string) });
      }
    }
    return firsts;
  }
  const share = (firsts: readonly string[], option: string, from: number, to: number): number =>
    firsts.slice(from, to).filter((o) => o === option).length / (to - from);

  it('follows a model that got better: the routed share moves within a few hundred tasks of the class', () => {
    for (const seed of [1, 2, 3]) {
      // The 8b model first fails, then (upgraded at task 400) succeeds like Sonnet at a fraction of the cost.
      const firsts = runClass((o, t) => (o === G8 ? (t < 400 ? 0.1 : 0.9) : o === G70 ? 0.3 : o === HAIKU ? 0.4 : 0.9), 800, seed);
      expect(share(firsts, G8, 300, 400)).toBeLessThan(0.3);
      expect(share(firsts, G8, 600, 700)).toBeGreaterThan(0.6); // within 300 tasks of the change
      expect(share(firsts, G8, 700, 800)).toBeGreaterThan(0.6);
    }
  });

  it('follows a model that got worse', () => {
    for (const seed of [4, 5, 6]) {
      // The 70b model does the job until task 400, then (almost) never: trying it first only adds a fallback's cost.
      const firsts = runClass((o, t) => (o === G70 ? (t < 400 ? 0.92 : 0.02) : o === G8 ? 0.1 : o === HAIKU ? 0.5 : 0.9), 800, seed);
      expect(share(firsts, G70, 300, 400)).toBeGreaterThan(0.6);
      expect(share(firsts, G70, 600, 700)).toBeLessThan(0.3);
    }
  });

  it('learns under the class it routes with, dependency depth included', () => {
    const shallow = routeTask(input({ prompt: 'Refactor the parser module', depends_on_depth: 0 }), adaptive(emptyStats()));
    const deep = routeTask(input({ prompt: 'Refactor the parser module', depends_on_depth: 8 }), adaptive(emptyStats()));
    expect(deep.complexity.score).toBeGreaterThan(shallow.complexity.score);
    expect(deep.cls).toBe(deep.complexity.bucket);
  });
});
