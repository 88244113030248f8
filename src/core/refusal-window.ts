/**
 * Coalesces audit records of repeated refusals: the first refusal for a key
 * (who, from where, what code, which path) in a window is written; repeats in
 * that window are only counted and reported with the next written record.
 * Without it a flood of refused requests would grow the hash-chained audit log
 * without bound. Bounded in keys; pure (the caller passes `now`).
 */
export class RefusalWindow {
  private readonly seen = new Map<string, { until: number; suppressed: number }>();

  constructor(
    private readonly windowMs = 1000,
    private readonly maxKeys = 10_000,
  ) {}

  /** Whether to write a record now, and how many refusals for this key were suppressed since the last one. */
  admit(key: string, now: number): { write: boolean; suppressed: number } {
    const cur = this.seen.get(key);
    if (cur && now < cur.until) {
      cur.suppressed++;
      return { write: false, suppressed: 0 };
    }
    const suppressed = cur?.suppressed ?? 0;
    this.seen.delete(key); // re-insert so the Map's order is least-recently written first
    this.seen.set(key, { until: now + this.windowMs, suppressed: 0 });
    if (this.seen.size > this.maxKeys) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    return { write: true, suppressed };
  }
}
