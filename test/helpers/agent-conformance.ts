/**
 * One conformance suite for the agent-CLI engines (codex, gemini, opencode),
 * each run with its REAL pinned binary against its fake model server:
 * a task that writes a file, tokens and cost as reported (or priced),
 * a budget stop mid-run, an authentication error, an overload, a stalled
 * stream ending in a timeout, and cancel with no process left. Every run is
 * inside the OS sandbox (real bwrap, the default safety config), as in the product.
 */
import { existsSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/core/config.js';
import type { Engine } from '../../src/core/engine.js';
import { priceUsage, type PriceTable } from '../../src/core/pricing.js';
import { createSandboxPlanner } from '../../src/safety/os-sandbox/index.js';
import { processesIn } from './agent-run.js';
import { collect, doneOf, lastCost, lastUsage, outputText, request, tempDir } from './engine-harness.js';
import { waitFor } from './proc.js';
import type { FakeModelServer, Turn } from './fake-models.js';

export interface ConformanceSpec {
  name: string;
  startServer(): Promise<FakeModelServer>;
  /** The engine pointed at the server; `maxRetries` lowers the CLI's own retries where it has the knob. */
  engine(server: FakeModelServer, o: { maxRetries?: number }): Engine;
  env(home: string, server: FakeModelServer): Record<string, string>;
  model: string;
  pricing: PriceTable;
  /** The model's tool call that writes `content` to `file` (absolute) in this CLI's tool vocabulary. */
  writeTurn(file: string, content: string): Turn;
  /** 'reported' when the CLI reports its own cost, 'priced' when colony prices the tokens. */
  costSource: 'reported' | 'priced';
  /** The status the overload test answers with for ever. */
  overloadStatus: number;
  /** Silence timeout of the stall test: longer than the CLI's silent start-up on a loaded machine. */
  stallSilenceMs?: number;
}

export function agentConformance(spec: ConformanceSpec): void {
  describe(`${spec.name} engine with the real CLI`, () => {
    let api: FakeModelServer;
    let ws: string;
    let home: string;
    beforeEach(async () => {
      api = await spec.startServer();
      const dir = realpathSync(await tempDir(`colony-${spec.name}-real-`));
      ws = join(dir, 'ws');
      home = join(dir, 'home');
      mkdirSync(ws);
      mkdirSync(home);
    });
    afterEach(async () => {
      await api.close();
    });
    const planner = createSandboxPlanner({ safety: defaultConfig().safety, colonyHome: '/nonexistent-colony-home', configFile: null });
    const run = (over: Parameters<typeof request>[0], o: { maxRetries?: number } = {}) => {
      const env = spec.env(home, api);
      const sandbox = planner.planFor({ taskId: 't1', engine: spec.name, workspace: over.workspace, env });
      return collect(spec.engine(api, o), request({ env, sandbox, run_timeout_ms: 150_000, ...over }));
    };

    it('writes a file and records tokens and cost', async () => {
      api.enqueue({ ...spec.writeTurn(join(ws, 'hello.txt'), 'hello from the agent\n'), usage: { input: 1000, output: 50 } } as Turn, {
        kind: 'text',
        text: 'Created hello.txt.',
        usage: { input: 1100, output: 20 },
      });
      const events = await run({ workspace: ws, prompt: 'Create hello.txt' });
      const done = doneOf(events);
      expect(done.ok, `${done.summary}\n${outputText(events)}`).toBe(true);
      expect(readFileSync(join(ws, 'hello.txt'), 'utf8')).toBe('hello from the agent\n');
      const usage = lastUsage(events)?.usage;
      // What the fake API reported over the two scripted turns (side calls, e.g. titles, may add a little).
      expect(usage?.input).toBeGreaterThanOrEqual(2100);
      expect(usage?.output).toBeGreaterThanOrEqual(70);
      const cost = lastCost(events);
      expect(cost?.source).toBe(spec.costSource);
      const priced = priceUsage(spec.pricing, spec.model, usage ?? { input: 0, output: 0, cache_read: 0, cache_write: 0 }).usd;
      expect(priced).not.toBeNull();
      expect(cost?.usd).toBeCloseTo(priced ?? -1, 6);
      expect(processesIn(ws)).toEqual([]);
    }, 300_000);

    it('stops mid-run once the cost reaches the budget', async () => {
      api.enqueue(
        { ...spec.writeTurn(join(ws, 'a.txt'), 'a\n'), usage: { input: 2_000_000, output: 100 } } as Turn,
        { ...spec.writeTurn(join(ws, 'b.txt'), 'b\n'), usage: { input: 2_000_000, output: 100 } } as Turn,
        { ...spec.writeTurn(join(ws, 'c.txt'), 'c\n'), usage: { input: 2_000_000, output: 100 } } as Turn,
        { ...spec.writeTurn(join(ws, 'd.txt'), 'd\n'), usage: { input: 2_000_000, output: 100 } } as Turn,
        { ...spec.writeTurn(join(ws, 'e.txt'), 'e\n'), usage: { input: 2_000_000, output: 100 } } as Turn,
        { ...spec.writeTurn(join(ws, 'f.txt'), 'f\n'), usage: { input: 2_000_000, output: 100 } } as Turn,
        { kind: 'text', text: 'All written.' },
      );
      const events = await run({ workspace: ws, budget_usd: 0.05 });
      const done = doneOf(events);
      expect(done.error_code, done.summary).toBe('E_BUDGET');
      // The first turn alone costs far more than the budget; some CLIs report usage only with a lag
      // (codex: its rollout file), so a turn or two may pass, never the whole run.
      expect(existsSync(join(ws, 'f.txt'))).toBe(false);
      expect(lastCost(events)?.usd).toBeGreaterThanOrEqual(0.05);
      await waitFor(() => processesIn(ws).length === 0, 'no process of the attempt left', 10_000);
    }, 300_000);

    it('ends on an authentication error with the API message', async () => {
      api.enqueue({ kind: 'error', status: 401, message: 'invalid api key (fake gateway)', times: 'forever' });
      const events = await run({ workspace: ws });
      const done = doneOf(events);
      expect(done.error_code, done.summary).toBe('E_ENGINE_AUTH');
      expect(done.summary).toContain('invalid api key (fake gateway)');
      await waitFor(() => processesIn(ws).length === 0, 'no process of the attempt left', 10_000);
    }, 300_000);

    it('names an overload after the CLI gives up', async () => {
      api.enqueue({ kind: 'error', status: spec.overloadStatus, message: 'model overloaded (fake)', times: 'forever' });
      const events = await run({ workspace: ws }, { maxRetries: 1 });
      const done = doneOf(events);
      expect(done.error_code, `${done.summary}\n${outputText(events)}`).toBe(spec.overloadStatus === 429 ? 'E_ENGINE_RATE_LIMITED' : 'E_ENGINE_OVERLOADED');
      expect(outputText(events) + done.summary).toContain('model overloaded (fake)');
    }, 300_000);

    it('times out on a stalled stream, naming the last API error', async () => {
      api.enqueue({ kind: 'error', status: 503, message: 'busy upstream (fake)' }, { kind: 'stall', text: 'Thinking' });
      // Silence, not the wall clock: the CLI printed something at start and after the error, then nothing.
      const events = await run({ workspace: ws, run_timeout_ms: 200_000, silence_timeout_ms: spec.stallSilenceMs ?? 30_000 }, { maxRetries: 3 });
      const done = doneOf(events);
      expect(done.error_code, done.summary).toBe('E_TIMEOUT');
      expect(done.summary).toContain('silence timeout');
      expect(done.summary).toContain('last API error: HTTP ');
      expect(done.summary).toContain('busy upstream (fake)');
      await waitFor(() => processesIn(ws).length === 0, 'no process of the attempt left', 10_000);
    }, 300_000);

    it('cancel leaves no process behind', async () => {
      api.enqueue({ kind: 'stall', text: 'Thinking' });
      const ac = new AbortController();
      const pending = run({ workspace: ws, signal: ac.signal });
      await waitFor(() => api.modelRequests().length > 0, 'the CLI reached the fake model server', 120_000);
      expect(processesIn(ws).length).toBeGreaterThan(0);
      ac.abort();
      expect(doneOf(await pending).error_code).toBe('E_CANCELLED');
      await waitFor(() => processesIn(ws).length === 0, 'no process of the attempt left', 10_000);
    }, 300_000);
  });
}
