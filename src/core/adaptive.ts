/**
 * What the adaptive router learns (DESIGN §3): per task class and per plan
 * step, discounted success/failure counts and costs. Pure: the store feeds
 * records in (online, and replayed at start), the router reads them.
 *
 * A "plan step" is keyed by the path of options tried on the task so far:
 * "groq/llama-3.1-8b-instant" is a first attempt, "groq/llama-3.1-8b-instant >
 * claude/claude-sonnet-5-5" is Sonnet as the fallback after the 8b model
 * failed. Outcomes of different models on one task are correlated (a task the
 * cheap model failed is likely hard), so a fallback's success is learned as
 * the conditional rate it is, not borrowed from first attempts.
 *
 * Learning follows change by discounting: each attempt recorded in a class
 * multiplies every count of that class by γ = 1 − 1/memory, so evidence older
 * than ~memory attempts of the class fades. A model nobody picks any more
 * drifts back to its prior and gets re-tried, which is how an upgrade of an
 * abandoned cheap model is noticed; a model that degrades sees its recent
 * failures outweigh its old successes within ~memory attempts. Decay is lazy
 * (applied on write and on read from the class's step counter), so recording
 * is O(1).
 */
export { claudeTier, fallbackFor, nextOnLadder, type FallbackContext, type FallbackDecision } from './fallback.js';

/** Default memory: about this many recent attempts of a class carry the weight. */
export const DEFAULT_MEMORY = 150;

export interface AttemptRecord {
  /** Task class as computed when the attempt was routed. */
  cls: string;
  /** Option ids (optionId) tried on this task, in order, this attempt last. */
  path: readonly string[];
  ok: boolean;
  cost_usd: number | null;
}

export interface ArmStats {
  s: number; // discounted successes
  f: number; // discounted failures
  cost_sum: number; // discounted
  cost_w: number; // discounted weight of attempts with a known cost
  n: number; // raw attempts, for display
  ok: number; // raw successes, for display
  at: number; // class step the discounted values refer to
}

export interface ClassStats {
  step: number; // attempts recorded in the class
  arms: Map<string, ArmStats>;
}

export interface AdaptiveStats {
  gamma: number;
  classes: Map<string, ClassStats>;
}

export const ARM_SEPARATOR = ' > ';
export const armKey = (path: readonly string[]): string => path.join(ARM_SEPARATOR);

export function emptyStats(memory = DEFAULT_MEMORY): AdaptiveStats {
  return { gamma: memory > 1 ? 1 - 1 / memory : 0, classes: new Map() };
}

export function buildStats(records: Iterable<AttemptRecord>, memory = DEFAULT_MEMORY): AdaptiveStats {
  const stats = emptyStats(memory);
  for (const r of records) addRecord(stats, r);
  return stats;
}

/** Folds one attempt into `stats` in place (online learning). */
export function addRecord(stats: AdaptiveStats, r: AttemptRecord): void {
  if (r.path.length === 0) return;
  let c = stats.classes.get(r.cls);
  if (!c) stats.classes.set(r.cls, (c = { step: 0, arms: new Map() }));
  c.step += 1;
  const key = armKey(r.path);
  let a = c.arms.get(key);
  if (!a) c.arms.set(key, (a = { s: 0, f: 0, cost_sum: 0, cost_w: 0, n: 0, ok: 0, at: c.step }));
  decayTo(stats.gamma, a, c.step);
  a.n += 1;
  if (r.ok) {
    a.s += 1;
    a.ok += 1;
  } else a.f += 1;
  if (r.cost_usd !== null && Number.isFinite(r.cost_usd) && r.cost_usd >= 0) {
    a.cost_sum += r.cost_usd;
    a.cost_w += 1;
  }
}

function decayTo(gamma: number, a: ArmStats, step: number): void {
  if (step === a.at) return;
  const k = Math.pow(gamma, step - a.at);
  a.s *= k;
  a.f *= k;
  a.cost_sum *= k;
  a.cost_w *= k;
  a.at = step;
}

/** An arm as of now (decayed to the class's current step), without changing the stats. */
export interface ArmView {
  key: string;
  n: number;
  ok: number;
  successes: number; // discounted
  weight: number; // discounted attempts (successes + failures)
  cost_usd: number | null; // discounted mean cost, null without a known cost
  cost_weight: number;
}

export function armView(stats: AdaptiveStats, cls: string, key: string): ArmView | null {
  const c = stats.classes.get(cls);
  const a = c?.arms.get(key);
  if (!c || !a) return null;
  const k = c.step === a.at ? 1 : Math.pow(stats.gamma, c.step - a.at);
  const cost_weight = a.cost_w * k;
  return {
    key,
    n: a.n,
    ok: a.ok,
    successes: a.s * k,
    weight: (a.s + a.f) * k,
    cost_usd: a.cost_w > 1e-9 ? a.cost_sum / a.cost_w : null,
    cost_weight,
  };
}

/**
 * Mean observed cost of an option in a class over every step that ran it
 * (first attempts and fallbacks), or null without history. The fallback check
 * (FallbackContext.observed_cost) and the plan's cost prior use it.
 */
export function meanCost(stats: AdaptiveStats, cls: string, option: string): number | null {
  const c = stats.classes.get(cls);
  if (!c) return null;
  let sum = 0;
  let w = 0;
  for (const [key, a] of c.arms) {
    if (a.cost_w <= 1e-9 || !(key === option || (key.endsWith(option) && key.endsWith(ARM_SEPARATOR + option)))) continue;
    const k = Math.pow(stats.gamma, c.step - a.at);
    sum += a.cost_sum * k;
    w += a.cost_w * k;
  }
  return w > 1e-9 ? sum / w : null;
}

/** Every arm of every class as of now: what the dashboard and `colony router explain` show. */
export function snapshot(stats: AdaptiveStats): { cls: string; step: number; arms: ArmView[] }[] {
  const out: { cls: string; step: number; arms: ArmView[] }[] = [];
  for (const [cls, c] of stats.classes) {
    const arms: ArmView[] = [];
    for (const key of c.arms.keys()) arms.push(armView(stats, cls, key) as ArmView);
    out.push({ cls, step: c.step, arms });
  }
  return out;
}
