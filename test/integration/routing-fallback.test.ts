import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config.js';
import { resolveHome } from '../../src/runner/home.js';
import { openHost, type Host } from '../../src/runner/host.js';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai-server.js';
import { createEngineRouting } from '../../src/runner/engine-routing.js';
import { createEngineRegistry } from '../../src/engines/registry.js';

const FAKE_CLAUDE = resolve('test/fixtures/fake-claude.mjs');

describe('routing through the real pool', () => {
  let host: Host | null = null;
  let fake: FakeOpenAI | null = null;
  const dirs: string[] = [];
  afterEach(async () => {
    await host?.close();
    await fake?.close();
    host = null;
    fake = null;
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function setup(budget: number): Promise<{ host: Host; fake: FakeOpenAI; ws: string }> {
    fake = await startFakeOpenAI();
    const home = mkdtempSync(join(tmpdir(), 'colony-route-'));
    const ws = mkdtempSync(join(tmpdir(), 'colony-route-ws-'));
    dirs.push(home, ws);
    const cfg = parseConfig({
      budget: { default_task_usd: budget },
      runner: { worktrees: 'off' },
      safety: { allowed_roots: [ws] },
      engines: {
        providers: {
          groq: {
            base_url: fake.baseUrl,
            api_key_env: 'GROQ_API_KEY',
            models: ['llama-3.1-8b-instant', 'llama-3.3-70b-versatile'],
            default_model: 'llama-3.3-70b-versatile',
            cheap_model: 'llama-3.1-8b-instant',
          },
        },
      },
    });
    if (!cfg.ok) throw new Error(cfg.problems.join('; '));
    const env = {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '/root',
      GROQ_API_KEY: 'test-key',
      CLAUDE_BIN: FAKE_CLAUDE,
      FAKE_CLAUDE_SCENARIO: 'success',
    };
    host = openHost({ paths: resolveHome(home), config: cfg.config, env, concurrency: 1 });
    return { host, fake, ws };
  }

  async function settle(h: Host, id: string): Promise<void> {
    const end = Date.now() + 20_000;
    while (!['succeeded', 'failed', 'timed_out', 'cancelled'].includes(h.store.getTask(id)?.state ?? '')) {
      if (Date.now() > end) throw new Error(`task ${id} still ${h.store.getTask(id)?.state}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('retries a failed Groq task on Claude within budget, recording both attempts and the reason', async () => {
    const { host: h, fake: f, ws } = await setup(1);
    f.enqueue({ kind: 'status', status: 400, body: { error: { message: 'model cannot do this', type: 'invalid_request_error' } } });
    const r = h.service.submitGraph(
      { name: 'fb', tasks: [{ id: 't', prompt: 'use groq: rename the helper in utils.ts', engine: 'auto', depends_on: [], trigger: 'all_success' }] },
      { submittedBy: 'admin', who: { actor: 'admin', origin: 'local' }, workspace: ws, defaultTarget: 'host', holdHostTasks: false },
    );
    const id = r.task_ids[0] as string;
    h.pool.start();
    await settle(h, id);
    const attempts = h.store.attemptsOf(id);
    expect(attempts.map((a) => [a.engine, a.state])).toEqual([
      ['groq', 'failed'],
      ['claude', 'succeeded'],
    ]);
    expect(attempts[0]?.route_rule).toBe('explicit');
    expect(attempts[1]?.route_rule).toBe('fallback');
    expect(attempts[1]?.route_explanation).toMatch(/fallback after groq/);
    const task = h.store.getTask(id);
    expect(task?.state).toBe('succeeded');
    expect(task?.cost_usd).toBeGreaterThan(0); // Claude's reported total_cost_usd
    expect(task?.cost_usd).toBeLessThanOrEqual(1);
    expect(f.requests).toHaveLength(1);
  });

  it('refuses before the call when the estimate exceeds the budget left', async () => {
    const { host: h, fake: f, ws } = await setup(0.000001);
    const r = h.service.submitGraph(
      {
        name: 'poor',
        tasks: [{ id: 't', prompt: 'use claude opus to redesign the architecture of the scheduler', engine: 'auto', depends_on: [], trigger: 'all_success' }],
      },
      { submittedBy: 'admin', who: { actor: 'admin', origin: 'local' }, workspace: ws, defaultTarget: 'host', holdHostTasks: false },
    );
    const id = r.task_ids[0] as string;
    h.pool.start();
    await settle(h, id);
    const task = h.store.getTask(id);
    expect(task?.state).toBe('failed');
    expect(task?.state_reason).toMatch(/E_BUDGET/);
    expect(h.store.attemptsOf(id)).toHaveLength(0); // nothing was called
    expect(f.requests).toHaveLength(0);
  });

  it('routes a task at the end of a 30k-task chain without recursing through it', async () => {
    const { host: h, ws } = await setup(1);
    const tasks = Array.from({ length: 30_000 }, (_, i) => ({
      id: `n${i}`,
      prompt: i === 29_999 ? 'refactor the scheduler module' : 'true',
      engine: i === 29_999 ? 'auto' : 'exec',
      depends_on: i ? [`n${i - 1}`] : [],
      trigger: 'all_success' as const,
    }));
    const r = h.service.submitGraph(
      { name: 'chain', tasks },
      { submittedBy: 'admin', who: { actor: 'admin', origin: 'local' }, workspace: ws, defaultTarget: 'host', holdHostTasks: false },
    );
    const last = h.store.getTask(r.task_ids[29_999] as string);
    if (!last) throw new Error('missing task');
    const routing = createEngineRouting({
      config: h.config,
      store: h.store,
      registry: createEngineRegistry(h.config, { env: { GROQ_API_KEY: 'k' } }),
      env: {},
    });
    const choice = routing.route(last, { previous: [], remaining_usd: 1 });
    expect(['claude', 'groq']).toContain(choice.engine.name);
    expect(choice.explanation.length).toBeGreaterThan(0);
  });
});
