/**
 * What to try after a failed attempt (DESIGN §3: "on failure of the cheap
 * engine, retry on the other engine within the remaining budget, recorded as
 * a second attempt"). Pure. The ladder is also what the adaptive router
 * assumes when it judges a first choice together with its fallbacks.
 */
import { estimateAttemptCost, formatUsd, type PriceTable, type UsageExpectation } from './pricing.js';

export interface FallbackContext {
  claude_default_model: string;
  pricing: PriceTable;
  prompt_chars: number;
  /** Observed mean cost of an option for this task's class (adaptive.meanCost); null or absent: estimate. */
  observed_cost?: (engine: string, model: string) => number | null;
  expected?: Partial<UsageExpectation>;
}

export interface FallbackDecision {
  next: { engine: string; model: string; estimate_usd: number } | null;
  reason: string;
}

// Failures a retry on another engine cannot fix.
const NO_FALLBACK: Record<string, string> = {
  E_BUDGET: 'the budget is used up',
  E_CANCELLED: 'the attempt was cancelled',
  E_HALTED: 'the kill switch is engaged',
  E_SAFETY_DENIED: 'a safety check refused the task',
  E_PRICE_UNKNOWN: 'the cost cannot be estimated',
};
const CLAUDE_LADDER = ['haiku', 'sonnet', 'opus'] as const;

/** Tier of a Claude model on the haiku → sonnet → opus ladder; -1 if not recognised. */
export function claudeTier(model: string | null): number {
  const m = (model ?? '').toLowerCase();
  return CLAUDE_LADDER.findIndex((name) => m === name || m.includes(`-${name}-`) || m.startsWith(`claude-${name}`));
}

/**
 * The ladder: any non-Claude engine → Claude's default model; Claude climbs
 * haiku → sonnet → opus; opus, exec and unrecognised Claude models have
 * nothing above them.
 */
export function nextOnLadder(o: { engine: string; model: string | null }, claudeDefaultModel: string): { engine: string; model: string } | null {
  if (o.engine === 'exec') return null;
  if (o.engine !== 'claude') return { engine: 'claude', model: claudeDefaultModel };
  const tier = claudeTier(o.model);
  const up = CLAUDE_LADDER[tier + 1];
  return tier < 0 || !up ? null : { engine: 'claude', model: up };
}

/**
 * The next engine/model after `decision` failed with `failure`, or null with
 * the reason: the failure is not the engine's fault (budget, cancel, kill
 * switch, safety), nothing stronger exists, or the budget left cannot cover
 * the next attempt's expected cost.
 */
export function fallbackFor(
  decision: { engine: string; model: string | null },
  failure: { error_code: string | null; summary?: string },
  remainingBudgetUsd: number,
  ctx: FallbackContext,
): FallbackDecision {
  const code = failure.error_code ?? '';
  const blocked = NO_FALLBACK[code];
  if (blocked) return { next: null, reason: `no fallback: ${blocked} (${code})` };
  if (decision.engine === 'exec') return { next: null, reason: 'no fallback: a command fails the same way on every engine' };
  if (decision.engine === 'claude' && (code === 'E_ENGINE_MISSING' || code === 'E_ENGINE_AUTH')) {
    return { next: null, reason: `no fallback: the Claude CLI is not usable (${code}); fix its configuration` };
  }
  const next = nextOnLadder(decision, ctx.claude_default_model);
  if (!next) return { next: null, reason: `no fallback: ${decision.engine}/${decision.model ?? 'default'} is already the strongest option` };

  const target = `${next.engine}/${next.model}`;
  const estimate = ctx.observed_cost?.(next.engine, next.model) ?? estimateAttemptCost(ctx.pricing, next.engine, next.model, ctx.prompt_chars, ctx.expected);
  if (remainingBudgetUsd <= 0) return { next: null, reason: `no fallback to ${target}: the budget is used up` };
  if (estimate === null) return { next: null, reason: `no fallback to ${target}: its price is unknown` };
  if (estimate > remainingBudgetUsd) {
    return { next: null, reason: `no fallback to ${target}: it needs ~${formatUsd(estimate)} but ${formatUsd(remainingBudgetUsd)} is left` };
  }
  const after = failure.error_code ? ` after ${failure.error_code}` : '';
  return {
    next: { ...next, estimate_usd: estimate },
    reason: `${decision.engine}/${decision.model ?? 'default'} failed${after}; retrying on ${target} (~${formatUsd(estimate)} of ${formatUsd(remainingBudgetUsd)} left)`,
  };
}

/**
 * Attempts the pool grants a task: an auto-routed task gets one fallback
 * attempt on a stronger engine even with max_attempts 1 (DESIGN §3). The
 * router plans with the same number (runner/pool.ts applies this rule).
 */
export function attemptsAllowed(engine: string, maxAttempts: number): number {
  return engine === 'auto' ? Math.max(maxAttempts, 2) : maxAttempts;
}
