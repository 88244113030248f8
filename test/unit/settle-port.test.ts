/** Remote settle through its narrow port: a plain object stands in for the TaskService. */
import { describe, expect, it } from 'vitest';
import type { NextStep } from '../../src/core/attempt-policy.js';
import type { ErrorCode } from '../../src/core/errors.js';
import { grantLease } from '../../src/core/lease.js';
import { LeaseBook, type LeaseRec } from '../../src/remote/host/lease-book.js';
import { Settler, type SettlePort } from '../../src/remote/host/settle.js';
import type { AttemptEnd } from '../../src/store/store.js';

const T0 = 1_700_000_000_000;
const WHO = { actor: 'worker:w1', origin: '10.0.0.5' };

function rig(earlier: Array<{ attempt: number; state: string; error_code: ErrorCode | null }> = []) {
  const ended: Array<{ id: string; attempt: number; end: AttemptEnd; next: NextStep }> = [];
  const audits: string[] = [];
  const port: SettlePort = {
    attemptsOf: () =>
      earlier.map((a) => ({
        ...a,
        task_id: 't',
        engine: 'exec',
        model: null,
        worker_id: 'w1',
        route_rule: null,
        route_explanation: null,
        started_at: T0,
        finished_at: T0,
        cost_usd: 0,
        cost_source: null,
        tokens_in: 0,
        tokens_out: 0,
        tokens_cache_read: 0,
        tokens_cache_write: 0,
        summary: null,
      })),
    endAttempt: async (id, attempt, end, next) => {
      ended.push({ id, attempt, end, next });
      return 'recorded';
    },
    appendOutput: () => undefined,
    markRunning: () => undefined,
    audit: (_who, action) => void audits.push(action),
  };
  const leases = new LeaseBook();
  const cancels: string[] = [];
  const settler = new Settler({ service: port, leases, maxOutputBytes: 100, cancel: (_r, why) => void cancels.push(why), changed: () => undefined });
  const rec = (attempt = 1, maxAttempts = 2): LeaseRec => {
    const r: LeaseRec = {
      lease: grantLease({ task_id: 't', attempt, worker_id: 'w1' }, T0, 10_000, T0 + 5000),
      nonce: 'nonce-aaaaaaaaaaaaaaaa',
      budget: 1,
      title: 't',
      owner: 'session:u',
      graph: 'g1',
      maxAttempts,
      taskEngine: 'exec',
      assignedAt: T0,
      progressSeq: null,
      outputBytes: 0,
      truncated: false,
      engine: 'exec',
      model: null,
      cost: 0,
      tokens: { input: 0, output: 0, cache_read: 0, cache_write: 0 },
    };
    leases.add(r);
    return r;
  };
  return { settler, ended, audits, cancels, rec };
}

const msg = (type: 'TASK_COMPLETED' | 'TASK_FAILED') =>
  ({
    type,
    task_id: 't',
    attempt: 1,
    cost: 0.25,
    engine_used: 'exec',
    model_used: null,
    tokens: { input: 1, output: 2, cache_read: 0, cache_write: 0 },
    nonce: 'n',
    sig: 's',
    summary: 'ok',
    error: 'x',
  }) as never;

describe('Settler through its port', () => {
  it('records a worker lost while stopping as a lost attempt that counts, and settles an attempt once', () => {
    const r = rig();
    const rec = r.rec(1, 2);
    r.settler.finished(rec, msg('TASK_FAILED'), { ok: false, summary: 'stopped', error_code: 'E_LOST' }, WHO);
    r.settler.finished(rec, msg('TASK_COMPLETED'), { ok: true, summary: 'late', error_code: null }, WHO); // lease gone: ignored
    expect(r.ended).toHaveLength(1);
    expect(r.ended[0]).toMatchObject({ attempt: 1, end: { state: 'lost', error_code: 'E_LOST', cost_usd: 0.25 }, next: { kind: 'requeue' } });
  });

  it('requeues a busy refusal without counting it, and fails the task on a counted refusal at the last attempt', () => {
    const r = rig([{ attempt: 1, state: 'failed', error_code: 'E_ENGINE' }]);
    r.settler.rejected(r.rec(2, 2), 'busy: no free slot', 'w1', WHO, true);
    expect(r.ended[0]).toMatchObject({ end: { state: 'lost', error_code: 'E_WORKER_BUSY' }, next: { kind: 'requeue' } });
    r.settler.rejected(r.rec(2, 2), 'engine not enabled', 'w1', WHO);
    expect(r.ended[1]).toMatchObject({ end: { state: 'failed', error_code: 'E_REJECTED' }, next: { kind: 'finish', state: 'failed' } });
    expect(r.audits).toEqual(['remote.task_rejected', 'remote.task_rejected']);
  });

  it('fails an attempt over budget without retry and tells the worker to stop', () => {
    const r = rig();
    r.settler.overBudget(r.rec(1, 3), msg('TASK_FAILED'), 'reported cost $2 exceeds the budget of $1', WHO);
    expect(r.ended[0]).toMatchObject({ end: { state: 'failed', error_code: 'E_BUDGET' }, next: { kind: 'finish', state: 'failed' } });
    expect(r.cancels[0]).toMatch(/^over budget/);
  });
});
