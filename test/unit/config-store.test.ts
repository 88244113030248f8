/** The store section's keys for several hosts on one PostgreSQL (issue 19): defaults, and a heartbeat too slow for its lease refused. */
import { describe, expect, it } from 'vitest';
import { defaultConfig, parseConfig } from '../../src/core/config.js';

describe('config store section', () => {
  it('defaults to a 10 s lease renewed every 3 s, SQLite (no url)', () => {
    expect(defaultConfig().store).toEqual({ url: null, lease_ms: 10_000, heartbeat_ms: 3_000 });
  });

  it('accepts a short lease for tests and refuses a heartbeat slower than half the lease', () => {
    expect(parseConfig({ store: { lease_ms: 2_000, heartbeat_ms: 500 } }).ok).toBe(true);
    const r = parseConfig({ store: { lease_ms: 2_000, heartbeat_ms: 1_500 } });
    expect(r.ok ? [] : r.problems).toEqual(['store: store.heartbeat_ms must be at most half of store.lease_ms']);
  });
});
