import { describe, expect, it } from 'vitest';
import { beginOutcome, capOutput, decideAttempt, foldEvent, MAX_UNCHARGED, unchargedAttempts, type AttemptFacts } from '../../src/core/attempt-policy.js';

const facts = (over: Partial<AttemptFacts> = {}): AttemptFacts => ({
  task: { engine: 'exec', max_attempts: 2 },
  attempt: 1,
  uncharged_before: 0,
  outcome: { ok: false, summary: 'exit 1', error_code: 'E_ENGINE', engine: 'exec' },
  interruption: null,
  ...over,
});

describe('decideAttempt', () => {
  it('retries a failure while attempts remain, then fails with the last reason', () => {
    expect(decideAttempt(facts()).next).toMatchObject({ kind: 'requeue', reason: expect.stringContaining('retry after attempt 1/2: E_ENGINE: exit 1') });
    expect(decideAttempt(facts({ attempt: 2 }))).toEqual({
      state: 'failed',
      error_code: 'E_ENGINE',
      next: { kind: 'finish', state: 'failed', reason: 'E_ENGINE: exit 1' },
    });
  });

  it('ends a timed-out attempt as timed_out once no attempt is left', () => {
    const d = decideAttempt(facts({ attempt: 2, outcome: { ok: false, summary: 'slow', error_code: 'E_TIMEOUT', engine: 'exec' } }));
    expect(d).toMatchObject({ state: 'timed_out', next: { kind: 'finish', state: 'timed_out' } });
  });

  it('never retries a budget stop or an E_BUDGET failure', () => {
    expect(decideAttempt(facts({ interruption: { kind: 'budget', reason: 'budget: spent' } })).next).toEqual({
      kind: 'finish',
      state: 'failed',
      reason: 'budget: spent',
    });
    expect(decideAttempt(facts({ outcome: { ok: false, summary: 'over', error_code: 'E_BUDGET', engine: 'x' } })).next.kind).toBe('finish');
  });

  it("requeues an attempt stopped for its graph's or user's budget (the pause holds it), even on its last attempt; a finished one keeps its success", () => {
    const paused = { kind: 'paused' as const, reason: 'graph g reached its budget' };
    expect(decideAttempt(facts({ attempt: 2, interruption: paused }))).toEqual({
      state: 'failed',
      error_code: 'E_BUDGET',
      next: { kind: 'requeue', reason: 'E_BUDGET: graph g reached its budget' },
    });
    const done = decideAttempt(facts({ interruption: paused, outcome: { ok: true, summary: 'done', error_code: null, engine: 'claude' } }));
    expect(done).toMatchObject({ state: 'succeeded', next: { kind: 'finish', state: 'succeeded' } });
  });

  it("cancels on an admin cancel even when the engine reported success, and on a worker's E_CANCELLED", () => {
    expect(
      decideAttempt(
        facts({ outcome: { ok: true, summary: 'done', error_code: null, engine: 'exec' }, interruption: { kind: 'cancelled', reason: 'by admin' } }),
      ),
    ).toEqual({ state: 'cancelled', error_code: 'E_CANCELLED', next: { kind: 'finish', state: 'cancelled', reason: 'by admin' } });
    expect(decideAttempt(facts({ outcome: { ok: false, summary: 'stop', error_code: 'E_CANCELLED', engine: 'exec' } })).state).toBe('cancelled');
  });

  it('counts an attempt lost to a host crash or a lost worker against max_attempts', () => {
    const lost = { kind: 'lost', reason: 'host died', charged: true } as const;
    expect(decideAttempt(facts({ interruption: lost }))).toMatchObject({ state: 'lost', error_code: 'E_LOST', next: { kind: 'requeue' } });
    expect(decideAttempt(facts({ attempt: 2, interruption: lost }))).toMatchObject({
      state: 'lost',
      next: { kind: 'finish', state: 'failed', reason: 'host died' },
    });
  });

  it('does not count an offer refused as busy, up to MAX_UNCHARGED of them', () => {
    const busy = { kind: 'lost', reason: 'busy', charged: false } as const;
    expect(decideAttempt(facts({ attempt: 2, uncharged_before: 1, interruption: busy }))).toMatchObject({
      error_code: 'E_WORKER_BUSY',
      next: { kind: 'requeue' },
    });
    expect(decideAttempt(facts({ attempt: 5, uncharged_before: MAX_UNCHARGED, interruption: busy }))).toMatchObject({
      error_code: 'E_LOST',
      next: { kind: 'finish' },
    });
    expect(
      unchargedAttempts([
        { state: 'lost', error_code: 'E_WORKER_BUSY' },
        { state: 'lost', error_code: 'E_LOST' },
        { state: 'failed', error_code: 'E_ENGINE' },
      ]),
    ).toBe(1);
  });

  it('does not count an attempt stopped by a budget pause against max_attempts', () => {
    const failed = { ok: false, summary: 'x', error_code: 'E_ENGINE', engine: 'exec' } as const;
    const after = (earlier: { state: string; error_code: string }[]) =>
      decideAttempt(facts({ attempt: 2, uncharged_before: unchargedAttempts(earlier), outcome: failed }));
    // max_attempts 2: a failure after a paused attempt is only the first counted one, so it is retried…
    expect(after([{ state: 'failed', error_code: 'E_BUDGET' }]).next.kind).toBe('requeue');
    // …while after a real failure it is the second, and the task ends.
    expect(after([{ state: 'failed', error_code: 'E_ENGINE' }]).next.kind).toBe('finish');
  });

  it('gives an auto-routed task one fallback attempt even with max_attempts 1, but not when it ran exec', () => {
    const auto = { engine: 'auto', max_attempts: 1 };
    expect(decideAttempt(facts({ task: auto, outcome: { ok: false, summary: 'x', error_code: 'E_ENGINE', engine: 'groq' } })).next.kind).toBe('requeue');
    expect(decideAttempt(facts({ task: auto, outcome: { ok: false, summary: 'x', error_code: 'E_ENGINE', engine: 'exec' } })).next.kind).toBe('finish');
  });

  it('holds a success whose change waits for approval, and maps an unknown worker code to E_ENGINE', () => {
    expect(decideAttempt(facts({ outcome: { ok: true, summary: 'ok', error_code: null, engine: 'exec' }, hold: true })).next).toEqual({
      kind: 'hold_after_run',
      reason: 'change pending approval',
    });
    expect(decideAttempt(facts({ attempt: 2, outcome: { ok: false, summary: 'x', error_code: 'E_MADE_UP', engine: 'exec' } })).error_code).toBe('E_ENGINE');
  });
});

describe('foldEvent and capOutput', () => {
  it('folds info, usage, cost and done, and asks for a budget stop at spent >= budget (a zero budget spends nothing)', () => {
    let o = beginOutcome('groq', null);
    o = foldEvent(o, { type: 'info', engine: 'groq', model: 'm' }, 1).outcome;
    o = foldEvent(o, { type: 'usage', usage: { input: 3, output: 4, cache_read: 0, cache_write: 0 } }, 1).outcome;
    expect(foldEvent(o, { type: 'cost', usd: 0.5, source: 'reported' }, 1).budgetStop).toBeNull();
    expect(foldEvent(o, { type: 'cost', usd: 1, source: 'reported' }, 1).budgetStop).toMatch(/^budget/);
    expect(foldEvent(o, { type: 'cost', usd: 0, source: 'reported' }, 0).budgetStop).toBeNull();
    expect(foldEvent(o, { type: 'cost', usd: 0.000001, source: 'reported' }, 0).budgetStop).toMatch(/^budget/);
    o = foldEvent(o, { type: 'done', ok: false, summary: 'no', error_code: 'E_ENGINE_AUTH' }, 1).outcome;
    expect(o).toMatchObject({ ok: false, engine: 'groq', model: 'm', error_code: 'E_ENGINE_AUTH', usage: { input: 3, output: 4 } });
  });

  it('keeps the first max characters of output and says once that the rest was cut', () => {
    const cap = { used: 0, truncated: false };
    expect(capOutput(cap, 'abcdef', 4)).toEqual({ keep: 'abcd', notice: false });
    expect(capOutput(cap, 'gh', 4)).toEqual({ keep: '', notice: true });
    expect(capOutput(cap, 'ij', 4)).toEqual({ keep: '', notice: false });
  });
});
