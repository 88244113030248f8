/**
 * Picks the engine and model for one attempt of a task (DESIGN §3), in the
 * report's order:
 *
 *   forced engine → explicit words in the task → adaptive plan
 *   (or, with adaptive off: complexity → budget → INFERENCE_ENGINE → default)
 *
 * The adaptive layer (plan.ts) replaces the automatic rules whenever it is on:
 * it starts from priors given by the task's complexity class and learns from
 * there, so there is no cold-start switch. It never overrides what the user
 * asked for (forced engine, explicit words). Every automatic choice fits the
 * budget: the plan's expected cost and its first call's pre-call estimate
 * must fit what is left, and when nothing does the router refuses with
 * E_BUDGET naming the cheapest option's estimate instead of picking a model
 * the pool would then refuse. Models are identified by their canonical price
 * table id (model-id.ts). Pure: no clock, the rng is passed in.
 */
import type { AdaptiveStats } from './adaptive.js';
import { scoreComplexity, topFeatures, COMPLEXITY_BUCKETS, type ComplexityResult } from './complexity.js';
import type { ColonyConfig, ProviderConfig } from './config.js';
import { fitsBudget } from './budget.js';
import { ColonyError } from './errors.js';
import { optionId } from './model-id.js';
import { choosePlan, describePlan, type PlanCandidate, type PlanView } from './plan.js';
import { estimateAttemptCost, formatUsd, type PriceTable, type UsageExpectation } from './pricing.js';
import { explicitFromText } from './router-words.js';

export { explicitFromText };

export type RouteRule = 'forced' | 'explicit' | 'complexity' | 'budget' | 'adaptive' | 'env' | 'default' | 'explore';

export interface RouteInput {
  prompt: string;
  engine: string; // 'auto' or a forced engine name
  model: string | null;
  budget_usd: number; // what is left of the task's budget
  depends_on_depth: number;
  env_engine: string | null; // INFERENCE_ENGINE, read by the caller
  /** Attempts the task may still use, this one included, as the pool grants them (fallbacks). Default 1. */
  attempts_left?: number;
  /** The task's whole budget: the worth of a success unless router.success_value_usd is set. Default budget_usd. */
  value_usd?: number;
}

export interface RouteContext {
  router: ColonyConfig['router'];
  providers: Readonly<Record<string, ProviderConfig>>;
  claude_default_model: string;
  pricing: PriceTable;
  stats?: AdaptiveStats;
  rng: () => number;
  /** Engines that can run now (e.g. a provider whose API key is set). Omitted: all configured. */
  available?: readonly string[];
  expected?: Partial<UsageExpectation>;
}

export interface RouteDecision {
  engine: string;
  model: string | null;
  rule: RouteRule;
  explanation: string;
  complexity: ComplexityResult;
  /** The class the decision was made in: attempts are learned under it. */
  cls: string;
  /** The adaptive plan chosen, and every feasible plan it was compared with. */
  plan?: PlanView;
  plans?: PlanView[];
}

export const CLAUDE_ALIASES = ['haiku', 'sonnet', 'opus'] as const;

interface Option {
  engine: string;
  model: string | null;
}

/** Difficulty 0..1 of a class (the middle of its band of the score), for the plan priors. */
export function classDifficulty(cls: string): number {
  const i = (COMPLEXITY_BUCKETS as readonly string[]).indexOf(cls);
  return i < 0 ? 0.5 : (i + 0.5) / COMPLEXITY_BUCKETS.length;
}

export function routeTask(input: RouteInput, ctx: RouteContext): RouteDecision {
  const complexity = scoreComplexity({ prompt: input.prompt, depends_on_depth: input.depends_on_depth });
  const cls = complexity.bucket;
  const decide = (o: Option, rule: RouteRule, explanation: string): RouteDecision => ({ ...o, rule, explanation, complexity, cls });

  // 1. Forced engine: the task (or the user) named it.
  if (input.engine !== 'auto') {
    const engine = input.engine;
    const wordModel = input.model ? null : explicitFromText(input.prompt, ctx);
    const model = input.model ?? (wordModel?.engine === engine ? wordModel.model : null) ?? defaultModelOf(engine, ctx);
    return decide({ engine, model }, 'forced', `engine ${engine} set on the task → ${label({ engine, model })}`);
  }

  // 2. Explicit choice: a model field on the task, or words in its text.
  if (input.model) {
    const engine = engineOfModel(input.model, ctx) ?? defaultOption(ctx).engine;
    return decide({ engine, model: input.model }, 'explicit', `model ${input.model} set on the task → ${engine}`);
  }
  const words = explicitFromText(input.prompt, ctx);
  if (words) return decide({ engine: words.engine, model: words.model }, 'explicit', `task text says "${words.phrase}" → ${label(words)}`);

  const candidates = candidatesFor(input, ctx);

  // 3. Adaptive: the plan with the best expected value within the budget.
  if (ctx.stats && ctx.router.adaptive) {
    const value = ctx.router.success_value_usd ?? input.value_usd ?? input.budget_usd;
    const r = choosePlan(ctx.stats, cls, candidates, {
      budget_usd: input.budget_usd,
      value_usd: value,
      attempts: Math.max(1, Math.floor(input.attempts_left ?? 1)),
      claude_default_model: ctx.claude_default_model,
      difficulty: classDifficulty(cls),
      explore: ctx.router.explore_rate,
      rng: ctx.rng,
      idOf: (e, m) => optionId(ctx.pricing, e, m),
    });
    if (!r.ok) throw budgetRefusal(input.budget_usd, r.cheapest);
    const first = r.plan.steps[0] as PlanView['steps'][number];
    const head = `class ${cls}: ${describePlan(r.plan, value)}`;
    const tail = r.explored
      ? `; exploring: a posterior draw valued it at ${formatUsd(round6(r.plan.drawn_value_usd ?? 0))}, the best plan by mean (${r.best_by_mean.steps[0]?.id}) is worth ${formatUsd(round6(r.best_by_mean.value_usd))}`
      : `; the best of ${r.plans.length} plan(s) within ${formatUsd(input.budget_usd)}`;
    return { ...decide({ engine: first.engine, model: first.model }, r.explored ? 'explore' : 'adaptive', head + tail), plan: r.plan, plans: r.plans };
  }

  // 4.–7. The rules, each pick checked against the budget.
  const fit = (o: Option, rule: RouteRule, why: string): RouteDecision => {
    const est = estimateAttemptCost(ctx.pricing, o.engine, o.model, input.prompt.length, ctx.expected);
    if (est !== null && fitsBudget(est, input.budget_usd)) return decide(o, rule, why);
    const cheaper = cheapestFitting(candidates, input.budget_usd);
    if (!cheaper) throw budgetRefusal(input.budget_usd, cheapestOf(candidates));
    const because = est === null ? 'has no known price' : `needs ~${formatUsd(est)} but ${formatUsd(input.budget_usd)} is left`;
    return decide(
      cheaper,
      'budget',
      `${why}, but ${label(o)} ${because} → ${label(cheaper)} (~${formatUsd(cheaper.estimate_usd as number)}), the cheapest that fits`,
    );
  };
  const why = `complexity ${complexity.score.toFixed(2)} (${topFeatures(complexity) || 'no signal'})`;
  if (complexity.score >= ctx.router.complexity_threshold) {
    const strong = strongOption(ctx);
    return fit(strong, 'complexity', `${why} ≥ ${ctx.router.complexity_threshold} → ${label(strong)}`);
  }
  if (complexity.score <= ctx.router.simple_threshold) {
    const cheap = cheapOption(ctx);
    return fit(cheap, 'complexity', `${why} ≤ ${ctx.router.simple_threshold} → ${label(cheap)}`);
  }
  if (input.budget_usd < ctx.router.cheap_budget_usd) {
    const cheap = cheapOption(ctx);
    return fit(cheap, 'budget', `budget ${formatUsd(input.budget_usd)} < ${formatUsd(ctx.router.cheap_budget_usd)} → ${label(cheap)}`);
  }
  const env = input.env_engine?.trim().toLowerCase();
  if (env && isModelEngine(env, ctx) && isAvailable(env, ctx)) {
    const o = { engine: env, model: defaultModelOf(env, ctx) };
    return fit(o, 'env', `INFERENCE_ENGINE=${env} → ${label(o)}`);
  }
  const d = defaultOption(ctx);
  return fit(d, 'default', `${why} is in the middle band, no other rule applies → default ${label(d)}`);
}

const round6 = (x: number): number => Math.round(x * 1_000_000) / 1_000_000;

function cheapestOf(candidates: readonly PlanCandidate[]): PlanCandidate | null {
  let best: PlanCandidate | null = null;
  for (const c of candidates) if (c.estimate_usd !== null && (!best || c.estimate_usd < (best.estimate_usd as number))) best = c;
  return best;
}

function cheapestFitting(candidates: readonly PlanCandidate[], budget: number): PlanCandidate | null {
  const c = cheapestOf(candidates);
  return c && fitsBudget(c.estimate_usd as number, budget) ? c : null;
}

/** E_BUDGET before any call: no option's first call fits what is left. */
export function budgetRefusal(remaining: number, cheapest: PlanCandidate | null): ColonyError {
  const what = cheapest ? `the cheapest option, ${cheapest.id}, needs ~${formatUsd(cheapest.estimate_usd as number)}` : 'no available option has a known price';
  return new ColonyError('E_BUDGET', `no engine fits the remaining budget of ${formatUsd(remaining)}: ${what}`, {
    remaining_usd: remaining,
    cheapest: cheapest ? { option: cheapest.id, estimate_usd: cheapest.estimate_usd } : null,
  });
}

/** Every engine/model the router may pick for this task, by canonical id (duplicates of one model merged), with its pre-call estimate. */
export function candidatesFor(input: Pick<RouteInput, 'prompt'>, ctx: RouteContext): readonly PlanCandidate[] {
  // Memoised per price table and provider set (both immutable once built): estimates depend only on the prompt's length.
  if (ctx.expected) return buildCandidates(input.prompt.length, ctx);
  let byProviders = candidateMemo.get(ctx.pricing);
  if (!byProviders) candidateMemo.set(ctx.pricing, (byProviders = new WeakMap()));
  let memo = byProviders.get(ctx.providers);
  if (!memo) byProviders.set(ctx.providers, (memo = new Map()));
  const key = `${ctx.available?.join(',') ?? '*'}|${input.prompt.length}`;
  let hit = memo.get(key);
  if (!hit) {
    if (memo.size >= 4096) memo.clear();
    memo.set(key, (hit = Object.freeze(buildCandidates(input.prompt.length, ctx).map((c) => Object.freeze(c)))));
  }
  return hit;
}

const candidateMemo = new WeakMap<PriceTable, WeakMap<object, Map<string, readonly PlanCandidate[]>>>();

function buildCandidates(promptChars: number, ctx: RouteContext): PlanCandidate[] {
  const out: PlanCandidate[] = [];
  const seen = new Set<string>();
  const add = (engine: string, model: string): void => {
    const id = optionId(ctx.pricing, engine, model);
    if (seen.has(id)) return;
    seen.add(id);
    out.push({ engine, model, id, estimate_usd: estimateAttemptCost(ctx.pricing, engine, model, promptChars, ctx.expected) });
  };
  if (isAvailable('claude', ctx)) for (const m of CLAUDE_ALIASES) add('claude', m);
  for (const [name, p] of Object.entries(ctx.providers)) {
    if (isAvailable(name, ctx)) for (const m of p.models) add(name, m);
  }
  return out;
}

/** The cheap engine: first available provider's cheap model, else Claude haiku. */
export function cheapOption(ctx: RouteContext): Option {
  for (const [name, p] of Object.entries(ctx.providers)) {
    if (isAvailable(name, ctx)) return { engine: name, model: p.cheap_model ?? p.default_model };
  }
  return { engine: 'claude', model: 'haiku' };
}

/** The strong engine: Claude with its default model, else the first available provider's default. */
export function strongOption(ctx: RouteContext): Option {
  if (isAvailable('claude', ctx)) return { engine: 'claude', model: ctx.claude_default_model };
  for (const [name, p] of Object.entries(ctx.providers)) {
    if (isAvailable(name, ctx)) return { engine: name, model: p.default_model };
  }
  return { engine: 'claude', model: ctx.claude_default_model };
}

function defaultOption(ctx: RouteContext): Option {
  const engine = isModelEngine(ctx.router.default_engine, ctx) ? ctx.router.default_engine : 'claude';
  return { engine, model: defaultModelOf(engine, ctx) };
}

function defaultModelOf(engine: string, ctx: RouteContext): string | null {
  if (engine === 'claude') return ctx.claude_default_model;
  return ctx.providers[engine]?.default_model ?? null;
}

/**
 * Engines the automatic rules may pick: Claude and the configured providers.
 * Never 'exec': it runs the prompt as a shell command, so only a task that
 * asks for it by name (forced engine) gets it.
 */
function isModelEngine(engine: string, ctx: RouteContext): boolean {
  return engine === 'claude' || Object.hasOwn(ctx.providers, engine);
}

function isAvailable(engine: string, ctx: RouteContext): boolean {
  return ctx.available ? ctx.available.includes(engine) : isModelEngine(engine, ctx);
}

/** Which engine serves a model id: a provider listing it, Claude for its aliases and claude-* ids. */
export function engineOfModel(model: string, ctx: Pick<RouteContext, 'providers'>): string | null {
  const m = model.toLowerCase();
  for (const [name, p] of Object.entries(ctx.providers)) if (p.models.some((x) => x.toLowerCase() === m)) return name;
  if ((CLAUDE_ALIASES as readonly string[]).includes(m) || m.startsWith('claude-')) return 'claude';
  return null;
}

const label = (o: Option): string => `${o.engine}/${o.model ?? 'default'}`;
