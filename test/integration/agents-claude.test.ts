/**
 * The claude engine against the REAL Claude Code CLI (pinned, installed by
 * scripts/agent-clis.mjs) talking to a fake Anthropic API on 127.0.0.1.
 * Every tool call goes through the gate (stdio permission protocol).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ToolGate } from '../../src/core/engine.js';
import { defaultConfig } from '../../src/core/config.js';
import { priceUsage } from '../../src/core/pricing.js';
import { createClaudeEngine } from '../../src/engines/claude-cli.js';
import { checkToolCall } from '../../src/safety/tool-check.js';
import { requireAgentCli } from '../helpers/agent-clis.js';
import { cliEnv, processesIn, toolResultsSent } from '../helpers/agent-run.js';
import { collect, doneOf, lastCost, lastUsage, outputText, realPricing, request, tempDir } from '../helpers/engine-harness.js';
import { waitFor } from '../helpers/proc.js';
import { startFakeAnthropic, type FakeModelServer } from '../helpers/fake-models.js';

const BIN = requireAgentCli('claude');
const allowAll: ToolGate = async () => ({ behavior: 'allow' });

let api: FakeModelServer;
let ws: string;
let home: string;
beforeEach(async () => {
  api = await startFakeAnthropic();
  const dir = await tempDir('colony-claude-real-');
  ws = join(dir, 'ws');
  home = join(dir, 'home');
  mkdirSync(ws);
  mkdirSync(home);
});
afterEach(async () => {
  await api.close();
});

const engine = () =>
  createClaudeEngine({
    bin: BIN,
    defaultModel: 'sonnet',
    permissionMode: 'default',
    allowedTools: [],
    extraArgs: [],
    pricing: realPricing(),
    killGraceMs: 500,
    toolGate: true,
  });
const env = (extra: Record<string, string> = {}) => cliEnv(home, { ANTHROPIC_BASE_URL: api.baseUrl, ANTHROPIC_API_KEY: 'sk-ant-fake-key', ...extra });

describe('claude engine with the real Claude Code CLI', () => {
  it('writes a file through the gateway and records the cost and tokens the CLI reports', async () => {
    api.enqueue(
      {
        kind: 'tool',
        name: 'Write',
        input: { file_path: join(ws, 'hello.txt'), content: 'hello\n' },
        text: 'Writing the file.',
        usage: { input: 1000, output: 50 },
      },
      { kind: 'text', text: 'Created hello.txt.', usage: { input: 1100, output: 20 } },
    );
    const seen: string[] = [];
    const gate: ToolGate = async (call) => (seen.push(`${call.tool} ${call.path}`), { behavior: 'allow' });
    const events = await collect(engine(), request({ workspace: ws, prompt: 'Create hello.txt', env: env(), tool_gate: gate, run_timeout_ms: 120_000 }));
    const done = doneOf(events);
    expect(done, outputText(events)).toMatchObject({ ok: true });
    expect(readFileSync(join(ws, 'hello.txt'), 'utf8')).toBe('hello\n');
    expect(seen).toEqual([`Write ${join(ws, 'hello.txt')}`]);
    // Tokens: the sum of what the fake API reported; cost: the CLI's own figure,
    // which our price table (by the model id the CLI reports) reproduces.
    const usage = { input: 2100, output: 70, cache_read: 0, cache_write: 0 };
    expect(lastUsage(events)?.usage).toEqual(usage);
    const cost = lastCost(events);
    expect(cost?.source).toBe('reported');
    const info = events.find((e) => e.type === 'info' && e.session_id);
    const reportedModel = info?.type === 'info' ? info.model : null;
    expect(reportedModel).toMatch(/^claude-/);
    expect(cost?.usd).toBeCloseTo(priceUsage(realPricing(), reportedModel, usage).usd ?? -1, 6);
    // The remaining budget went to the CLI as its own guard.
    expect(api.modelRequests().length).toBe(2);
    expect(processesIn(ws)).toEqual([]);
  }, 180_000);

  it('denies a tool call the gateway refuses: the agent sees the reason and the file is not written', async () => {
    api.enqueue(
      { kind: 'tool', name: 'Write', input: { file_path: join(ws, '.env'), content: 'TOKEN=stolen\n' } },
      { kind: 'text', text: 'I could not write it.' },
    );
    const cfg = defaultConfig();
    const gate: ToolGate = async (call) => {
      const v = checkToolCall({ config: cfg.safety, providerHosts: [], home: join(home, 'colony'), workspace: ws }, call);
      return v.verdict === 'allow' ? { behavior: 'allow' } : { behavior: 'deny', message: `colony safety: ${v.reason}` };
    };
    const events = await collect(engine(), request({ workspace: ws, prompt: 'Store the token', env: env(), tool_gate: gate, run_timeout_ms: 120_000 }));
    expect(doneOf(events).ok).toBe(true);
    expect(existsSync(join(ws, '.env'))).toBe(false);
    expect(outputText(events)).toContain('[gateway] denied: Write');
    const sent = toolResultsSent(api.modelRequests().map((r) => r.body));
    expect(sent).toContain('colony safety:');
    expect(sent).toContain('environment file');
    expect(sent).toContain('"is_error":true');
  }, 180_000);

  it('stops mid-run once the cost reaches the budget', async () => {
    // The first answer alone costs ~$0.30 at the CLI's sonnet price; the budget is $0.05.
    api.enqueue(
      { kind: 'tool', name: 'Write', input: { file_path: join(ws, 'a.txt'), content: 'a\n' }, usage: { input: 100_000, output: 100 } },
      { kind: 'tool', name: 'Write', input: { file_path: join(ws, 'b.txt'), content: 'b\n' }, usage: { input: 100_000, output: 100 } },
      { kind: 'text', text: 'Both written.' },
    );
    const events = await collect(engine(), request({ workspace: ws, env: env(), tool_gate: allowAll, budget_usd: 0.05, run_timeout_ms: 120_000 }));
    const done = doneOf(events);
    expect(done.error_code, done.summary).toBe('E_BUDGET');
    expect(existsSync(join(ws, 'b.txt'))).toBe(false);
    expect(lastCost(events)?.usd).toBeGreaterThanOrEqual(0.05);
    expect(processesIn(ws)).toEqual([]);
  }, 180_000);

  it('ends at once on an authentication error, with the API message', async () => {
    api.enqueue({ kind: 'error', status: 401, message: 'invalid x-api-key (fake gateway)', times: 'forever' });
    const events = await collect(engine(), request({ workspace: ws, env: env(), tool_gate: allowAll, run_timeout_ms: 120_000 }));
    const done = doneOf(events);
    expect(done.error_code).toBe('E_ENGINE_AUTH');
    expect(done.summary).toContain('invalid x-api-key (fake gateway)');
    expect(done.summary).toContain('401');
    // Not the CLI's ~10 retries over minutes: at most a couple of requests.
    expect(api.modelRequests().length).toBeLessThanOrEqual(3);
    expect(processesIn(ws)).toEqual([]);
  }, 180_000);

  it('shows each API retry of an overloaded API and names the overload', async () => {
    api.enqueue({ kind: 'error', status: 529, message: 'Overloaded (fake)', times: 'forever' });
    const events = await collect(
      engine(),
      request({ workspace: ws, env: env({ CLAUDE_CODE_MAX_RETRIES: '2' }), tool_gate: allowAll, run_timeout_ms: 120_000 }),
    );
    const done = doneOf(events);
    expect(done.error_code).toBe('E_ENGINE_OVERLOADED');
    const retries = events.filter((e) => e.type === 'output' && e.text.includes('API error 529'));
    expect(retries.length).toBe(2);
    expect(outputText(events)).toContain('Overloaded (fake)');
  }, 180_000);

  it('times out on a stalled stream, naming the last API error', async () => {
    api.enqueue({ kind: 'error', status: 503, message: 'upstream busy (fake)' }, { kind: 'stall', text: 'Thinking' });
    const events = await collect(engine(), request({ workspace: ws, env: env(), tool_gate: allowAll, run_timeout_ms: null, silence_timeout_ms: 20_000 }));
    const done = doneOf(events);
    expect(done.error_code).toBe('E_TIMEOUT');
    expect(done.summary).toContain('silence timeout');
    expect(done.summary).toContain('last API error: HTTP 503');
    expect(done.summary).toContain('upstream busy (fake)');
    expect(processesIn(ws)).toEqual([]);
  }, 180_000);

  it('continues an earlier session with --resume: the reviewer comment follows the whole conversation', async () => {
    api.enqueue({ kind: 'text', text: 'First version done.' });
    const first = await collect(
      engine(),
      request({ workspace: ws, prompt: 'Write the parser FIRST-PROMPT', env: env(), tool_gate: allowAll, run_timeout_ms: 120_000 }),
    );
    expect(doneOf(first).ok).toBe(true);
    const info = first.find((e) => e.type === 'info' && e.session_id);
    const session = info?.type === 'info' ? info.session_id : undefined;
    expect(session).toMatch(/^[0-9a-f-]{36}$/);
    api.enqueue(
      { kind: 'tool', name: 'Write', input: { file_path: join(ws, 'review.txt'), content: 'fixed\n' } },
      { kind: 'text', text: 'Addressed the review.' },
    );
    const second = await collect(
      engine(),
      request({
        workspace: ws,
        prompt: 'Reviewer: handle empty input REVIEW-COMMENT',
        env: env(),
        tool_gate: allowAll,
        resume_session: session ?? null,
        run_timeout_ms: 120_000,
      }),
    );
    expect(doneOf(second).ok).toBe(true);
    expect(readFileSync(join(ws, 'review.txt'), 'utf8')).toBe('fixed\n');
    const resumed = JSON.stringify(api.modelRequests().at(-2)?.body);
    expect(resumed).toContain('FIRST-PROMPT');
    expect(resumed).toContain('First version done.');
    expect(resumed).toContain('REVIEW-COMMENT');
  }, 240_000);

  it('cancel leaves no process behind', async () => {
    api.enqueue({ kind: 'stall', text: 'Thinking' });
    const ac = new AbortController();
    const run = collect(engine(), request({ workspace: ws, env: env(), tool_gate: allowAll, signal: ac.signal, run_timeout_ms: 120_000 }));
    await waitFor(() => api.modelRequests().length > 0, 'the CLI reached the fake model server', 90_000);
    const pids = processesIn(ws);
    expect(pids.length).toBeGreaterThan(0);
    // The task's remaining budget is the CLI's own second guard.
    const argv = pids.map((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0'));
    expect(argv.some((a) => a[a.indexOf('--max-budget-usd') + 1] === '1')).toBe(true);
    ac.abort();
    const done = doneOf(await run);
    expect(done.error_code).toBe('E_CANCELLED');
    await waitFor(() => processesIn(ws).length === 0, 'no process of the attempt left', 10_000);
  }, 180_000);
});
