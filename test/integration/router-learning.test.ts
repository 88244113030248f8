/**
 * The adaptive router through the real pool and store: each attempt is
 * learned under the class and path it was routed with (dependency depth
 * included, canonical model ids), the fallback attempt as the conditional
 * step it is; the outcome log survives a restart; the admin API shows the
 * per-class candidates and the last decisions, and explains a prompt; the
 * CLI prints the same.
 */
import { dbOf } from '../../src/store/internal.js';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { scoreComplexity } from '../../src/core/complexity.js';
import { loadPricingFile } from '../../src/engines/pricing-file.js';
import { optionId } from '../../src/core/model-id.js';
import { openHost, type Host } from '../../src/runner/host.js';
import { startHost, type RunningHost } from '../../src/server/host-server.js';
import { RouterStore } from '../../src/store/router.js';
import { adminApi, makeHome, portOf, startIdleAdmin, testConfig, type IdleAdmin, type TestHome } from '../helpers/admin-host.js';
import { assertBuilt, runCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/proc.js';

const FAKE_CLAUDE = resolve('test/fixtures/fake-claude.mjs');
const PRICING = loadPricingFile({});

describe('router learning, persistence and insight', () => {
  const homes: TestHome[] = [];
  let host: Host | null = null;
  let admin: IdleAdmin | null = null;
  let running: RunningHost | null = null;
  afterEach(async () => {
    await host?.close();
    await admin?.close();
    await running?.close();
    host = null;
    admin = null;
    running = null;
    for (const h of homes.splice(0)) h.cleanup();
  });

  function open(home: TestHome, scenario: string): Host {
    const env = { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/root', CLAUDE_BIN: FAKE_CLAUDE, FAKE_CLAUDE_SCENARIO: scenario };
    return openHost({
      paths: home.paths,
      config: testConfig({
        runner: { worktrees: 'off', kill_grace_ms: 500 },
        safety: { allowed_roots: [home.workspace], env_allow: ['FAKE_CLAUDE_SCENARIO'] },
      }),
      env,
      concurrency: 1,
    });
  }

  async function runGraph(h: Host, ws: string, tasks: { id: string; prompt: string; depends_on: string[] }[]): Promise<string[]> {
    const r = h.service.submitGraph(
      { name: 'g', tasks: tasks.map((t) => ({ ...t, engine: 'auto', trigger: 'all_success' as const })) },
      { submittedBy: 'admin', who: { actor: 'admin', origin: 'local' }, workspace: ws, defaultTarget: 'host', holdHostTasks: false },
    );
    h.pool.start();
    await waitFor(
      () => r.task_ids.every((id) => ['succeeded', 'failed', 'timed_out', 'cancelled'].includes(h.store.getTask(id)?.state ?? '')),
      'tasks to end',
      30_000,
    );
    return r.task_ids;
  }

  it('learns each attempt under the class (with depth) and path it was routed with, and replays it after a restart', async () => {
    const home = makeHome('colony-router-');
    homes.push(home);
    host = open(home, 'success');
    const prompt = 'Refactor the parser module';
    const ids = await runGraph(host, home.workspace, [
      { id: 'a', prompt, depends_on: [] },
      { id: 'b', prompt, depends_on: ['a'] },
      { id: 'c', prompt, depends_on: ['b'] },
    ]);
    const log = new RouterStore(host.store);
    await waitFor(() => log.outcomes().length === 3, 'three learned outcomes', 5000);
    const outcomes = log.outcomes();
    const decisions = log.decisions(10);
    ids.forEach((id, depth) => {
      const o = outcomes.find((x) => x.task_id === id);
      const d = decisions.find((x) => x.task_id === id);
      const attempt = host?.store.attemptsOf(id)[0];
      // The class is the one routing used: complexity with the task's dependency depth.
      expect(o?.cls).toBe(scoreComplexity({ prompt, depends_on_depth: depth }).bucket);
      expect(d?.cls).toBe(o?.cls);
      // One identity: the path holds the canonical id of the routed model; the engine reported a full id.
      expect(o?.path).toEqual([optionId(PRICING, attempt?.engine ?? '', d?.model ?? null)]);
      expect(o?.path[0]).toMatch(/^claude\/claude-(haiku|sonnet|opus)-[0-9-]+$/); // the canonical ids the aliases map to in config/pricing.json
      expect(o?.ok).toBe(true);
      expect(d?.explanation).toBe(attempt?.route_explanation);
    });
    const learned = host.router.classes().flatMap((c) => c.arms.map((a) => [c.cls, a.key, a.n] as const));
    await host.close();
    host = open(home, 'success');
    expect(host.router.classes().flatMap((c) => c.arms.map((a) => [c.cls, a.key, a.n] as const))).toEqual(learned);
    expect(learned.reduce((s, [, , n]) => s + n, 0)).toBe(3);
  });

  it('learns once from the attempt history of a home that predates the outcome log', async () => {
    const home = makeHome('colony-router-boot-');
    homes.push(home);
    host = open(home, 'success');
    const prompt = 'Add a --json flag to the status command';
    const [a, b] = await runGraph(host, home.workspace, [
      { id: 'a', prompt, depends_on: [] },
      { id: 'b', prompt, depends_on: ['a'] },
    ]);
    await waitFor(() => new RouterStore((host as Host).store).outcomes().length === 2, 'two outcomes', 5000);
    const before = new RouterStore(host.store).outcomes();
    await host.close();
    host = null;
    // The old schema had no log: empty it, as a home upgraded to migration 9 would be.
    const { Store } = await import('../../src/store/store.js');
    const raw = Store.open(home.paths.db);
    dbOf(raw).prepare('DELETE FROM router_outcomes').run();
    raw.close();
    host = open(home, 'success');
    const after = new RouterStore(host.store).outcomes();
    expect(after.map((o) => [o.task_id, o.cls, o.path, o.ok])).toEqual(before.map((o) => [o.task_id, o.cls, o.path, o.ok]));
    expect(after.map((o) => o.task_id)).toEqual([a, b]);
    // Imported once: a further restart does not import again.
    await host.close();
    host = open(home, 'success');
    expect(new RouterStore(host.store).outcomes()).toHaveLength(2);
  });

  it('keeps its logs bounded: pruning keeps the newest decisions', async () => {
    const home = makeHome('colony-router-prune-');
    homes.push(home);
    host = open(home, 'success');
    const log = new RouterStore(host.store);
    host.store.transaction(() => {
      for (let i = 0; i < 2_050; i += 1)
        log.addDecision({
          task_id: `t${i}`,
          cls: 'easy',
          rule: 'adaptive',
          engine: 'claude',
          model: 'haiku',
          option: 'claude/claude-haiku-4-5',
          explanation: `decision ${i}`,
        });
    });
    log.prune();
    const n = (dbOf(host.store).prepare('SELECT COUNT(*) AS n FROM router_decisions').get() as { n: number }).n;
    expect(n).toBe(2_000);
    expect(log.decisions(1)[0]?.explanation).toBe('decision 2049');
  });

  it('learns a fallback attempt as the next step of the same path', async () => {
    const home = makeHome('colony-router-fb-');
    homes.push(home);
    host = open(home, 'error-during-execution');
    const [id] = await runGraph(host, home.workspace, [{ id: 'x', prompt: 'Fix the typo in README.md', depends_on: [] }]);
    const log = new RouterStore(host.store);
    const attempts = host.store.attemptsOf(id as string);
    await waitFor(() => log.outcomes().length === attempts.length, 'every attempt learned', 5000);
    const decisions = log.decisions(10).reverse();
    expect(attempts.length).toBeGreaterThanOrEqual(1);
    expect(attempts.every((a) => a.state === 'failed')).toBe(true);
    // The pool grants an auto task one fallback; only opus has nothing above it.
    if (decisions[0]?.option !== 'claude/claude-opus-4-8') expect(attempts).toHaveLength(2);
    expect(decisions.map((d) => d.rule).slice(1)).toEqual(attempts.slice(1).map(() => 'fallback'));
    log.outcomes().forEach((o, i) => {
      expect(o.ok).toBe(false);
      expect(o.path).toEqual(decisions.slice(0, i + 1).map((d) => d.option));
      expect(new Set(log.outcomes().map((x) => x.cls)).size).toBe(1);
    });
  });

  it('shows per-class candidates and the last decisions on the admin API, and explains a prompt', async () => {
    const home = makeHome('colony-router-api-');
    homes.push(home);
    host = open(home, 'success');
    await runGraph(host, home.workspace, [{ id: 'a', prompt: 'Fix the typo in README.md', depends_on: [] }]);
    await waitFor(() => new RouterStore((host as Host).store).outcomes().length === 1, 'the outcome', 5000);
    await host.close();
    host = null;
    admin = await startIdleAdmin(home);
    const call = adminApi(admin.port, admin.token);

    const r = await call('GET', '/admin/router');
    expect(r.status).toBe(200);
    const classes = r.json['classes'] as {
      cls: string;
      attempts: number;
      candidates: { option: string; n: number; p: number; cost_usd: number; weight: number }[];
    }[];
    expect(classes.map((c) => c.cls)).toEqual(['trivial', 'easy', 'medium', 'hard', 'very_hard']);
    const learnedClass = classes.find((c) => c.attempts === 1);
    const tried = learnedClass?.candidates.find((c) => c.n === 1);
    expect(tried?.option).toMatch(/^claude\//);
    expect(tried?.weight).toBeCloseTo(1, 6);
    for (const c of classes) for (const x of c.candidates) expect(x.p).toBeGreaterThan(0);
    const decisions = r.json['decisions'] as { task_id: string; explanation: string; cls: string }[];
    expect(decisions).toHaveLength(1);
    expect(decisions[0]?.cls).toBe(learnedClass?.cls);
    expect(decisions[0]?.explanation).toMatch(/^class \w+: \[/);

    const e = await call('POST', '/admin/router/explain', { prompt: 'Fix the typo in README.md', budget_usd: 0.5 });
    expect(e.status).toBe(200);
    const d = e.json['decision'] as { engine: string; rule: string; cls: string; explanation: string; plans: unknown[] };
    expect(d.rule).toBe('adaptive'); // explain uses the means: no exploration
    expect(d.explanation).toContain('within $0.50');
    expect(d.plans.length).toBeGreaterThan(0);

    const poor = await call('POST', '/admin/router/explain', { prompt: 'Fix the typo in README.md', budget_usd: 0.000001 });
    expect(poor.status).toBe(402);
    expect(poor.json['code']).toBe('E_BUDGET');
    expect(String(poor.json['message'])).toMatch(/the cheapest option, claude\/claude-haiku-4-5, needs ~\$0\.\d+/);
    expect((await call('POST', '/admin/router/explain', { prompt: '' })).status).toBe(400);

    // Without the admin token: refused, nothing disclosed.
    const anon = await adminApi(admin.port, 'wrong-token')('GET', '/admin/router');
    expect(anon.status).toBe(401);
    expect(anon.body).not.toContain('trivial');
  });

  it('colony router explain prints the choice and why from the running host', async () => {
    assertBuilt();
    const home = makeHome('colony-router-cli-');
    homes.push(home);
    running = await startHost({ paths: home.paths, config: testConfig(), adminPort: 0, userPort: 0, lan: false, concurrency: 1, logger: false, webRoot: null });
    expect(portOf(running)).toBeGreaterThan(0);
    const ok = await runCli(['router', 'explain', 'Investigate the intermittent deadlock in the scheduler', '--budget', '2', '--home', home.paths.home], {
      cwd: home.dir,
    });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^choice: claude\/\w+ \(rule adaptive, class \w+, complexity 0\.\d\d\)\nwhy: class \w+: \[/);
    expect(ok.stdout).toContain('within $2.00');
    expect(ok.stdout).toMatch(/plan\s+success\s+cost\s+value/);
    const poor = await runCli(['router', 'explain', 'fix it', '--budget', '0.0000001', '--home', home.paths.home], { cwd: home.dir });
    expect(poor.code).not.toBe(0);
    expect(poor.stderr + poor.stdout).toMatch(/E_BUDGET|no engine fits the remaining budget/);
    const bad = await runCli(['router', 'explain', 'fix it', '--budget', 'lots', '--home', home.paths.home], { cwd: home.dir });
    expect(bad.code).not.toBe(0);
  });
});
