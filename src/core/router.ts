/**
 * Picks the engine and model for one attempt of a task (DESIGN §3), in the
 * report's order:
 *
 *   forced engine → explicit words in the task → [adaptive] → complexity →
 *   budget → INFERENCE_ENGINE → default engine
 *
 * Adaptive sits "on top" of the automatic rules: once a task class has
 * history it replaces complexity/budget/env/default, but never overrides what
 * the user asked for (forced engine, explicit words). Pure: no clock, the rng
 * is passed in. Every decision carries a one-line explanation for the UI.
 */
import { chooseAdaptive, type AdaptiveCandidate, type AdaptiveStats, type CandidateView } from './adaptive.js';
import { scoreComplexity, topFeatures, type ComplexityResult } from './complexity.js';
import type { ColonyConfig, ProviderConfig } from './config.js';
import { estimateAttemptCost, formatUsd, type PriceTable, type UsageExpectation } from './pricing.js';

export type RouteRule = 'forced' | 'explicit' | 'complexity' | 'budget' | 'adaptive' | 'env' | 'default' | 'explore';

export interface RouteInput {
  prompt: string;
  engine: string; // 'auto' or a forced engine name
  model: string | null;
  budget_usd: number;
  depends_on_depth: number;
  env_engine: string | null; // INFERENCE_ENGINE, read by the caller
  /** Attempts the task may still use, this one included; >1 lets adaptive count on fallbacks. Default 1. */
  attempts_left?: number;
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
  candidates?: CandidateView[];
}

export const CLAUDE_ALIASES = ['haiku', 'sonnet', 'opus'] as const;

interface Option {
  engine: string;
  model: string | null;
}

export function routeTask(input: RouteInput, ctx: RouteContext): RouteDecision {
  const complexity = scoreComplexity({ prompt: input.prompt, depends_on_depth: input.depends_on_depth });
  const decide = (o: Option, rule: RouteRule, explanation: string, candidates?: CandidateView[]): RouteDecision =>
    candidates ? { ...o, rule, explanation, complexity, candidates } : { ...o, rule, explanation, complexity };

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

  // 3. Adaptive, once this class of task has history.
  if (ctx.stats && ctx.router.adaptive) {
    const choice = chooseAdaptive(ctx.stats, complexity.bucket, candidatesFor(input, ctx), {
      success_threshold: ctx.router.success_threshold,
      explore_rate: ctx.router.explore_rate,
      budget_usd: input.budget_usd,
      rng: ctx.rng,
      attempts: input.attempts_left ?? 1,
      claude_default_model: ctx.claude_default_model,
    });
    if (choice) return decide({ engine: choice.engine, model: choice.model }, choice.rule, choice.explanation, choice.candidates);
  }

  // 4. Complexity: clearly hard → the strong engine, clearly simple → the cheap one.
  const why = `complexity ${complexity.score.toFixed(2)} (${topFeatures(complexity) || 'no signal'})`;
  if (complexity.score >= ctx.router.complexity_threshold) {
    const strong = strongOption(ctx);
    return decide(strong, 'complexity', `${why} ≥ ${ctx.router.complexity_threshold} → ${label(strong)}`);
  }
  if (complexity.score <= ctx.router.simple_threshold) {
    const cheap = cheapOption(ctx);
    return decide(cheap, 'complexity', `${why} ≤ ${ctx.router.simple_threshold} → ${label(cheap)}`);
  }

  // 5. Small budget → cheap engine.
  if (input.budget_usd < ctx.router.cheap_budget_usd) {
    const cheap = cheapOption(ctx);
    return decide(cheap, 'budget', `budget ${formatUsd(input.budget_usd)} < ${formatUsd(ctx.router.cheap_budget_usd)} → ${label(cheap)}`);
  }

  // 6. INFERENCE_ENGINE, when it names a model engine that can run.
  const env = input.env_engine?.trim().toLowerCase();
  if (env && isModelEngine(env, ctx) && isAvailable(env, ctx)) {
    const o = { engine: env, model: defaultModelOf(env, ctx) };
    return decide(o, 'env', `INFERENCE_ENGINE=${env} → ${label(o)}`);
  }

  // 7. Default.
  const d = defaultOption(ctx);
  return decide(d, 'default', `${why} is in the middle band, no other rule applies → default ${label(d)}`);
}

/** Every engine/model the adaptive router may pick for this task, with a prior cost. */
export function candidatesFor(input: Pick<RouteInput, 'prompt'>, ctx: RouteContext): AdaptiveCandidate[] {
  const out: AdaptiveCandidate[] = [];
  const add = (engine: string, model: string): void => {
    out.push({ engine, model, prior_cost_usd: estimateAttemptCost(ctx.pricing, engine, model, input.prompt.length, ctx.expected) });
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

// "use groq", "via ollama", "run it on claude", "engine: groq"; not "don't use groq". Bare
// "with"/"on" are left out: "fix the integration with Claude" is about Claude, not a choice of engine.
const VERB = String.raw`(?:use|using|via|run\s+(?:it\s+|this\s+)?(?:on|with)|engine\s*[:=])\s+`;
const NEGATED = /(?:\bdon'?t|\bdo not|\bnever|\bnot|\bavoid|\bwithout|\bno)\s+(?:use\s+|using\s+)?$/;
const ALIAS_RE = new RegExp(String.raw`\b(?:${VERB}|model\s*[:=]?\s*)(?:claude\s+)?(haiku|sonnet|opus)\b`, 'i');
const CLAUDE_ID_RE = /\bclaude-(?:opus|sonnet|haiku|fable)-[\w.-]*\w/i;
const patternCache = new Map<string, RegExp>();

function enginePattern(names: readonly string[]): RegExp {
  const key = names.join('|');
  let re = patternCache.get(key);
  if (!re) {
    const alts = names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
    // Not followed by "-x" or ".x": "use claude-opus-4-5" names a model, matched separately.
    re = new RegExp(String.raw`\b${VERB}(${alts})(?![-\w]|\.\w)`, 'gi');
    patternCache.set(key, re);
  }
  return re;
}

/**
 * Explicit engine or model words in the task text. Bare Claude aliases count
 * only after a verb ("use opus") because "write a haiku" is not a request for
 * a model; full model ids ("llama-3.3-70b", "claude-opus-4-5") count anywhere.
 */
export function explicitFromText(prompt: string, ctx: Pick<RouteContext, 'providers' | 'claude_default_model'>): (Option & { phrase: string }) | null {
  const providers = Object.entries(ctx.providers);
  const engines = ['claude', ...providers.map(([n]) => n)];
  const notNegated = (index: number): boolean => !NEGATED.test(prompt.slice(Math.max(0, index - 16), index).toLowerCase());

  // Every mention found; the earliest wins, and at one position the longer phrase ("use claude opus").
  const found: (Option & { phrase: string; index: number })[] = [];
  const consider = (o: Option, phrase: string, index: number): void => {
    if (notNegated(index)) found.push({ ...o, phrase, index });
  };

  const re = enginePattern(engines);
  re.lastIndex = 0;
  for (let m = re.exec(prompt); m; m = re.exec(prompt)) {
    const engine = (m[1] ?? '').toLowerCase();
    const model = engine === 'claude' ? ctx.claude_default_model : (ctx.providers[engine]?.default_model ?? null);
    consider({ engine, model }, m[0].trim(), m.index);
  }

  const lower = prompt.toLowerCase();
  for (const [name, p] of providers) {
    for (const id of p.models) {
      // "llama-3.3-70b" names "llama-3.3-70b-versatile": match the id up to its size suffix.
      const short = id.toLowerCase().replace(/^(.*?-\d+(?:\.\d+)?b)\b.*$/, '$1');
      const at = lower.indexOf(short);
      if (at >= 0 && !/[\w.-]/.test(lower[at - 1] ?? ' ')) consider({ engine: name, model: id }, prompt.slice(at, at + short.length), at);
    }
  }
  const claudeId = CLAUDE_ID_RE.exec(prompt);
  if (claudeId) consider({ engine: 'claude', model: claudeId[0].toLowerCase() }, claudeId[0], claudeId.index);
  const alias = ALIAS_RE.exec(prompt);
  if (alias?.[1]) consider({ engine: 'claude', model: alias[1].toLowerCase() }, alias[0], alias.index);

  found.sort((a, b) => a.index - b.index || b.phrase.length - a.phrase.length);
  const best = found[0];
  return best ? { engine: best.engine, model: best.model, phrase: best.phrase } : null;
}
