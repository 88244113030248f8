import { describe, expect, it } from 'vitest';
import { fenceCheckEveryMs, leaseHealth, SELF_FENCE_FRACTION } from '../../src/core/self-fence.js';

const base = { lastSentAt: 1_000, leaseMs: 10_000, heartbeatMs: 3_000 };

describe('self-fence decision', () => {
  it('holds the lease while the last acknowledged renewal is recent', () => {
    expect(leaseHealth({ ...base, now: 1_000 })).toEqual({ state: 'held', ageMs: 0, leftMs: 8_000 });
    expect(leaseHealth({ ...base, now: 7_000 })).toEqual({ state: 'held', ageMs: 6_000, leftMs: 2_000 });
  });

  it('is late after two missed heartbeats, before the fence', () => {
    expect(leaseHealth({ ...base, now: 7_001 }).state).toBe('late');
    expect(leaseHealth({ ...base, now: 8_999 }).state).toBe('late');
  });

  it('fences at the fraction of the lease counted from the send, never later', () => {
    expect(leaseHealth({ ...base, now: 9_000 })).toEqual({ state: 'fence', ageMs: 8_000, leftMs: 0 });
    expect(leaseHealth({ ...base, now: 60_000 }).state).toBe('fence');
    expect(leaseHealth({ ...base, now: 5_000, fraction: 0.3 }).state).toBe('fence');
    expect(SELF_FENCE_FRACTION).toBeLessThan(1);
  });

  it('treats a send time ahead of now (another thread just renewed) as fresh', () => {
    expect(leaseHealth({ ...base, now: 900 })).toEqual({ state: 'held', ageMs: 0, leftMs: 8_000 });
  });

  it('refuses a fraction that would fence at or after the lease', () => {
    expect(() => leaseHealth({ ...base, now: 1, fraction: 1 })).toThrow(RangeError);
    expect(() => leaseHealth({ ...base, now: 1, fraction: 0 })).toThrow(RangeError);
  });

  it('checks often enough that a late check still fences well before the lease ends', () => {
    for (const leaseMs of [200, 1_000, 3_000, 10_000, 60_000]) {
      const every = fenceCheckEveryMs(leaseMs);
      const rest = (1 - SELF_FENCE_FRACTION) * leaseMs;
      expect(every).toBeGreaterThanOrEqual(10);
      expect(every * 2).toBeLessThanOrEqual(Math.max(rest, 20)); // two periods late is still inside the lease
    }
  });
});
