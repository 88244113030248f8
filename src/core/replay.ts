/**
 * Replay and fencing checks for remote execution (DESIGN §6). Pure: the caller
 * passes `now` and keeps the cache. Call these only after the signature
 * verified — otherwise anyone could fill the nonce cache with junk.
 *
 * Worker side: an assignment is refused when expired, when its expiry lies
 * further ahead than the replay window (the worker could not remember its nonce
 * for its whole life), or when its nonce was seen before.
 * Host side: a result counts only for the current attempt, from the worker that
 * holds it, echoing the nonce of that assignment, with cost within the budget.
 */
import { exceedsBudget } from './budget.js';
import { ASSIGNMENT_TTL_MS, MAX_CLOCK_SKEW_MS, MAX_HOST_CLOCK_OFFSET_MS } from './protocol-fields.js';

export type Check<C extends string> = { ok: true } | { ok: false; code: C; reason: string };

export interface NonceCacheOptions {
  /** How long a nonce is remembered. Must cover the longest accepted message lifetime. */
  windowMs: number;
  /** Hard bound on memory. */
  maxEntries: number;
}

export const DEFAULT_NONCE_CACHE: NonceCacheOptions = {
  windowMs: ASSIGNMENT_TTL_MS + 2 * MAX_CLOCK_SKEW_MS,
  maxEntries: 100_000,
};

export type NonceVerdict = 'fresh' | 'replayed' | 'full';

/**
 * Remembers nonces for `windowMs` after first sight. Overflow policy: when
 * `maxEntries` nonces are all still inside the window, new nonces are refused
 * ('full') instead of evicting live ones — forgetting a live nonce would
 * re-open it for replay; refusing only delays work until entries age out.
 */
export class NonceCache {
  // Insertion order is expiry order as long as `now` does not go backwards, so
  // eviction pops from the front. If the clock steps back, entries stay longer:
  // the safe direction.
  private readonly entries = new Map<string, number>();
  readonly windowMs: number;
  readonly maxEntries: number;

  constructor(opts: Partial<NonceCacheOptions> = {}) {
    this.windowMs = opts.windowMs ?? DEFAULT_NONCE_CACHE.windowMs;
    this.maxEntries = opts.maxEntries ?? DEFAULT_NONCE_CACHE.maxEntries;
    if (!(this.windowMs > 0) || !(this.maxEntries > 0)) throw new RangeError('NonceCache needs windowMs > 0 and maxEntries > 0');
  }

  /** Records the nonce if fresh. */
  check(nonce: string, now: number): NonceVerdict {
    this.evict(now);
    const until = this.entries.get(nonce);
    if (until !== undefined && until > now) return 'replayed';
    if (this.entries.size >= this.maxEntries) return 'full';
    this.entries.set(nonce, now + this.windowMs);
    return 'fresh';
  }

  /** True when the message must be refused: the nonce was replayed, or the cache is full (see overflow policy). */
  seen(nonce: string, now: number): boolean {
    return this.check(nonce, now) !== 'fresh';
  }

  get size(): number {
    return this.entries.size;
  }

  private evict(now: number): void {
    for (const [nonce, until] of this.entries) {
      if (until > now) break;
      this.entries.delete(nonce);
    }
  }
}

export type AssignmentCheckCode = 'expired' | 'replayed';

/**
 * Worker side, for TASK_ASSIGNED and TASK_CANCELLED (anything with a fresh host
 * nonce). `now` is in host time: the worker's clock plus the offset it learned
 * from CHALLENGE.host_time. Records the nonce when the message is accepted.
 */
export function checkAssignment(
  msg: { nonce: string; expires_at?: number },
  now: number,
  nonces: NonceCache,
  skewMs: number = MAX_CLOCK_SKEW_MS,
): Check<AssignmentCheckCode> {
  if (msg.expires_at !== undefined) {
    if (msg.expires_at <= now) {
      return { ok: false, code: 'expired', reason: `assignment expired ${now - msg.expires_at} ms ago` };
    }
    // A replay is only harmless once the message has expired, so its nonce must
    // be remembered until then; refuse lifetimes longer than the cache window.
    if (msg.expires_at - now > nonces.windowMs - skewMs) {
      return {
        ok: false,
        code: 'expired',
        reason: `assignment expires too far ahead (${msg.expires_at - now} ms > ${nonces.windowMs - skewMs} ms); check the clocks`,
      };
    }
  }
  const verdict = nonces.check(msg.nonce, now);
  if (verdict === 'replayed') return { ok: false, code: 'replayed', reason: 'nonce already used: replayed message' };
  if (verdict === 'full') return { ok: false, code: 'replayed', reason: 'replay cache full; retry later' };
  return { ok: true };
}

export type BindingCheckCode = 'not_yours' | 'replayed';

/**
 * Worker side, for TASK_ASSIGNED and TASK_CANCELLED: the order must name this
 * worker and this connection's session (its CHALLENGE nonce). A signed order
 * captured on another worker's connection, or on an earlier connection of this
 * one, fails here even though its signature is good.
 */
export function checkBinding(msg: { worker_id: string; session: string }, mine: { workerId: string; session: string }): Check<BindingCheckCode> {
  if (msg.worker_id !== mine.workerId) {
    return { ok: false, code: 'not_yours', reason: `order is bound to worker ${msg.worker_id.slice(0, 64)}, not to this worker` };
  }
  if (mine.session === '' || msg.session !== mine.session) {
    return { ok: false, code: 'replayed', reason: 'order is bound to another connection (session nonce mismatch): replayed' };
  }
  return { ok: true };
}

/**
 * Worker side: `expires_at` judged by the worker's own clock, not only by the
 * host-corrected one. Even if host_time were wrong, an assignment that expired
 * more than `toleranceMs` ago by this machine's clock, or that claims to live
 * longer than the assignment window plus tolerance, is refused.
 */
export function checkLocalExpiry(expiresAt: number, ownNow: number, windowMs: number, toleranceMs: number = MAX_HOST_CLOCK_OFFSET_MS): Check<'expired'> {
  if (expiresAt <= ownNow - toleranceMs) {
    return { ok: false, code: 'expired', reason: `assignment expired ${ownNow - expiresAt} ms ago by this worker's clock` };
  }
  if (expiresAt - ownNow > windowMs + toleranceMs) {
    return { ok: false, code: 'expired', reason: `assignment expires ${expiresAt - ownNow} ms ahead of this worker's clock; check the clocks` };
  }
  return { ok: true };
}

export interface FencingInput {
  /** The task's current attempt on the host (null if it has none running). */
  currentAttempt: number | null;
  msgAttempt: number;
  /** Worker the current attempt is leased to (null: not leased). */
  taskWorker: string | null;
  /** Worker the message came from (the authenticated connection's id). */
  msgWorker: string;
  /** Nonce of the assignment the host issued for the current attempt, when known. */
  expectedNonce?: string;
  msgNonce?: string;
}

export type FencingCode = 'stale_attempt' | 'not_yours';

/**
 * Host side, for TASK_ACCEPTED/REJECTED/PROGRESS/COMPLETED/FAILED: a result from
 * an attempt that was requeued (lease expired, cancelled, retried) or from a
 * worker that never held it must not change the task.
 */
export function checkResultFencing(f: FencingInput): Check<FencingCode> {
  if (f.taskWorker === null || f.taskWorker !== f.msgWorker) {
    return { ok: false, code: 'not_yours', reason: `task is not leased to worker ${f.msgWorker}` };
  }
  if (f.currentAttempt === null || f.msgAttempt !== f.currentAttempt) {
    const which = f.currentAttempt === null ? 'no attempt is running' : `current attempt is ${f.currentAttempt}`;
    return { ok: false, code: 'stale_attempt', reason: `attempt ${f.msgAttempt} is not current (${which})` };
  }
  if (f.expectedNonce !== undefined && f.msgNonce !== f.expectedNonce) {
    return { ok: false, code: 'stale_attempt', reason: 'message does not answer the current assignment (nonce mismatch)' };
  }
  return { ok: true };
}

/**
 * Host side: reported cost must not exceed the attempt's budget (core/budget
 * compares whole micro-dollars, which absorbs float noise; reaching the budget
 * exactly is allowed, since engines stop at spent >= budget).
 */
export function checkCostWithinBudget(cost: number, budget: number): Check<'over_budget'> {
  if (!Number.isFinite(cost) || cost < 0) return { ok: false, code: 'over_budget', reason: `reported cost ${cost} is not a valid amount` };
  if (exceedsBudget(cost, budget)) {
    return { ok: false, code: 'over_budget', reason: `reported cost $${cost} exceeds the budget of $${budget}` };
  }
  return { ok: true };
}

/**
 * Strictly increasing sequence numbers per sender and stream (progress per
 * attempt, heartbeats per connection): a repeated or older seq is a replay or
 * a reorder and is dropped.
 */
export function checkSequence(lastSeq: number | null, seq: number): Check<'out_of_order'> {
  if (lastSeq !== null && seq <= lastSeq) {
    return { ok: false, code: 'out_of_order', reason: `seq ${seq} is not after ${lastSeq}` };
  }
  return { ok: true };
}
