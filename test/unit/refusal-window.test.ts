import { describe, expect, it } from 'vitest';
import { FailureBudget, RefusalWindow } from '../../src/core/refusal-window.js';

describe('RefusalWindow', () => {
  it('writes the first refusal per key and window, and reports the repeats with the next record', () => {
    const w = new RefusalWindow(1000);
    expect(w.admit('ip|E_RATE_LIMITED|/api', 0)).toEqual({ write: true, suppressed: 0 });
    for (let i = 1; i <= 50; i++) expect(w.admit('ip|E_RATE_LIMITED|/api', i).write).toBe(false);
    expect(w.admit('other|E_RATE_LIMITED|/api', 10).write).toBe(true);
    expect(w.admit('ip|E_RATE_LIMITED|/api', 1000)).toEqual({ write: true, suppressed: 50 });
  });

  it('stays bounded in keys', () => {
    const w = new RefusalWindow(1000, 3);
    for (let i = 0; i < 10; i++) w.admit(`k${i}`, 0);
    expect(w.admit('k0', 1).write).toBe(true); // evicted, so written again
    expect(w.admit('k9', 1).write).toBe(false);
  });
});

describe('RefusalWindow global budget (issue 14)', () => {
  it("writes at most maxWritesPerWindow records per window across all keys, and reports the rest with the key's next record", () => {
    const w = new RefusalWindow(1000, 10_000, 5);
    const written = Array.from({ length: 100 }, (_, i) => w.admit(`10.0.0.${i}|E_NOT_FOUND`, 10)).filter((r) => r.write).length;
    expect(written).toBe(5);
    expect(w.admit('10.0.0.50|E_NOT_FOUND', 1010)).toEqual({ write: true, suppressed: 1 });
  });
});

describe('FailureBudget', () => {
  it('allows max failures per sliding window from all sources together, then says how long to wait', () => {
    const b = new FailureBudget(3, 60_000);
    for (let t = 0; t < 3; t++) {
      expect(b.retryAfterS(t * 1000)).toBe(0);
      b.record(t * 1000);
    }
    expect(b.retryAfterS(5000)).toBe(55);
    expect(b.retryAfterS(60_000)).toBe(0); // the first failure left the window
  });
});
