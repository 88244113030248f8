/**
 * Self-fencing by time (several hosts on one PostgreSQL, issue 19). A host's
 * lease expires on the database's clock `lease_ms` after the database ran its
 * last renewal; the renewal ran after this host SENT it, so counting from the
 * send time on this host's monotonic clock is never later than the database's
 * own count (clock rates differ by ppm, not by the margin). Once the last
 * acknowledged renewal was sent longer ago than `fraction × lease`, this host
 * can no longer prove its lease and must stop acting before another host may
 * claim it (at 1.0 × lease at the earliest).
 *
 * Pure: the caller passes `now` and the send time, both on the same monotonic clock.
 */

/** The default share of the lease after which a host that could not renew fences itself. */
export const SELF_FENCE_FRACTION = 0.8;

export type LeaseHealth = 'held' | 'late' | 'fence';

export interface LeaseCheck {
  state: LeaseHealth;
  /** Milliseconds since the last acknowledged renewal was sent. */
  ageMs: number;
  /** Milliseconds left before this host must fence itself (0 once it must). */
  leftMs: number;
}

export interface LeaseClock {
  now: number;
  /** When the last renewal the database acknowledged was sent (same clock as `now`). */
  lastSentAt: number;
  leaseMs: number;
  /** Renewals are sent this often: missing two of them in a row is `late` (worth a log line, not yet a fence). */
  heartbeatMs: number;
  fraction?: number;
}

export function leaseHealth(c: LeaseClock): LeaseCheck {
  const fraction = c.fraction ?? SELF_FENCE_FRACTION;
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`self-fence fraction must be in (0, 1), got ${fraction}`);
  const ageMs = Math.max(0, c.now - c.lastSentAt);
  const limit = fraction * c.leaseMs;
  if (ageMs >= limit) return { state: 'fence', ageMs, leftMs: 0 };
  return { state: ageMs > 2 * c.heartbeatMs ? 'late' : 'held', ageMs, leftMs: limit - ageMs };
}

/**
 * How often to check. The host fences at the first check at or past
 * `fraction × lease`, so the check period plus the time to kill its attempts
 * must fit in the rest of the lease: a quarter of that rest, at most 100 ms,
 * leaves three quarters (≥ 450 ms at lease 3 s, 1.5 s at 10 s) for a late
 * timer and the SIGKILL sweep.
 */
export function fenceCheckEveryMs(leaseMs: number, fraction = SELF_FENCE_FRACTION): number {
  return Math.max(10, Math.min(100, Math.floor(((1 - fraction) * leaseMs) / 4)));
}
