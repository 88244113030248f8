/**
 * Graph and user budgets checked while attempts run (issue 18, in flight),
 * through a real host and a real engine that reports its cost as it goes:
 * the fake Claude CLI's `budget-growing` scenario writes 200k cache tokens a
 * turn (about $0.75 priced mid-stream) for 400 turns. Each task's own budget
 * is $100, so only the graph's or the user's budget can stop it early: the
 * running attempt(s) of the scope are stopped as soon as their cost so far
 * reaches it, recorded as failed with E_BUDGET, and their tasks go back to
 * the queue, held by the scope's pause until the admin raises and resumes.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createClaudeEngine } from '../../src/engines/claude-cli.js';
import { FAST, newSession, startAgent, startRemoteHost, submitTask, type RemoteTestHost } from '../helpers/remote-host.js';
import type { EventRecord } from '../../src/store/rows.js';
import { startHost, type RunningHost } from '../../src/server/host-server.js';
import { adminApi, makeHome, portOf, testConfig, type TestHome } from '../helpers/admin-host.js';
import { realPricing } from '../helpers/engine-harness.js';
import { waitFor } from '../helpers/proc.js';

const FAKE_CLAUDE = resolve('test/fixtures/fake-claude.mjs');
let home: TestHome;
let h: RunningHost;
let notes: Record<string, unknown>[] = [];
let remote: RemoteTestHost | null = null;

async function start(): Promise<void> {
  home = makeHome('colony-budget-inflight-');
  notes = [];
  h = await startHost({
    paths: home.paths,
    config: testConfig({ runner: { worktrees: 'off' }, safety: { allowed_roots: [home.dir], env_allow: ['FAKE_CLAUDE_SCENARIO'] } }),
    adminPort: 0,
    userPort: 0,
    lan: false,
    concurrency: 2,
    logger: false,
    webRoot: null,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/root', CLAUDE_BIN: FAKE_CLAUDE, FAKE_CLAUDE_SCENARIO: 'budget-growing' },
  });
  h.host.store.subscribe((events: readonly EventRecord[]) => {
    for (const e of events) if (e.kind === 'notify') notes.push(e.data);
  });
}

afterEach(async () => {
  await h?.close();
  home?.cleanup();
  await remote?.close();
  remote = null;
});

const api = (): ReturnType<typeof adminApi> => adminApi(portOf(h), h.ctx.adminToken);
const task = (id: string) => ({ id, prompt: `Write ${id}.txt`, engine: 'claude', budget_usd: 100, workspace: home.workspace });

/** Waits until every task has a finished attempt and is back in the queue. */
async function stoppedAndQueued(ids: string[]): Promise<void> {
  await waitFor(
    () => ids.every((id) => h.host.store.getTask(id)?.state === 'ready' && h.host.store.attemptsOf(id)[0]?.finished_at != null),
    'the attempts to stop and their tasks to be queued again',
    30_000,
  );
}

describe('budgets checked in flight', () => {
  it("stops a long attempt when its user's budget is reached, not when it ends; the task waits, paused", { timeout: 60_000 }, async () => {
    await start();
    expect((await api()('POST', '/admin/budgets', { scope: 'user', key: 'admin', budget_usd: 1.5 })).status).toBe(200);
    const r = await api()('POST', '/admin/execute', { graph: { name: 'long', tasks: [task('long')] } });
    expect(r.status, r.body).toBe(201);
    const id = (r.json['task_ids'] as string[])[0] as string;
    await stoppedAndQueued([id]);
    const [a] = h.host.store.attemptsOf(id);
    expect(a).toMatchObject({ state: 'failed', error_code: 'E_BUDGET' });
    // Stopped at the user's $1.50 (a turn or so past it), far below the $100 its own budget allowed.
    expect(a?.cost_usd).toBeGreaterThanOrEqual(1.5);
    expect(a?.cost_usd).toBeLessThan(5);
    expect(h.host.store.getTask(id)?.state_reason).toMatch(/user admin reached its budget/);
    expect(h.host.service.isPaused('user', 'admin')).toBe(true);
    // Held by the pause: the pool ticks every 500 ms and does not take it again.
    await new Promise((ok) => setTimeout(ok, 1200));
    expect(h.host.store.getTask(id)?.state).toBe('ready');
    expect(h.host.store.attemptsOf(id)).toHaveLength(1);
    const status = await api()('GET', '/admin/budgets');
    const admin = (status.json['users'] as Record<string, unknown>[]).find((u) => u['key'] === 'admin');
    expect(admin).toMatchObject({ level: 'stop', paused: true });
    expect(notes.filter((n) => n['event'] === 'budget.stop')).toHaveLength(1);
  });

  it("stops every running attempt of a graph together when their combined cost reaches the graph's budget", { timeout: 60_000 }, async () => {
    await start();
    // The graph's budget is the admin's, set while a free first step holds the two agents back
    // (a graph's own budget_usd below its worst case, $200 here, is refused at submit).
    const hold = { id: 'hold', engine: 'exec', prompt: 'sleep 1.5', budget_usd: 0, workspace: home.workspace };
    const tasks = [hold, { ...task('left'), depends_on: ['hold'] }, { ...task('right'), depends_on: ['hold'] }];
    const r = await api()('POST', '/admin/execute', { graph: { name: 'pair', tasks } });
    expect(r.status, r.body).toBe(201);
    const ids = (r.json['task_ids'] as string[]).slice(1);
    const graphId = r.json['graph_id'] as string;
    expect((await api()('POST', '/admin/budgets', { scope: 'graph', key: graphId, budget_usd: 3 })).json['budget']).toMatchObject({ level: 'ok' });
    await stoppedAndQueued(ids);
    const attempts = ids.map((id) => h.host.store.attemptsOf(id)[0]);
    for (const a of attempts) expect(a).toMatchObject({ state: 'failed', error_code: 'E_BUDGET' });
    const total = attempts.reduce((s, a) => s + (a?.cost_usd ?? 0), 0);
    // Together they crossed $3 (each alone had less); each may spend one more turn while it is stopped.
    expect(total).toBeGreaterThanOrEqual(3);
    expect(total).toBeLessThan(7);
    for (const id of ids) expect(h.host.store.getTask(id)?.state_reason).toMatch(/graph pair reached its budget/);
    expect(h.host.service.isPaused('graph', graphId)).toBe(true);
    expect(h.host.service.isPaused('user', 'admin')).toBe(false); // the admin has no budget of their own
    // Raising the graph's budget and resuming runs them again.
    expect((await api()('POST', '/admin/budgets', { scope: 'graph', key: graphId, budget_usd: 1000 })).status).toBe(200);
    expect((await api()('POST', '/admin/budgets/resume', { scope: 'graph', key: graphId })).status).toBe(200);
    await waitFor(() => ids.every((id) => h.host.store.attemptsOf(id).length === 2), 'a second attempt of each', 30_000);
    for (const id of ids) await api()('POST', `/admin/cancel/${encodeURIComponent(id)}`);
  });

  it("stops a remote worker's attempt when its progress reaches the user's budget", { timeout: 60_000 }, async () => {
    const config = testConfig({ lan: { rate_limit_read_per_min: 100_000, rate_limit_submit_per_min: 100_000 }, budget: { per_user_usd: 1.5 } });
    remote = await startRemoteHost(FAST, config);
    const r = remote;
    // The worker's claude is the fake CLI in its growing scenario (the worker passes the engine no env of the host's).
    const bin = join(r.home.dir, 'claude-growing');
    writeFileSync(bin, `#!/bin/sh\nFAKE_CLAUDE_SCENARIO=budget-growing exec ${process.execPath} ${FAKE_CLAUDE} "$@"\n`);
    chmodSync(bin, 0o755);
    const claude = createClaudeEngine({
      bin,
      defaultModel: 'sonnet',
      permissionMode: 'acceptEdits',
      allowedTools: [],
      extraArgs: [],
      pricing: realPricing(),
      killGraceMs: 300,
    });
    const ada = await newSession(r, 'Ada');
    await startAgent(r, ada, { engines: new Map([['claude', claude]]) });
    const id = submitTask(r, ada.submitter, { prompt: 'Write a long essay', engine: 'claude', budget_usd: 100 });
    await waitFor(
      () => r.host.store.getTask(id)?.state === 'ready' && r.host.store.attemptsOf(id)[0]?.finished_at != null,
      'the remote attempt to stop',
      30_000,
    );
    const [a] = r.host.store.attemptsOf(id);
    expect(a).toMatchObject({ state: 'failed', error_code: 'E_BUDGET' });
    expect(a?.cost_usd).toBeGreaterThanOrEqual(1.5);
    expect(a?.cost_usd).toBeLessThan(5);
    expect(r.host.store.getTask(id)?.state_reason).toMatch(new RegExp(`user ${ada.submitter} reached its budget`));
    expect(r.host.service.isPaused('user', ada.submitter)).toBe(true);
    expect(r.host.budgets.userStatus(ada.submitter)).toMatchObject({ level: 'stop', paused: true });
    // The worker was told to stop: nothing of the attempt keeps running there (no further progress arrives).
    const out = r.host.store.outputOf(id).length;
    await new Promise((ok) => setTimeout(ok, 800));
    expect(r.host.store.outputOf(id).length).toBe(out);
  });
});
