/**
 * Adaptive engine selection (DESIGN §3): per task class (complexity bucket)
 * and engine/model, success rate, mean cost and latency from past attempts;
 * pick the cheapest option expected to succeed, explore a little, and choose
 * the fallback after a failure. Pure: the store feeds records in, the caller
 * passes an rng.
 *
 * Expected success of an option is its Beta(1 + ok, 1 + failed) posterior
 * mean plus `bonus` posterior standard deviations (an upper confidence bound).
 * The optimism is deliberate: an option nobody has tried scores 0.5 + 1.5·0.29
 * ≈ 0.93 and so gets tried on its class, and after one or two failures its
 * bound falls under the threshold for good. A lower bound would never try the
 * cheap options and the router would stay as expensive as the rules it
 * replaces; the price of optimism is a few fallback retries per class.
 *
 * When the task may use more than one attempt, a choice is judged with the
 * fallback ladder it implies (cheap engine → Claude default → … → opus, the
 * same ladder fallbackFor uses): success = p₁ + (1 − p₁)·p₂ + …, cost =
 * c₁ + (1 − p₁)·c₂ + …, the first step optimistic, later steps at their mean.
 * An option whose own mean is under half the best mean in the class is not a
 * first choice at all, so a nearly free but hopeless first attempt is not
 * "bought" just for the fallback behind it. With one attempt this is exactly
 * "the cheapest option whose expected success clears the threshold".
 */
import { nextOnLadder } from './fallback.js';
import { formatUsd } from './pricing.js';

export { claudeTier, fallbackFor, nextOnLadder, type FallbackContext, type FallbackDecision } from './fallback.js';

export interface AttemptRecord {
  bucket: string;
  engine: string;
  model: string | null;
  ok: boolean;
  cost_usd: number | null;
  latency_ms: number | null;
}

export interface OptionStats {
  n: number;
  ok: number;
  cost_sum: number;
  cost_n: number; // attempts with a known cost
  latency_sum: number;
  latency_n: number;
}

export interface AdaptiveStats {
  buckets: Map<string, Map<string, OptionStats>>;
}

export const optionKey = (engine: string, model: string | null): string => `${engine}/${model ?? 'default'}`;

export function emptyStats(): AdaptiveStats {
  return { buckets: new Map() };
}

export function buildStats(records: Iterable<AttemptRecord>): AdaptiveStats {
  const stats = emptyStats();
  for (const r of records) addRecord(stats, r);
  return stats;
}

/** Mean observed cost of an option in a class, or null without history (for FallbackContext.observed_cost). */
export function meanCost(stats: AdaptiveStats, bucket: string, engine: string, model: string | null): number | null {
  const s = stats.buckets.get(bucket)?.get(optionKey(engine, model));
  return s && s.cost_n > 0 ? s.cost_sum / s.cost_n : null;
}

/** Folds one attempt into `stats` in place (the caller owns the accumulator; online learning). */
export function addRecord(stats: AdaptiveStats, r: AttemptRecord): void {
  let bucket = stats.buckets.get(r.bucket);
  if (!bucket) stats.buckets.set(r.bucket, (bucket = new Map()));
  const key = optionKey(r.engine, r.model);
  let s = bucket.get(key);
  if (!s) bucket.set(key, (s = { n: 0, ok: 0, cost_sum: 0, cost_n: 0, latency_sum: 0, latency_n: 0 }));
  s.n += 1;
  if (r.ok) s.ok += 1;
  if (r.cost_usd !== null && Number.isFinite(r.cost_usd)) {
    s.cost_sum += r.cost_usd;
    s.cost_n += 1;
  }
  if (r.latency_ms !== null && Number.isFinite(r.latency_ms)) {
    s.latency_sum += r.latency_ms;
    s.latency_n += 1;
  }
}

export interface AdaptiveCandidate {
  engine: string;
  model: string | null;
  prior_cost_usd: number | null;
}

export interface CandidateView {
  engine: string;
  model: string | null;
  n: number;
  ok: number;
  p_mean: number;
  p_bound: number; // p_mean + bonus · sd
  cost_usd: number | null;
  cost_source: 'observed' | 'prior' | 'unknown';
  latency_ms: number | null;
  affordable: boolean;
  eligible: boolean; // affordable and not hopeless as a first choice
  chain_success: number; // expected success with the fallbacks the attempts allow
  chain_cost_usd: number | null; // expected cost of that chain
  clears: boolean;
}

export interface AdaptiveOptions {
  success_threshold: number;
  explore_rate: number;
  budget_usd: number;
  rng: () => number;
  /** Attempts this task may still use, this one included (fallbacks). Default 1. */
  attempts?: number;
  /** Where a non-Claude failure falls back to (the ladder's first Claude step). Default 'sonnet'. */
  claude_default_model?: string;
  /** Below this many attempts in the bucket the rules decide (cold start). */
  min_bucket_samples?: number;
  /** Standard deviations of optimism; see the header. */
  bonus?: number;
}

/** A first choice must reach this fraction of the best mean success in its class. */
export const FIRST_CHOICE_GUARD = 0.5;

export interface AdaptiveChoice {
  engine: string;
  model: string | null;
  rule: 'adaptive' | 'explore';
  explanation: string;
  candidates: CandidateView[];
}

export function viewCandidates(
  stats: AdaptiveStats,
  bucket: string,
  candidates: readonly AdaptiveCandidate[],
  opts: Pick<AdaptiveOptions, 'success_threshold' | 'budget_usd' | 'bonus' | 'attempts' | 'claude_default_model'>,
): CandidateView[] {
  const bonus = opts.bonus ?? 1.5;
  const b = stats.buckets.get(bucket);
  const views = candidates.map((c): CandidateView => {
    const s = b?.get(optionKey(c.engine, c.model));
    const n = s?.n ?? 0;
    const ok = s?.ok ?? 0;
    const a = ok + 1;
    const f = n - ok + 1;
    const p_mean = a / (a + f);
    const sd = Math.sqrt((a * f) / ((a + f) * (a + f) * (a + f + 1)));
    const observed = s && s.cost_n > 0 ? s.cost_sum / s.cost_n : null;
    const cost_usd = observed ?? c.prior_cost_usd;
    return {
      engine: c.engine,
      model: c.model,
      n,
      ok,
      p_mean,
      p_bound: Math.min(1, p_mean + bonus * sd),
      cost_usd,
      cost_source: observed !== null ? 'observed' : c.prior_cost_usd !== null ? 'prior' : 'unknown',
      latency_ms: s && s.latency_n > 0 ? Math.round(s.latency_sum / s.latency_n) : null,
      affordable: cost_usd !== null && cost_usd <= opts.budget_usd,
      eligible: false,
      chain_success: 0,
      chain_cost_usd: null,
      clears: false,
    };
  });

  const find = (o: { engine: string; model: string }): CandidateView | undefined => views.find((v) => v.engine === o.engine && v.model === o.model);
  const best = views.reduce((m, v) => (v.affordable && v.p_mean > m ? v.p_mean : m), 0);
  const attempts = Math.max(1, Math.floor(opts.attempts ?? 1));
  const claudeDefault = opts.claude_default_model ?? 'sonnet';
  for (const v of views) {
    v.eligible = v.affordable && v.p_mean >= FIRST_CHOICE_GUARD * best;
    // Walk the fallback ladder: optimistic first step, mean for the ones behind it.
    let reach = 1;
    let success = 0;
    let cost = 0;
    let step: CandidateView | undefined = v;
    for (let i = 0; i < attempts && step?.affordable; i += 1) {
      const p = i === 0 ? step.p_bound : step.p_mean;
      cost += reach * (step.cost_usd ?? 0);
      success += reach * p;
      reach *= 1 - p;
      const next = nextOnLadder(step, claudeDefault);
      step = next ? find(next) : undefined;
    }
    v.chain_success = round3(success);
    v.chain_cost_usd = v.affordable ? cost : null;
    v.clears = v.eligible && success >= opts.success_threshold;
  }
  // Rounded for display only after every chain has used the exact values.
  for (const v of views) {
    v.p_mean = round3(v.p_mean);
    v.p_bound = round3(v.p_bound);
  }
  return views;
}

/**
 * Picks an option for a task of class `bucket`, or returns null when the
 * bucket has too little history (cold start) or nothing is affordable; the
 * router then falls back to its rules.
 */
export function chooseAdaptive(
  stats: AdaptiveStats,
  bucket: string,
  candidates: readonly AdaptiveCandidate[],
  opts: AdaptiveOptions,
): AdaptiveChoice | null {
  const b = stats.buckets.get(bucket);
  let seen = 0;
  if (b) for (const s of b.values()) seen += s.n;
  if (seen < (opts.min_bucket_samples ?? 5)) return null;

  const views = viewCandidates(stats, bucket, candidates, opts);
  const affordable = views.filter((v) => v.affordable);
  if (affordable.length === 0) return null;

  if (opts.rng() < opts.explore_rate) {
    const pick = affordable[Math.min(affordable.length - 1, Math.floor(opts.rng() * affordable.length))];
    if (pick) {
      const pct = Math.round(opts.explore_rate * 100);
      return { ...pickOf(pick), rule: 'explore', explanation: `exploring (${pct}% of decisions): ${describe(pick)} in class ${bucket}`, candidates: views };
    }
  }

  const cheaper = (x: CandidateView, y: CandidateView): number =>
    (x.chain_cost_usd ?? Infinity) - (y.chain_cost_usd ?? Infinity) || y.chain_success - x.chain_success;
  let best: CandidateView | undefined;
  for (const v of views) if (v.clears && (!best || cheaper(v, best) < 0)) best = v;
  const record = (v: CandidateView): string => (v.n ? `${v.ok}/${v.n} ok` : 'untried');
  const then = (v: CandidateView): string => {
    const next = (opts.attempts ?? 1) > 1 ? nextOnLadder(v, opts.claude_default_model ?? 'sonnet') : null;
    return next ? `, then ${next.engine}/${next.model} on failure` : '';
  };
  if (best) {
    return {
      ...pickOf(best),
      rule: 'adaptive',
      explanation: `class ${bucket}: ${describe(best)} ${record(best)}${then(best)} → success ~${best.chain_success.toFixed(2)} ≥ ${opts.success_threshold.toFixed(2)} at ~${formatUsd(best.chain_cost_usd ?? 0)}, the cheapest that clears`,
      candidates: views,
    };
  }
  let top: CandidateView | undefined;
  for (const v of views) {
    if (!v.eligible) continue;
    if (!top || v.chain_success > top.chain_success || (v.chain_success === top.chain_success && cheaper(v, top) < 0)) top = v;
  }
  if (!top) return null;
  return {
    ...pickOf(top),
    rule: 'adaptive',
    explanation: `class ${bucket}: nothing clears ${opts.success_threshold.toFixed(2)}; ${describe(top)} ${record(top)}${then(top)} has the best expected success (~${top.chain_success.toFixed(2)})`,
    candidates: views,
  };
}

const pickOf = (v: CandidateView): { engine: string; model: string | null } => ({ engine: v.engine, model: v.model });
const describe = (v: CandidateView): string => `${v.engine}/${v.model ?? 'default'}`;
const round3 = (x: number): number => Math.round(x * 1000) / 1000;
