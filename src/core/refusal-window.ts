/**
 * Coalesces audit records of repeated refusals: the first refusal for a key
 * (who, from where, what code, which path) in a window is written; repeats in
 * that window are only counted and reported with the next written record.
 * Without it a flood of refused requests would grow the hash-chained audit log
 * without bound. Bounded in keys; pure (the caller passes `now`).
 */
export class RefusalWindow {
  private readonly seen = new Map<string, { until: number; suppressed: number }>();
  private globalUntil = 0;
  private globalWrites = 0;

  /**
   * `maxWritesPerWindow` bounds the records written per window across all
   * keys (an attacker with many addresses gets many keys): past it, refusals
   * are only counted, on their key, until the next window.
   */
  constructor(
    private readonly windowMs = 1000,
    private readonly maxKeys = 10_000,
    private readonly maxWritesPerWindow = Infinity,
  ) {}

  /** Whether to write a record now, and how many refusals for this key were suppressed since the last one. */
  admit(key: string, now: number): { write: boolean; suppressed: number } {
    const cur = this.seen.get(key);
    if (cur && now < cur.until) {
      cur.suppressed++;
      return { write: false, suppressed: 0 };
    }
    if (now >= this.globalUntil) {
      this.globalUntil = now + this.windowMs;
      this.globalWrites = 0;
    }
    if (this.globalWrites >= this.maxWritesPerWindow) {
      // Over the global budget: count it on its key (written with the key's next record), write nothing.
      this.seen.delete(key);
      this.seen.set(key, { until: now, suppressed: (cur?.suppressed ?? 0) + 1 });
      this.evict();
      return { write: false, suppressed: 0 };
    }
    this.globalWrites++;
    const suppressed = cur?.suppressed ?? 0;
    this.seen.delete(key); // re-insert so the Map's order is least-recently written first
    this.seen.set(key, { until: now + this.windowMs, suppressed: 0 });
    this.evict();
    return { write: true, suppressed };
  }

  private evict(): void {
    if (this.seen.size > this.maxKeys) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
  }
}

/**
 * A sliding-window failure budget shared by every source (e.g. wrong LAN
 * access codes from all addresses together): per-address limits alone let an
 * attacker with many addresses guess at many times the rate. Pure.
 */
export class FailureBudget {
  private readonly times: number[] = [];

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  /** Seconds until a failure slot frees, or 0 when attempts are allowed now. */
  retryAfterS(now: number): number {
    this.trim(now);
    if (this.times.length < this.max) return 0;
    return Math.max(1, Math.ceil(((this.times[0] ?? now) + this.windowMs - now) / 1000));
  }

  record(now: number): void {
    this.trim(now);
    this.times.push(now);
    if (this.times.length > this.max) this.times.shift();
  }

  private trim(now: number): void {
    while (this.times.length > 0 && (this.times[0] ?? 0) <= now - this.windowMs) this.times.shift();
  }
}
