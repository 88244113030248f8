/**
 * A graph's or user's budget reached while some of its tasks are claimed but
 * not started yet (issue 18, in flight): they go back to the queue, held by the
 * scope's pause, and no process is started for them.
 *  - Local pool: a sibling's cost (the fake Claude CLI's growing scenario) pauses
 *    the graph while the other task is still in the safety gate (held there by
 *    the test until the pause, which makes the window deterministic); the pool
 *    requeues it before its attempt begins.
 *  - Remote: a worker's final report (no progress before it) carries a cost past
 *    the user's budget while the store refuses to record that result. The cost
 *    counts in flight before it is recorded: the user's other running attempt is
 *    stopped and the offer the worker had not accepted yet is withdrawn, both at
 *    once; the result itself stands once the store takes it, counted once.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MessageOf } from '../../src/core/protocol.js';
import { parseGraph } from '../../src/core/graph-schema.js';
import { openHost, type Host } from '../../src/runner/host.js';
import type { GateVerdict } from '../../src/runner/pool.js';
import type { StoredTask } from '../../src/store/rows.js';
import { makeHome, testConfig, type TestHome } from '../helpers/admin-host.js';
import { completedFor } from '../helpers/fake-host.js';
import { waitFor } from '../helpers/proc.js';
import { enrolKey, FAST, newSession, RawWorker, startRemoteHost, stateOf, submitTask, type RemoteTestHost } from '../helpers/remote-host.js';

const FAKE_CLAUDE = resolve('test/fixtures/fake-claude.mjs');
let home: TestHome | null = null;
let host: Host | null = null;
let remote: RemoteTestHost | null = null;
let raw: RawWorker | null = null;

afterEach(async () => {
  await host?.close();
  host = null;
  home?.cleanup();
  home = null;
  raw?.close();
  raw = null;
  await remote?.close();
  remote = null;
});

describe('a scope paused while its tasks are claimed', () => {
  it('the local pool puts a claimed task back, held by the pause, without starting it', { timeout: 60_000 }, async () => {
    const hm = (home = makeHome('colony-pause-claimed-'));
    let graphId = '';
    let held = false;
    const h: Host = (host = openHost({
      paths: hm.paths,
      config: testConfig({ runner: { worktrees: 'off' }, safety: { allowed_roots: [hm.dir], env_allow: ['FAKE_CLAUDE_SCENARIO'] } }),
      concurrency: 2,
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/root', CLAUDE_BIN: FAKE_CLAUDE, FAKE_CLAUDE_SCENARIO: 'budget-growing' },
      // The host's own gate, except that the exec task's first pass is held in it until its graph is paused.
      gate: async (t: StoredTask): Promise<GateVerdict> => {
        if (t.id.endsWith(':waiter') && !held) {
          held = true;
          await waitFor(() => h.service.isPaused('graph', graphId), 'the graph to be paused', 30_000);
        }
        return h.routing.gate(t);
      },
    }));
    const res = h.service.submitGraph(
      parseGraph({
        name: 'siblings',
        tasks: [
          { id: 'spender', engine: 'claude', prompt: 'Write a long essay', budget_usd: 100 },
          { id: 'waiter', engine: 'exec', prompt: 'echo ran > waiter.txt', budget_usd: 0 },
        ],
      }),
      { submittedBy: 'admin', who: { actor: 'admin', origin: 'local' }, workspace: hm.workspace, defaultTarget: 'host', holdHostTasks: false },
    );
    graphId = res.graph_id;
    const [spender, waiter] = res.task_ids as [string, string];
    h.budgets.setBudget('graph', graphId, 1.5, { actor: 'admin', origin: 'local' });
    h.pool.start();
    await waitFor(() => h.store.getTask(waiter)?.state === 'assigned' || h.service.isPaused('graph', graphId), 'both tasks claimed', 10_000);
    // The spender's cost reaches the graph's budget: it is stopped, and the waiter, claimed but never started, waits.
    await waitFor(() => h.store.getTask(spender)?.state === 'ready' && h.store.getTask(waiter)?.state === 'ready', 'both tasks back in the queue', 30_000);
    expect(h.store.attemptsOf(spender)[0]).toMatchObject({ state: 'failed', error_code: 'E_BUDGET' });
    expect(h.store.attemptsOf(waiter)).toEqual([]); // no attempt began
    expect(h.store.getTask(waiter)?.state_reason).toMatch(/graph .* was paused at its budget before this task started/);
    // Held by the pause, and its command never ran.
    await new Promise((ok) => setTimeout(ok, 1200));
    expect(h.store.getTask(waiter)?.state).toBe('ready');
    expect(existsSync(join(hm.workspace, 'waiter.txt'))).toBe(false);
    // Raised and resumed, it runs (the spender is cancelled first: it would spend on).
    h.service.cancelPending(spender, { actor: 'admin', origin: 'local' });
    h.budgets.setBudget('graph', graphId, 1000, { actor: 'admin', origin: 'local' });
    h.budgets.resume('graph', graphId, { actor: 'admin', origin: 'local' });
    await waitFor(() => h.store.getTask(waiter)?.state === 'succeeded', 'the waiter to run after the resume', 20_000);
    expect(existsSync(join(hm.workspace, 'waiter.txt'))).toBe(true);
  });

  it("a remote cost first reported in a final result stops the user's other attempts before the result is recorded", { timeout: 60_000 }, async () => {
    const config = testConfig({ lan: { rate_limit_read_per_min: 100_000, rate_limit_submit_per_min: 100_000 }, budget: { per_user_usd: 1.5 } });
    const r = (remote = await startRemoteHost({ ...FAST, slotsPerWorker: 3 }, config));
    const ada = await newSession(r, 'Ada');
    const w = (raw = await RawWorker.open(r, await enrolKey(r, ada)));
    const ids = ['a', 'b', 'c'].map((id) => submitTask(r, ada.submitter, { prompt: 'true', target: w.id.worker_id, id, budget_usd: 5 }));
    const [a, b, c] = ids as [string, string, string];
    const offers = new Map<string, MessageOf<'TASK_ASSIGNED'>>();
    for (let i = 0; i < 3; i++) {
      const m = (await w.next('TASK_ASSIGNED')) as MessageOf<'TASK_ASSIGNED'>;
      offers.set(m.task_id, m);
    }
    const offer = (id: string): MessageOf<'TASK_ASSIGNED'> => offers.get(id) as MessageOf<'TASK_ASSIGNED'>;
    for (const id of [a, b]) w.signed({ type: 'TASK_ACCEPTED' as const, task_id: id, attempt: offer(id).attempt, nonce: offer(id).nonce });
    await waitFor(() => stateOf(r, a) === 'running' && stateOf(r, b) === 'running', 'a and b running', 5000);
    expect(stateOf(r, c)).toBe('assigned'); // offered, not accepted

    // The store refuses to record b's result for now (a real SQLite error from a second connection).
    const side = new Database(r.home.paths.db);
    side.exec(
      `CREATE TRIGGER refuse_b BEFORE UPDATE OF finished_at ON attempts WHEN NEW.task_id = '${b}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`,
    );
    try {
      w.signed(completedFor(offer(b), { cost: 2, summary: 'done, and it cost $2' }));
      const cancelled = new Set<string>();
      await w.until(() => {
        for (const m of w.inbox.splice(0)) if (m.type === 'TASK_CANCELLED') cancelled.add(m.task_id);
        return cancelled.has(a) && cancelled.has(c);
      }, 'a stopped and c withdrawn');
      expect(stateOf(r, b)).toBe('running'); // its result is not recorded yet
      for (const id of [a, c]) {
        expect(stateOf(r, id)).toBe('ready');
        expect(r.host.store.attemptsOf(id)[0]).toMatchObject({ state: 'failed', error_code: 'E_BUDGET' });
        expect(r.host.store.getTask(id)?.state_reason).toMatch(new RegExp(`user ${ada.submitter} reached its budget`));
      }
      expect(r.host.service.isPaused('user', ada.submitter)).toBe(true);
      // The withdrawn offer cannot be taken up any more.
      w.signed({ type: 'TASK_ACCEPTED' as const, task_id: c, attempt: offer(c).attempt, nonce: offer(c).nonce });
      expect((await w.error()).code).toBe('stale_attempt');
      expect(stateOf(r, c)).toBe('ready');
    } finally {
      side.exec('DROP TRIGGER IF EXISTS refuse_b');
      side.close();
    }
    // Once the store takes it, b's result stands (the pause does not undo finished work), and its cost counts once.
    await waitFor(() => stateOf(r, b) === 'succeeded', 'b recorded', 10_000);
    expect(r.host.store.attemptsOf(b)[0]).toMatchObject({ state: 'succeeded', cost_usd: 2 });
    expect(r.host.budgets.userStatus(ada.submitter)).toMatchObject({ spent_usd: 2, level: 'stop', paused: true });
  });
});
