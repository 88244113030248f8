/**
 * The attempt policy, in one place, pure: how an engine's events fold into
 * an attempt's outcome, when a running attempt must stop for its budget, and
 * what follows an attempt (retry, fallback, final state). The local pool, the
 * remote settle, the worker runner and crash recovery all call it.
 *
 * Rules:
 *  - a task's budget caps all its attempts together (budget.ts states the stop rule);
 *    an attempt stopped for its budget, or ending with E_BUDGET, is never retried;
 *  - cancelled (admin, kill switch, or the worker says E_CANCELLED) → cancelled, not retried;
 *  - stopped because its graph's or user's budget was reached while it ran ('paused') → failed
 *    with E_BUDGET, and the task goes back to the queue, where the scope's pause holds it
 *    (unless the engine had finished successfully anyway: then it succeeded); not counted
 *    against max_attempts;
 *  - an attempt interrupted by a host crash or a lost worker is its own attempt,
 *    state `lost`, and counts against max_attempts like any failed one;
 *  - an offer a worker refused because it had no free slot ("busy") never started:
 *    recorded as lost but not counted, at most MAX_UNCHARGED times per task;
 *  - any other failure is retried while attempts remain; an `auto`-routed task
 *    gets one fallback attempt even with max_attempts 1 (DESIGN §3);
 *  - a success whose change waits for approval is held, the rest succeed.
 */
import { budgetExhausted } from './budget.js';
import type { AttemptOutcome, EngineEvent } from './engine.js';
import { isErrorCode, type ErrorCode } from './errors.js';
import type { FinishState } from './scheduler.js';
import { ZERO_USAGE } from './task.js';

export type AttemptState = 'succeeded' | 'failed' | 'timed_out' | 'cancelled' | 'lost';

/** Why an attempt stopped from outside its engine. */
export type Interruption =
  | { kind: 'cancelled'; reason: string }
  | { kind: 'budget'; reason: string }
  | { kind: 'paused'; reason: string } // its graph's or user's budget, reached in flight
  | { kind: 'lost'; reason: string; charged: boolean };

/** What happens to the task next; applied by TaskService to its scheduler at write time. */
export type NextStep =
  { kind: 'finish'; state: FinishState; reason: string } | { kind: 'requeue'; reason: string } | { kind: 'hold_after_run'; reason: string };

export interface AttemptDecision {
  state: AttemptState;
  error_code: ErrorCode | null;
  next: NextStep;
}

export interface AttemptFacts {
  task: { engine: string; max_attempts: number };
  /** This attempt's number (1-based; every earlier attempt, lost ones included, has one). */
  attempt: number;
  /** Earlier attempts that did not count (offers refused as busy). */
  uncharged_before: number;
  outcome: { ok: boolean; summary: string; error_code: string | null; engine: string | null };
  interruption: Interruption | null;
  /** A successful attempt whose change waits for approval. */
  hold?: boolean;
}

/** How many offers refused for want of a free slot are not counted against a task. */
export const MAX_UNCHARGED = 3;
/** The error code of an attempt interrupted by a host crash or a lost worker. */
export const LOST_CODE: ErrorCode = 'E_LOST';

const clip = (s: string, n: number): string => (s.length > n ? s.slice(0, n) : s);

/** An error code as the catalogue knows it; a code from a worker that it does not know becomes E_ENGINE. */
export function knownCode(code: string | null | undefined): ErrorCode | null {
  if (code === null || code === undefined) return null;
  return isErrorCode(code) ? code : 'E_ENGINE';
}

/** Decides the attempt's recorded state and the task's next step. */
export function decideAttempt(f: AttemptFacts): AttemptDecision {
  const { outcome } = f;
  // A scope's budget reached by the cost an attempt reports as it ends: the work is done and paid for, keep it.
  const stop = f.interruption?.kind === 'paused' && outcome.ok ? null : f.interruption;
  if (stop?.kind === 'cancelled')
    return { state: 'cancelled', error_code: 'E_CANCELLED', next: { kind: 'finish', state: 'cancelled', reason: clip(stop.reason, 1000) } };
  if (stop?.kind === 'paused') return { state: 'failed', error_code: 'E_BUDGET', next: { kind: 'requeue', reason: clip(`E_BUDGET: ${stop.reason}`, 1000) } };
  if (stop?.kind === 'budget' || (!outcome.ok && outcome.error_code === 'E_BUDGET')) {
    const reason = stop?.kind === 'budget' ? stop.reason : `E_BUDGET: ${outcome.summary}`;
    return { state: 'failed', error_code: 'E_BUDGET', next: { kind: 'finish', state: 'failed', reason: clip(reason, 1000) } };
  }
  if (outcome.ok && !stop) {
    const summary = clip(outcome.summary, 500);
    return {
      state: 'succeeded',
      error_code: null,
      next: f.hold ? { kind: 'hold_after_run', reason: 'change pending approval' } : { kind: 'finish', state: 'succeeded', reason: summary },
    };
  }
  if (!stop && outcome.error_code === 'E_CANCELLED') {
    return {
      state: 'cancelled',
      error_code: 'E_CANCELLED',
      next: { kind: 'finish', state: 'cancelled', reason: clip(`E_CANCELLED: ${outcome.summary}`, 1000) },
    };
  }
  if (stop?.kind === 'lost') {
    const charged = stop.charged || f.uncharged_before >= MAX_UNCHARGED;
    return { state: 'lost', error_code: charged ? LOST_CODE : 'E_WORKER_BUSY', next: retryOrEnd(f, charged ? 0 : 1, 'failed', stop.reason) };
  }
  const code = knownCode(outcome.error_code) ?? 'E_ENGINE';
  const state = code === 'E_TIMEOUT' ? 'timed_out' : 'failed';
  return { state, error_code: code, next: retryOrEnd(f, 0, state, `${code}: ${outcome.summary}`) };
}

/** Attempts a task may use: max_attempts, or 2 for an auto-routed task that can fall back to a stronger engine. */
export function allowedAttempts(task: { engine: string; max_attempts: number }, usedEngine: string | null): number {
  return task.engine === 'auto' && usedEngine !== 'exec' ? Math.max(task.max_attempts, 2) : task.max_attempts;
}

function retryOrEnd(f: AttemptFacts, notCounted: number, state: 'failed' | 'timed_out', reason: string): NextStep {
  const counted = f.attempt - f.uncharged_before - notCounted;
  const allowed = allowedAttempts(f.task, f.outcome.engine);
  if (counted < allowed) return { kind: 'requeue', reason: clip(`retry after attempt ${counted}/${allowed}: ${reason}`, 1000) };
  return { kind: 'finish', state, reason: clip(reason, 1000) };
}

/**
 * Earlier attempts that do not count against max_attempts: offers refused as
 * busy (see MAX_UNCHARGED) and attempts stopped or withdrawn because their
 * graph's or user's budget paused (failed E_BUDGET; a task's own budget stop
 * also fails E_BUDGET but ends the task, so nothing follows it to be counted).
 * A pause is not the task's failure, and each one needs the admin to resume.
 */
export function unchargedAttempts(rows: ReadonlyArray<{ state: string; error_code: string | null; summary?: string | null }>): number {
  return rows.filter((r) => (r.state === 'lost' && r.error_code === 'E_WORKER_BUSY') || (r.state === 'failed' && r.error_code === 'E_BUDGET')).length;
}

// ---- folding an engine's events ----------------------------------------

/** An attempt's outcome before its engine said anything. */
export function beginOutcome(engine: string, model: string | null): AttemptOutcome {
  return { ok: false, summary: 'engine ended without a result', error_code: 'E_ENGINE', engine, model, usage: ZERO_USAGE, cost_usd: 0, cost_source: 'none' };
}

/**
 * Folds one event into the outcome. `budgetStop` is set when the cost it
 * reports has used the attempt's budget up (the caller aborts the engine).
 */
export function foldEvent(o: AttemptOutcome, ev: EngineEvent, budgetUsd: number): { outcome: AttemptOutcome; budgetStop: string | null } {
  switch (ev.type) {
    case 'usage':
      return { outcome: { ...o, usage: ev.usage }, budgetStop: null };
    case 'cost': {
      const next = { ...o, cost_usd: ev.usd, cost_source: ev.source };
      const stop = ev.usd !== null && budgetExhausted(ev.usd, budgetUsd) ? `budget: spent $${ev.usd.toFixed(4)} ≥ $${budgetUsd.toFixed(4)}` : null;
      return { outcome: next, budgetStop: stop };
    }
    case 'info':
      return { outcome: { ...o, engine: ev.engine, model: ev.model ?? o.model }, budgetStop: null };
    case 'done':
      return { outcome: { ...o, ok: ev.ok, summary: ev.summary, error_code: ev.ok ? null : (knownCode(ev.error_code) ?? 'E_ENGINE') }, budgetStop: null };
    default:
      return { outcome: o, budgetStop: null };
  }
}

/** Output kept per attempt: the first `max` characters, then one notice. */
export interface OutputCap {
  used: number;
  truncated: boolean;
}

/** The part of `text` to keep, and whether the truncation notice is due now. */
export function capOutput(cap: OutputCap, text: string, max: number): { keep: string; notice: boolean } {
  if (cap.used < max) {
    const keep = text.slice(0, max - cap.used);
    cap.used += keep.length;
    return { keep, notice: false };
  }
  if (cap.truncated) return { keep: '', notice: false };
  cap.truncated = true;
  return { keep: '', notice: true };
}
