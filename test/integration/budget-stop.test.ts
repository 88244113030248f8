/**
 * Budgets you can see (issue 18), end to end through a real host: agent
 * tasks (the fake Claude CLI, reporting $0.20 per run) spend against the
 * admin's budget; the warning fires at 80%, the stop pauses the remaining
 * task (ready, never dispatched), resume is refused until the budget is
 * raised, then the task runs; a pause outlives a restart. Every step is audited; the dashboard's daily
 * cost per engine and model adds up.
 */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRecord } from '../../src/store/rows.js';
import { startHost, type RunningHost } from '../../src/server/host-server.js';
import { adminApi, makeHome, portOf, testConfig, type TestHome } from '../helpers/admin-host.js';
import { waitFor } from '../helpers/proc.js';
import { runCli } from '../helpers/cli.js';

const FAKE_CLAUDE = resolve('test/fixtures/fake-claude.mjs');
const home: TestHome = makeHome('colony-budget-');
let h: RunningHost;
const notes: Record<string, unknown>[] = [];

function opts(): Parameters<typeof startHost>[0] {
  return {
    paths: home.paths,
    config: testConfig({ runner: { worktrees: 'off' }, safety: { allowed_roots: [home.dir], env_allow: ['FAKE_CLAUDE_COST', 'FAKE_CLAUDE_SCENARIO'] } }),
    adminPort: 0,
    userPort: 0,
    lan: false,
    concurrency: 2,
    logger: false,
    webRoot: null,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '/root',
      CLAUDE_BIN: FAKE_CLAUDE,
      FAKE_CLAUDE_SCENARIO: 'success',
      // Above the fake's mid-run estimate ($0.1056): budgets are also checked in flight (budget-inflight.test.ts).
      FAKE_CLAUDE_COST: '0.2',
    },
  };
}

beforeAll(async () => {
  h = await startHost(opts());
  h.host.store.subscribe((events: readonly EventRecord[]) => {
    for (const e of events) if (e.kind === 'notify') notes.push(e.data);
  });
});

afterAll(async () => {
  await h?.close();
  home.cleanup();
});

const api = (): ReturnType<typeof adminApi> => adminApi(portOf(h), h.ctx.adminToken);
const state = (id: string): string | undefined => h.host.store.getTask(id)?.state;
const userStatus = async (): Promise<Record<string, unknown>> => {
  const r = await api()('GET', '/admin/budgets');
  return ((r.json['users'] as Record<string, unknown>[]) ?? []).find((u) => u['key'] === 'admin') ?? {};
};

describe('a user budget with a warning and a hard stop', () => {
  let ids: string[] = [];

  it('warns at 80% and pauses the remaining task at the budget', { timeout: 60_000 }, async () => {
    const set = await api()('POST', '/admin/budgets', { scope: 'user', key: 'admin', budget_usd: 0.55 });
    expect(set.status, set.body).toBe(200);
    expect(set.json['budget']).toMatchObject({ budget_usd: 0.55, spent_usd: 0, level: 'ok', paused: false, overridden: true });
    const tasks = ['a', 'b', 'c', 'd'].map((id, i) => ({
      id,
      prompt: `Write note ${id}.txt`,
      engine: 'claude',
      budget_usd: 0.5, // the engine's pre-call estimate is about $0.135; each run reports $0.20 (c crosses $0.55 only at its end)
      workspace: home.workspace,
      depends_on: i === 0 ? [] : [['a', 'b', 'c'][i - 1]],
    }));
    const r = await api()('POST', '/admin/execute', { graph: { name: 'spend', tasks } });
    expect(r.status, r.body).toBe(201);
    ids = r.json['task_ids'] as string[];
    await waitFor(() => state(ids[2] as string) === 'succeeded', 'c to succeed', 30_000);
    await waitFor(async () => (await userStatus())['paused'] === true, 'the user paused');
    expect(await userStatus()).toMatchObject({ level: 'stop', paused: true, budget_usd: 0.55 });
    expect((await userStatus())['spent_usd']).toBeCloseTo(0.6, 6);
    // The pool ticks every 500 ms: after a few ticks d is still ready, never claimed.
    await new Promise((ok) => setTimeout(ok, 1600));
    expect(state(ids[3] as string)).toBe('ready');
    expect(h.host.store.attemptsOf(ids[3] as string)).toHaveLength(0);
    const events = notes.map((n) => n['event']);
    expect(events.filter((e) => e === 'budget.warning')).toHaveLength(1);
    expect(events.filter((e) => e === 'budget.stop')).toHaveLength(1);
    expect(events.indexOf('budget.warning')).toBeLessThan(events.indexOf('budget.stop'));
    expect(notes.find((n) => n['event'] === 'budget.stop')).toMatchObject({ owner: 'admin', detail: { scope: 'user', key: 'admin', budget_usd: 0.55 } });
  });

  it('refuses to resume while the spend still reaches the budget', async () => {
    const r = await api()('POST', '/admin/budgets/resume', { scope: 'user', key: 'admin' });
    expect([r.status, r.json['code']]).toEqual([409, 'E_BUDGET_STOPPED']);
    expect(String(r.json['message'])).toMatch(/raise the budget before resuming/);
    expect(state(ids[3] as string)).toBe('ready');
  });

  it('raising the budget alone does not resume; resuming then runs the paused task', { timeout: 60_000 }, async () => {
    const raised = await api()('POST', '/admin/budgets', { scope: 'user', key: 'admin', budget_usd: 2 });
    expect(raised.json['budget']).toMatchObject({ budget_usd: 2, level: 'ok', paused: true });
    await new Promise((ok) => setTimeout(ok, 700));
    expect(state(ids[3] as string)).toBe('ready');
    const r = await api()('POST', '/admin/budgets/resume', { scope: 'user', key: 'admin' });
    expect(r.status, r.body).toBe(200);
    expect(r.json['budget']).toMatchObject({ paused: false });
    await waitFor(() => state(ids[3] as string) === 'succeeded', 'd to run after the resume', 30_000);
    const audit = h.host.store.listAudit({ action: 'budget.*', limit: 100 }).map((a) => [a.action, a.actor, a.target]);
    expect(audit.reverse()).toEqual([
      ['budget.set', 'admin', 'user:admin'],
      ['budget.paused', 'system', 'user:admin'],
      ['budget.set', 'admin', 'user:admin'],
      ['budget.resumed', 'admin', 'user:admin'],
    ]);
  });

  it('a graph budget set below what the graph spent pauses it at once; the daily chart has the cost per engine and model', async () => {
    const graphId = (ids[0] as string).split(':')[0] as string;
    const r = await api()('POST', '/admin/budgets', { scope: 'graph', key: graphId, budget_usd: 0.02 });
    expect(r.json['budget']).toMatchObject({ scope: 'graph', key: graphId, name: 'spend', level: 'stop', paused: true });
    const daily = await api()('GET', '/admin/costs/daily?days=2');
    const rows = daily.json['rows'] as { day: string; engine: string; model: string | null; cost_usd: number }[];
    const claude = rows.filter((x) => x.engine === 'claude');
    expect(claude.reduce((s, x) => s + x.cost_usd, 0)).toBeCloseTo(0.8, 6);
    expect(claude[0]?.day).toBe(new Date().toISOString().slice(0, 10));
    const unknown = await api()('POST', '/admin/budgets', { scope: 'graph', key: 'no-such-graph', budget_usd: 1 });
    expect([unknown.status, unknown.json['code']]).toEqual([404, 'E_NOT_FOUND']);
    // The pause outlives a restart of the host.
    await h.close();
    h = await startHost(opts());
    expect(h.host.service.isPaused('graph', graphId)).toBe(true);
    expect(h.host.service.isPaused('user', 'admin')).toBe(false);
  });

  it('colony budget list / resume / set from the command line', async () => {
    const graphId = (ids[0] as string).split(':')[0] as string;
    const cli = (args: string[]): ReturnType<typeof runCli> => runCli(['budget', ...args, '--home', home.paths.home], { cwd: home.dir, timeoutMs: 20_000 });
    const list = await cli(['list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`graph\\s+${graphId}\\s+spend\\s+\\$0\\.8000\\s+\\$0\\.0200\\s+stop\\s+yes`));
    const refused = await cli(['resume', 'graph', graphId]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/raise the budget before resuming/);
    expect((await cli(['set', 'graph', graphId, '5'])).code).toBe(0);
    const resumed = await cli(['resume', 'graph', graphId]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(h.host.service.isPaused('graph', graphId)).toBe(false);
    const bad = await cli(['set', 'team', 'x', '1']);
    expect([bad.code, bad.stderr.trim()]).toEqual([2, 'colony: scope must be "graph" or "user", got "team"']);
  }, 60_000);
});
