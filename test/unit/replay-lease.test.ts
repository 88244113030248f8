import { describe, expect, it } from 'vitest';
import { activate, expired, grantLease, nextExpiry, renew, renewFromHeartbeat, type Lease } from '../../src/core/lease.js';
import { ASSIGNMENT_TTL_MS, DEFAULT_LEASE_MS } from '../../src/core/protocol.js';
import { checkAssignment, checkCostWithinBudget, checkResultFencing, checkSequence, DEFAULT_NONCE_CACHE, NonceCache } from '../../src/core/replay.js';

const T0 = 1_700_000_000_000;

describe('nonce cache', () => {
  it('reports a nonce as replayed within the window and forgets it after', () => {
    const c = new NonceCache({ windowMs: 1000, maxEntries: 10 });
    expect(c.seen('a', T0)).toBe(false);
    expect(c.seen('a', T0 + 999)).toBe(true);
    expect(c.seen('b', T0 + 500)).toBe(false);
    expect(c.seen('a', T0 + 1000)).toBe(false); // aged out, evicted, recorded afresh
    expect(c.size).toBe(2);
  });

  it('refuses new nonces when full instead of forgetting live ones', () => {
    const c = new NonceCache({ windowMs: 1000, maxEntries: 3 });
    for (const n of ['a', 'b', 'c']) expect(c.check(n, T0)).toBe('fresh');
    expect(c.check('d', T0 + 10)).toBe('full');
    expect(c.seen('d', T0 + 10)).toBe(true); // refused
    expect(c.check('a', T0 + 10)).toBe('replayed'); // 'a' was not evicted to make room
    expect(c.check('d', T0 + 1000)).toBe('fresh'); // room again once the window passed
  });

  it('stays safe when the clock steps backwards', () => {
    const c = new NonceCache({ windowMs: 1000, maxEntries: 10 });
    c.check('a', T0 + 5000);
    c.check('b', T0); // earlier than 'a'
    expect(c.seen('a', T0 + 1500)).toBe(true);
  });

  it('rejects nonsense options', () => {
    expect(() => new NonceCache({ windowMs: 0 })).toThrow(RangeError);
    expect(() => new NonceCache({ maxEntries: 0 })).toThrow(RangeError);
  });
});

describe('checkAssignment (worker side)', () => {
  const msg = (nonce: string, expires_at = T0 + ASSIGNMENT_TTL_MS) => ({ nonce, expires_at });

  it('accepts a fresh, unexpired assignment once and refuses its replay', () => {
    const c = new NonceCache();
    expect(checkAssignment(msg('n1'), T0, c)).toEqual({ ok: true });
    const again = checkAssignment(msg('n1'), T0 + 1, c);
    expect(again).toMatchObject({ ok: false, code: 'replayed' });
  });

  it('refuses an expired assignment without recording its nonce', () => {
    const c = new NonceCache();
    expect(checkAssignment(msg('n2', T0), T0, c)).toMatchObject({ ok: false, code: 'expired' });
    expect(checkAssignment(msg('n2', T0 - 1), T0, c)).toMatchObject({ ok: false, code: 'expired', reason: expect.stringContaining('1 ms ago') });
    expect(c.size).toBe(0);
  });

  it('refuses an expiry further ahead than the nonce can be remembered', () => {
    const c = new NonceCache();
    const limit = DEFAULT_NONCE_CACHE.windowMs - 30_000;
    expect(checkAssignment(msg('ok', T0 + limit), T0, c).ok).toBe(true);
    expect(checkAssignment(msg('far', T0 + limit + 1), T0, c)).toMatchObject({ ok: false, code: 'expired' });
  });

  it('keeps a replayed assignment refused for its whole lifetime', () => {
    const c = new NonceCache();
    const m = msg('n3', T0 + ASSIGNMENT_TTL_MS);
    expect(checkAssignment(m, T0, c).ok).toBe(true);
    for (let t = T0; t < m.expires_at; t += 5_000) expect(checkAssignment(m, t, c).ok).toBe(false);
    expect(checkAssignment(m, m.expires_at, c)).toMatchObject({ code: 'expired' });
  });

  it('works for cancellations, which carry a nonce but no expiry', () => {
    const c = new NonceCache();
    expect(checkAssignment({ nonce: 'cancel-1' }, T0, c).ok).toBe(true);
    expect(checkAssignment({ nonce: 'cancel-1' }, T0 + 1, c)).toMatchObject({ code: 'replayed' });
  });

  it('refuses (does not silently accept) when the replay cache is full', () => {
    const c = new NonceCache({ windowMs: 200_000, maxEntries: 1 });
    expect(checkAssignment(msg('a'), T0, c).ok).toBe(true);
    expect(checkAssignment(msg('b'), T0, c)).toMatchObject({ ok: false, reason: expect.stringContaining('full') });
  });
});

describe('checkResultFencing (host side)', () => {
  const base = { currentAttempt: 2, msgAttempt: 2, taskWorker: 'w1', msgWorker: 'w1' };

  it('accepts a result for the current attempt from the worker holding it', () => {
    expect(checkResultFencing(base)).toEqual({ ok: true });
    expect(checkResultFencing({ ...base, expectedNonce: 'n', msgNonce: 'n' })).toEqual({ ok: true });
  });

  it('rejects a stale attempt (the task was requeued) and a future one', () => {
    expect(checkResultFencing({ ...base, msgAttempt: 1 })).toMatchObject({ ok: false, code: 'stale_attempt' });
    expect(checkResultFencing({ ...base, msgAttempt: 3 })).toMatchObject({ ok: false, code: 'stale_attempt' });
    expect(checkResultFencing({ ...base, currentAttempt: null })).toMatchObject({ ok: false, code: 'stale_attempt' });
  });

  it("rejects another worker's task and a task leased to nobody", () => {
    expect(checkResultFencing({ ...base, msgWorker: 'w2' })).toMatchObject({ ok: false, code: 'not_yours' });
    expect(checkResultFencing({ ...base, taskWorker: null })).toMatchObject({ ok: false, code: 'not_yours' });
  });

  it('rejects a result that does not echo the current assignment nonce', () => {
    expect(checkResultFencing({ ...base, expectedNonce: 'n', msgNonce: 'old' })).toMatchObject({ ok: false, code: 'stale_attempt' });
    expect(checkResultFencing({ ...base, expectedNonce: 'n' })).toMatchObject({ ok: false });
  });

  it('checks reported cost against the budget', () => {
    expect(checkCostWithinBudget(0.5, 0.5).ok).toBe(true);
    expect(checkCostWithinBudget(0.1 + 0.2, 0.3).ok).toBe(true); // float noise
    expect(checkCostWithinBudget(0.51, 0.5)).toMatchObject({ ok: false, code: 'over_budget' });
    expect(checkCostWithinBudget(Number.NaN, 1).ok).toBe(false);
    expect(checkCostWithinBudget(-1, 1).ok).toBe(false);
  });

  it('drops repeated or reordered sequence numbers', () => {
    expect(checkSequence(null, 0).ok).toBe(true);
    expect(checkSequence(3, 4).ok).toBe(true);
    expect(checkSequence(3, 3)).toMatchObject({ ok: false, code: 'out_of_order' });
    expect(checkSequence(3, 1).ok).toBe(false);
  });
});

describe('leases', () => {
  const target = { task_id: 't1', attempt: 1, worker_id: 'w1' };

  it('offers a lease until the schedule-to-start deadline, then runs it on heartbeat timeout', () => {
    const offered = grantLease(target, T0, DEFAULT_LEASE_MS, T0 + ASSIGNMENT_TTL_MS);
    expect(offered).toMatchObject({ phase: 'offered', expires_at: T0 + ASSIGNMENT_TTL_MS, lease_ms: DEFAULT_LEASE_MS });
    const a = activate(offered, T0 + 1000);
    expect(a).toMatchObject({ ok: true, lease: { phase: 'running', expires_at: T0 + 1000 + DEFAULT_LEASE_MS } });
    expect(grantLease(target, T0, 5000).expires_at).toBe(T0 + 5000);
    expect(() => grantLease(target, T0, 0)).toThrow(RangeError);
  });

  it('does not accept an offer after its deadline', () => {
    const offered = grantLease(target, T0, 5000, T0 + 100);
    expect(activate(offered, T0 + 100).ok).toBe(false);
  });

  it('extends a running lease on renew, never shortens it, and refuses once expired', () => {
    const r = activate(grantLease(target, T0, 1000), T0);
    if (!r.ok) throw new Error('activate failed');
    const renewed = renew(r.lease, T0 + 500);
    expect(renewed).toMatchObject({ ok: true, lease: { expires_at: T0 + 1500 } });
    if (!renewed.ok) return;
    expect(renew(renewed.lease, T0 + 100)).toMatchObject({ ok: true, lease: { expires_at: T0 + 1500 } });
    expect(renew(renewed.lease, T0 + 1500)).toMatchObject({ ok: false, reason: expect.stringContaining('expired') });
    expect(renew(grantLease(target, T0, 1000), T0).ok).toBe(false); // offered: not running yet
  });

  it('lists lapsed leases with the reason and the attempt to requeue as', () => {
    const offered = grantLease({ ...target, task_id: 'slow-start' }, T0, 1000, T0 + 50);
    const run = activate(grantLease({ ...target, task_id: 'silent', attempt: 3 }, T0, 100), T0);
    if (!run.ok) throw new Error('activate failed');
    const alive = activate(grantLease({ ...target, task_id: 'alive' }, T0, 10_000), T0);
    if (!alive.ok) throw new Error('activate failed');
    const leases = [offered, run.lease, alive.lease];
    expect(expired(leases, T0 + 49)).toEqual([]);
    expect(nextExpiry(leases)).toBe(T0 + 50);
    const gone = expired(leases, T0 + 100);
    expect(gone.map((g) => [g.lease.task_id, g.reason, g.next_attempt])).toEqual([
      ['slow-start', 'schedule_to_start', 2],
      ['silent', 'heartbeat_timeout', 4],
    ]);
    expect(nextExpiry([])).toBeNull();
  });

  it('reconciles a heartbeat: renews reported tasks, flags unknown and missing ones', () => {
    const mk = (task_id: string, worker_id = 'w1', leaseMs = 1000): Lease => {
      const r = activate(grantLease({ task_id, attempt: 1, worker_id }, T0, leaseMs), T0);
      if (!r.ok) throw new Error('activate failed');
      return r.lease;
    };
    const leases = [mk('a'), mk('b'), mk('c', 'w2'), mk('d', 'w1', 10)];
    const hb = renewFromHeartbeat(
      leases,
      'w1',
      [
        { task_id: 'a', attempt: 1 },
        { task_id: 'a', attempt: 0 }, // old attempt of a: the worker should stop it
        { task_id: 'c', attempt: 1 }, // w2's task
        { task_id: 'd', attempt: 1 }, // its lease expired at T0+10
      ],
      T0 + 500,
    );
    expect(hb.leases.find((l) => l.task_id === 'a')?.expires_at).toBe(T0 + 1500);
    expect(hb.leases.find((l) => l.task_id === 'b')?.expires_at).toBe(T0 + 1000);
    expect(hb.leases.find((l) => l.task_id === 'c')?.expires_at).toBe(T0 + 1000);
    expect(hb.unknown).toEqual([
      { task_id: 'a', attempt: 0 },
      { task_id: 'c', attempt: 1 },
      { task_id: 'd', attempt: 1 },
    ]);
    expect(hb.missing.map((l) => l.task_id)).toEqual(['b']);
    expect(leases[0]?.expires_at).toBe(T0 + 1000); // input not mutated
  });
});
