/**
 * A LAN user sees their own budget (GET /api/my-budget): spend against the
 * per-user budget with the warning and the stop, as the budget watch decides
 * them. The budget is the calling session's only — there is no parameter to
 * name another user, and another visitor's spend never shows; no session: 401.
 * Spend is recorded through the TaskService's attempt port, the path a remote
 * worker's results take.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SYSTEM } from '../../src/store/store.js';
import { testConfig } from '../helpers/admin-host.js';
import { adminCall, code, inject, startUserHost, visitor, type Lan, type UserHost } from '../helpers/user-host.js';

let h: UserHost;
afterEach(async () => {
  await h?.close();
  h?.home.cleanup();
});

const lanBudget = (perUser: number | null) =>
  testConfig({ lan: { rate_limit_read_per_min: 100_000, rate_limit_submit_per_min: 100_000 }, budget: { per_user_usd: perUser } });

/** Submits a task as `a` and records one finished attempt costing `usd` on it. */
async function spend(a: Lan, usd: number): Promise<void> {
  const r = await a.call('POST', '/api/submit-task', { prompt: 'echo hi', engine: 'exec' });
  expect(r.statusCode, r.body).toBe(201);
  const id = (r.json() as { id: string }).id;
  const svc = h.host.service;
  expect(svc.claim(`user:session:${a.userId}`, 1, (t) => t === id)).toEqual([id]);
  const attempt = await svc.beginAttempt(id, { engine: 'exec', model: null, worker_id: 'w-test', route_rule: 'forced', route_explanation: 'test' });
  const usage = { input: 0, output: 0, cache_read: 0, cache_write: 0 };
  const end = { state: 'succeeded' as const, engine: 'exec', model: null, cost_usd: usd, cost_source: 'reported', usage, error_code: null, summary: 'ok' };
  await svc.endAttempt(id, attempt, end, { kind: 'finish', state: 'succeeded', reason: 'ok' }, SYSTEM, { now: true });
}

const myBudget = async (a: Lan): Promise<Record<string, unknown>> => {
  const r = await a.call('GET', '/api/my-budget');
  expect(r.statusCode, r.body).toBe(200);
  return (r.json() as { budget: Record<string, unknown> }).budget;
};

describe('GET /api/my-budget', () => {
  it('shows my spend against my budget, the warning, then the stop with my tasks paused', async () => {
    h = await startUserHost({ config: lanBudget(0.1) });
    const a = await visitor(h, '10.0.0.2');
    expect(await myBudget(a)).toEqual({ spent_usd: 0, budget_usd: 0.1, level: 'ok', paused: false, warn_share: 0.8 });
    await spend(a, 0.05);
    expect(await myBudget(a)).toMatchObject({ spent_usd: 0.05, level: 'ok', paused: false });
    await spend(a, 0.035);
    expect(await myBudget(a)).toMatchObject({ level: 'warn', paused: false });
    await spend(a, 0.02);
    const stopped = await myBudget(a);
    expect(stopped).toMatchObject({ budget_usd: 0.1, level: 'stop', paused: true });
    expect(stopped['spent_usd']).toBeCloseTo(0.105, 9);
    // The admin raises it: the level drops, the pause stays until the admin resumes.
    expect((await adminCall(h, 'POST', '/admin/budgets', { scope: 'user', key: `session:${a.userId}`, budget_usd: 1 })).statusCode).toBe(200);
    expect(await myBudget(a)).toMatchObject({ budget_usd: 1, level: 'ok', paused: true });
  });

  it('says "none" when no budget applies to LAN users', async () => {
    h = await startUserHost({ config: lanBudget(null) });
    const a = await visitor(h, '10.0.0.2');
    await spend(a, 0.25);
    expect(await myBudget(a)).toEqual({ spent_usd: 0.25, budget_usd: null, level: 'none', paused: false, warn_share: 0.8 });
  });

  it('another visitor sees only their own budget, whatever they add to the request; no session is a 401', async () => {
    h = await startUserHost({ config: lanBudget(0.1) });
    const a = await visitor(h, '10.0.0.2');
    const b = await visitor(h, '10.0.0.3');
    await spend(a, 0.2); // a is stopped and paused
    expect(await myBudget(a)).toMatchObject({ level: 'stop', paused: true });
    // b asks for a's budget every way it can: the answer is always b's own, untouched spend.
    const own = { spent_usd: 0, budget_usd: 0.1, level: 'ok', paused: false, warn_share: 0.8 };
    for (const url of ['/api/my-budget', `/api/my-budget?user=session:${a.userId}`, `/api/my-budget?key=session:${a.userId}&scope=user`]) {
      const r = await b.call('GET', url);
      expect(r.statusCode, url).toBe(200);
      expect((r.json() as { budget: unknown }).budget, url).toEqual(own);
    }
    expect((await b.call('GET', `/api/my-budget/${a.userId}`)).statusCode).toBe(404); // no route names a user
    // Another user's cookie value is not guessable; without any session the call is refused.
    const anon = await inject(h, '10.0.0.4', 'GET', '/api/my-budget');
    expect([anon.statusCode, code(anon)]).toEqual([401, 'E_UNAUTHORIZED']);
    // A session the admin revoked reads no budget at all.
    expect((await adminCall(h, 'POST', `/admin/sessions/${b.userId}/revoke`)).statusCode).toBe(200);
    expect(code(await b.call('GET', '/api/my-budget'))).toBe('E_FORBIDDEN');
  });
});
