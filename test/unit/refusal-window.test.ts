import { describe, expect, it } from 'vitest';
import { RefusalWindow } from '../../src/core/refusal-window.js';

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
