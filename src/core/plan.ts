/**
 * Plan choice for the adaptive router. A plan is what the pool will really
 * run for an auto-routed task: a first option and, while attempts and budget
 * last, the fallback ladder behind it (fallback.ts nextOnLadder). Its
 *
 *   success S = p₁ + (1 − p₁)·p₂ + (1 − p₁)(1 − p₂)·p₃ …
 *   cost    C = c₁ + (1 − p₁)·c₂ + …
 *
 * where pᵢ is the success of step i given that the steps before it failed
 * (learned per path, adaptive.ts). The router maximises the expected value
 * V·S − C, V being what a success is worth (config router.success_value_usd,
 * else the task's budget: the user said the task is worth that much), over
 * the plans whose first call passes the pre-call budget check and whose
 * expected cost fits the remaining budget.
 *
 * Each pᵢ has a Beta posterior: a prior from the task's complexity (weight
 * PRIOR_WEIGHT: a weak guess that a stronger — dearer — model does better on
 * a harder class; a fallback step's prior is the option's first-attempt
 * posterior) plus the discounted counts. Exploration is Thompson sampling
 * on a share of the decisions (router.explore_rate; the others take the best
 * plan by posterior mean): the plan is chosen on one draw from each
 * posterior, so exploration fades per class as that class's evidence
 * accumulates (and returns as old evidence is discounted), and it is limited to plausible plans
 * (whose optimistic value reaches the pessimistic value of the best plan by
 * mean), so opus is not "explored" on a typo fix once the cheap plans are
 * known to work. Pure: the rng is passed in.
 */
import { ARM_SEPARATOR, armView, meanCost, type AdaptiveStats } from './adaptive.js';
import { fitsBudget } from './budget.js';
import { nextOnLadder } from './fallback.js';
import { formatUsd } from './pricing.js';
import { sampleBeta } from './beta.js';

export const PRIOR_WEIGHT = 2;

export interface PlanCandidate {
  engine: string;
  model: string | null; // as passed to the engine (an alias stays an alias)
  id: string; // optionId: engine/canonical model
  estimate_usd: number | null; // pessimistic pre-call estimate (what the budget check uses); null: price unknown
}

export interface PlanOptions {
  budget_usd: number; // remaining
  value_usd: number; // worth of a success
  attempts: number; // attempts the task may still use, this one included
  claude_default_model: string;
  difficulty: number; // 0..1 of the class, for the prior
  explore: number; // share of decisions made on posterior draws (0: always the means)
  rng: () => number;
  idOf: (engine: string, model: string | null) => string;
}

export interface StepView {
  engine: string;
  model: string | null;
  id: string;
  key: string; // arm key (path)
  prior: number; // prior mean of success
  successes: number; // discounted
  weight: number; // discounted attempts
  n: number;
  ok: number;
  p: number; // posterior mean = (PRIOR_WEIGHT·prior + successes) / (PRIOR_WEIGHT + weight)
  cost_usd: number;
  cost_source: 'observed' | 'class' | 'estimate';
  estimate_usd: number;
}

export interface PlanView {
  steps: StepView[];
  success: number; // with posterior means
  cost_usd: number;
  value_usd: number; // V·S − C
  plausible: boolean;
  drawn_value_usd?: number; // on the posterior draw, when the decision explored
}

export type PlanResult =
  { ok: true; plan: PlanView; plans: PlanView[]; explored: boolean; best_by_mean: PlanView } | { ok: false; cheapest: PlanCandidate | null };

const fits = fitsBudget;

/** Prior success of an option of relative strength `r` (0 cheapest .. 1 dearest) on a class of difficulty d. */
export function priorSuccess(r: number, d: number): number {
  return 0.05 + 0.9 / (1 + Math.exp(-5 * (r + 0.3 - d)));
}

export function choosePlan(stats: AdaptiveStats, cls: string, candidates: readonly PlanCandidate[], o: PlanOptions): PlanResult {
  const { byId, strength } = indexOf(candidates);
  const priorOf = new Map<string, number>(); // first-attempt posterior mean per option, the prior of its fallback steps

  const pooledCost = new Map<string, number | null>(); // meanCost per option, once per decision
  const step = (c: PlanCandidate, key: string, first: boolean): StepView => {
    let prior = first ? priorSuccess(strength.get(c.id) ?? 0.5, o.difficulty) : priorOf.get(c.id);
    if (prior === undefined) prior = step(c, c.id, true).p;
    const a = armView(stats, cls, key);
    const successes = a?.successes ?? 0;
    const weight = a?.weight ?? 0;
    const p = (PRIOR_WEIGHT * prior + successes) / (PRIOR_WEIGHT + weight);
    if (first) priorOf.set(c.id, p);
    const estimate = c.estimate_usd ?? Infinity;
    let cost_source: StepView['cost_source'] = 'estimate';
    let cost = estimate;
    if (a && a.cost_usd !== null && a.cost_weight >= 0.5) {
      cost = a.cost_usd;
      cost_source = 'observed';
    } else {
      let pooled = pooledCost.get(c.id);
      if (pooled === undefined) pooledCost.set(c.id, (pooled = meanCost(stats, cls, c.id)));
      if (pooled !== null) {
        cost = pooled;
        cost_source = 'class';
      }
    }
    return {
      engine: c.engine,
      model: c.model,
      id: c.id,
      key,
      prior,
      successes,
      weight,
      n: a?.n ?? 0,
      ok: a?.ok ?? 0,
      p,
      cost_usd: cost,
      cost_source,
      estimate_usd: estimate,
    };
  };

  const plans: PlanView[] = [];
  for (const c of candidates) {
    if (c.estimate_usd === null || !fits(c.estimate_usd, o.budget_usd)) continue;
    const steps: StepView[] = [];
    let key = '';
    let spent = 0;
    let cur: PlanCandidate | undefined = c;
    while (cur && steps.length < Math.max(1, o.attempts)) {
      // A fallback runs only if its pre-call estimate fits what the earlier steps are expected to leave.
      if (cur.estimate_usd === null || !fits(cur.estimate_usd, o.budget_usd - spent)) break;
      key = key ? `${key}${ARM_SEPARATOR}${cur.id}` : cur.id; // = armKey(path so far)
      const s = step(cur, key, steps.length === 0);
      steps.push(s);
      spent += s.cost_usd;
      const next = nextOnLadder(cur, o.claude_default_model);
      cur = next ? byId.get(o.idOf(next.engine, next.model)) : undefined;
    }
    // The plan's expected cost must fit the budget: drop fallbacks from the end until it does.
    let plan = evaluate(steps, o.value_usd);
    while (plan.steps.length > 1 && !fits(plan.cost_usd, o.budget_usd)) plan = evaluate(plan.steps.slice(0, -1), o.value_usd);
    if (fits(plan.cost_usd, o.budget_usd)) plans.push(plan);
  }
  if (plans.length === 0) {
    const priced = candidates.filter((c) => c.estimate_usd !== null).sort((a, b) => (a.estimate_usd as number) - (b.estimate_usd as number));
    return { ok: false, cheapest: priced[0] ?? null };
  }

  let best = plans[0] as PlanView;
  for (const p of plans) if (p.value_usd > best.value_usd + 1e-12 || (Math.abs(p.value_usd - best.value_usd) <= 1e-12 && p.cost_usd < best.cost_usd)) best = p;
  // Plausible: optimistic first step (mean + 2 sd) reaches the best plan's pessimistic value (mean − 2 sd).
  const bestLow = bound(best, o.value_usd, -2);
  for (const p of plans) p.plausible = p === best || bound(p, o.value_usd, 2) >= bestLow;

  if (!(o.explore > 0) || o.rng() >= o.explore) return { ok: true, plan: best, plans, explored: false, best_by_mean: best };
  // Thompson sampling: one draw per arm, shared by the plans that contain it.
  const draws = new Map<string, number>();
  const drawOf = (s: StepView): number => {
    let x = draws.get(s.key);
    if (x === undefined) draws.set(s.key, (x = betaDraw(o.rng, PRIOR_WEIGHT * s.prior + s.successes, PRIOR_WEIGHT * (1 - s.prior) + (s.weight - s.successes))));
    return x;
  };
  let pick = best;
  let pickValue = -Infinity;
  for (const p of plans) {
    if (!p.plausible) continue;
    const v = evaluate(p.steps, o.value_usd, drawOf).value_usd;
    p.drawn_value_usd = v;
    if (v > pickValue) {
      pick = p;
      pickValue = v;
    }
  }
  return { ok: true, plan: pick, plans, explored: pick !== best, best_by_mean: best };
}

function evaluate(steps: StepView[], value: number, pOf: (s: StepView) => number = (s) => s.p): PlanView {
  let reach = 1;
  let success = 0;
  let cost = 0;
  for (const s of steps) {
    const p = pOf(s);
    cost += reach * s.cost_usd;
    success += reach * p;
    reach *= 1 - p;
  }
  return { steps, success, cost_usd: cost, value_usd: value * success - cost, plausible: true };
}

/** The plan's value with its first step's success moved z posterior standard deviations (no allocation: every decision runs it per plan). */
function bound(plan: PlanView, value: number, z: number): number {
  const steps = plan.steps;
  const first = steps[0] as StepView;
  const a = PRIOR_WEIGHT * first.prior + first.successes;
  const b = PRIOR_WEIGHT * (1 - first.prior) + (first.weight - first.successes);
  const sd = Math.sqrt((a * b) / ((a + b) * (a + b) * (a + b + 1)));
  let p = Math.min(1, Math.max(0, first.p + z * sd));
  let reach = 1;
  let success = 0;
  let cost = 0;
  for (let i = 0; i < steps.length; i += 1) {
    const s = steps[i] as StepView;
    if (i > 0) p = s.p;
    cost += reach * s.cost_usd;
    success += reach * p;
    reach *= 1 - p;
  }
  return value * success - cost;
}

interface CandidateIndex {
  byId: Map<string, PlanCandidate>;
  strength: Map<string, number>;
}

// Per candidate list: the router's lists are memoised and frozen (router.candidatesFor), so this is computed once per list.
const indexMemo = new WeakMap<readonly PlanCandidate[], CandidateIndex>();

function indexOf(candidates: readonly PlanCandidate[]): CandidateIndex {
  let idx = indexMemo.get(candidates);
  if (!idx) {
    idx = { byId: new Map(candidates.map((c) => [c.id, c])), strength: strengths(candidates) };
    if (Object.isFrozen(candidates)) indexMemo.set(candidates, idx);
  }
  return idx;
}

/** Relative strength 0..1 of each option: its rank by pre-call estimate (price), cheapest 0. */
function strengths(candidates: readonly PlanCandidate[]): Map<string, number> {
  const priced = candidates.map((c) => ({ id: c.id, e: c.estimate_usd ?? Infinity }));
  const out = new Map<string, number>();
  const n = priced.length;
  for (const c of priced) {
    let below = 0;
    for (const d of priced) if (d.e < c.e) below += 1;
    out.set(c.id, n > 1 ? below / (n - 1) : 0.5);
  }
  return out;
}

const betaDraw = (rng: () => number, a: number, b: number): number => sampleBeta(rng, Math.max(1e-3, a), Math.max(1e-3, b));

/** "claude/claude-sonnet-5-5: p 0.850 (prior 0.790, 17.2 ok of 20.1 weighted; 23 runs, 20 ok), cost $0.12 observed" */
export function describeStep(s: StepView, i: number): string {
  const where = i === 0 ? '' : ' if the step before failed';
  return `${s.id}${where}: p ${s.p.toFixed(3)} (prior ${s.prior.toFixed(3)}, ${s.successes.toFixed(2)} ok of ${s.weight.toFixed(2)} weighted; ${s.n} runs, ${s.ok} ok), cost ${formatUsd(round6(s.cost_usd))} ${s.cost_source}`;
}

export function describePlan(p: PlanView, value: number): string {
  return `[${p.steps.map(describeStep).join(' → ')}] ⇒ success ${p.success.toFixed(3)}, cost ${formatUsd(round6(p.cost_usd))}, value ${formatUsd(value)} × ${p.success.toFixed(3)} − cost = ${formatUsd(round6(p.value_usd))}`;
}

const round6 = (x: number): number => Math.round(x * 1_000_000) / 1_000_000;
