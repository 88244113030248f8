import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildClaudeArgs, createClaudeEngine, type ClaudeEngineOptions } from '../../src/engines/claude-cli.js';
import { loadPriceTable } from '../../src/core/pricing.js';
import { collect, doneOf, isAlive, lastCost, lastUsage, outputText, readJson, realPricing, request, tempDir } from '../helpers/engine-harness.js';
import { waitFor } from '../helpers/proc.js';

const FAKE = fileURLToPath(new URL('../fixtures/fake-claude.mjs', import.meta.url));

function engine(over: Partial<ClaudeEngineOptions> = {}) {
  return createClaudeEngine({
    bin: FAKE,
    defaultModel: 'sonnet',
    permissionMode: 'acceptEdits',
    allowedTools: [],
    extraArgs: [],
    pricing: realPricing(),
    killGraceMs: 500,
    ...over,
  });
}

function env(scenario: string, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', FAKE_CLAUDE_SCENARIO: scenario, ...extra };
}

describe('claude engine against the fake CLI', () => {
  it('runs in the workspace, passes the flags, and reports the CLI cost and usage', async () => {
    const ws = await tempDir();
    const argvFile = join(ws, '..', `argv-${Date.now()}.json`);
    const e = engine({ allowedTools: ['Read', 'Bash(git diff:*)'], extraArgs: ['--max-turns', '5'] });
    const events = await collect(
      e,
      request({ workspace: ws, prompt: '-starts with a dash', model: 'haiku', env: env('success', { FAKE_CLAUDE_ARGV_FILE: argvFile }) }),
    );

    const done = doneOf(events);
    expect(done.ok).toBe(true);
    expect(done.summary).toContain('Created hello.txt.');
    expect(await readFile(join(ws, 'hello.txt'), 'utf8')).toBe('hello\n');

    const rec = await readJson<{ argv: string[]; cwd: string }>(argvFile);
    expect(rec.cwd).toBe(ws);
    expect(rec.argv.slice(0, 6)).toEqual(['-p', '--output-format', 'stream-json', '--verbose', '--model', 'haiku']);
    expect(rec.argv).toContain('--permission-mode');
    expect(rec.argv.slice(rec.argv.indexOf('--allowedTools') + 1, rec.argv.indexOf('--allowedTools') + 3)).toEqual(['Read', 'Bash(git diff:*)']);
    expect(rec.argv.slice(-4)).toEqual(['--max-turns', '5', '--', '-starts with a dash']);

    const info = events.find((x) => x.type === 'info' && x.session_id);
    expect(info).toMatchObject({ type: 'info', engine: 'claude', model: 'claude-haiku-4-5-20251001', session_id: '40e7b02d-c0f9-4876-9010-f514d4eb0603' });
    expect(lastCost(events)).toEqual({ type: 'cost', usd: 0.0687, source: 'reported' });
    expect(lastUsage(events)?.usage).toEqual({ input: 18, output: 424, cache_read: 17254, cache_write: 25067 });
    const text = outputText(events);
    expect(text).toContain("I'll create the file.");
    expect(text).toContain('[tool] Write');
  });

  it('counts usage of a message split over several records once', async () => {
    const ws = await tempDir();
    const events = await collect(engine(), request({ workspace: ws, env: env('success') }));
    // The first usage event comes from msg_01A (seen twice); the second adds msg_01C.
    const usages = events.filter((x) => x.type === 'usage');
    expect(usages[0]).toEqual({ type: 'usage', usage: { input: 10, output: 4, cache_read: 17254, cache_write: 3556 } });
    expect(usages[1]).toEqual({ type: 'usage', usage: { input: 18, output: 424, cache_read: 17254, cache_write: 25067 } });
  });

  it('prices the usage when the CLI reports no cost, and reports null for an unknown model', async () => {
    const ws = await tempDir();
    const events = await collect(engine(), request({ workspace: ws, env: env('no-cost') }));
    expect(doneOf(events).ok).toBe(true);
    // sonnet = claude-sonnet-5 (as Claude Code 2.1.197 reports it): 10 in × $3 + 20 out × $15 + 1000 cache write × $3.75, per million
    expect(lastCost(events)).toEqual({ type: 'cost', usd: 0.00408, source: 'priced' });

    const unpriced = engine({ pricing: loadPriceTable({ unit: 'USD per million tokens', providers: {} }) });
    const events2 = await collect(unpriced, request({ workspace: ws, env: env('no-cost') }));
    expect(lastCost(events2)).toEqual({ type: 'cost', usd: null, source: 'unknown' });
  });

  it.each([
    ['error-during-execution', 'error_during_execution: Tool execution failed: npm test exited 1'],
    ['max-turns', 'claude stopped: error_max_turns'],
    ['api-error', 'claude reported an error: API Error: 529'],
  ])('fails on a %s result with the CLI reason', async (scenario, reason) => {
    const ws = await tempDir();
    const events = await collect(engine(), request({ workspace: ws, env: env(scenario) }));
    const done = doneOf(events);
    expect(done.ok).toBe(false);
    expect(done.error_code).toBe('E_ENGINE');
    expect(done.summary).toContain(reason);
  });

  it('reports a missing binary as E_ENGINE_MISSING naming CLAUDE_BIN', async () => {
    const ws = await tempDir();
    const e = engine({ bin: join(ws, 'no-such-claude') });
    const done = doneOf(await collect(e, request({ workspace: ws, env: env('success') })));
    expect(done).toMatchObject({ ok: false, error_code: 'E_ENGINE_MISSING' });
    expect(done.summary).toContain('CLAUDE_BIN');
  });

  it('fails on a non-zero exit without a result, with the stderr tail', async () => {
    const ws = await tempDir();
    const done = doneOf(await collect(engine(), request({ workspace: ws, env: env('exit-nonzero') })));
    expect(done).toMatchObject({ ok: false, error_code: 'E_ENGINE' });
    expect(done.summary).toContain('exited with code 2');
    expect(done.summary).toContain('Invalid API key');
  });

  it('fails when the CLI exits 0 without a result record', async () => {
    const ws = await tempDir();
    const done = doneOf(await collect(engine(), request({ workspace: ws, env: env('no-result') })));
    expect(done).toMatchObject({ ok: false, error_code: 'E_ENGINE' });
    expect(done.summary).toContain('without a result');
  });

  it('passes garbage lines through as output instead of crashing', async () => {
    const ws = await tempDir();
    const events = await collect(engine(), request({ workspace: ws, env: env('garbage') }));
    expect(doneOf(events).ok).toBe(true);
    const stderr = events.filter((x) => x.type === 'output' && x.stream === 'stderr').map((x) => (x.type === 'output' ? x.text : ''));
    expect(stderr).toContain('Warning: running in an unsupported terminal');
    expect(stderr.some((l) => l.startsWith('{"type":"assistant","message":{"content":[{"type":"text","text":"trunc'))).toBe(true);
    expect(outputText(events)).toContain('Still fine.');
  });

  it('stops the run once the priced cost reaches the budget, and kills its process group', async () => {
    const ws = await tempDir();
    const pidFile = join(ws, 'pids.json');
    // Each turn writes 200k cache tokens at $2.50/M = $0.50 a turn.
    const events = await collect(engine(), request({ workspace: ws, budget_usd: 1.2, env: env('budget-growing', { FAKE_CLAUDE_PID_FILE: pidFile }) }));
    const done = doneOf(events);
    expect(done).toMatchObject({ ok: false, error_code: 'E_BUDGET' });
    expect(done.summary).toMatch(/spent \$1\.5\d* reached the budget of \$1\.20/);
    const cost = lastCost(events);
    expect(cost?.source).toBe('priced');
    expect(cost?.usd).toBeGreaterThanOrEqual(1.2);
    expect(cost?.usd).toBeLessThan(2.5); // stopped promptly, not after 400 turns
    const pids = await readJson<{ pid: number; child: number }>(pidFile);
    await waitFor(() => !isAlive(pids.pid) && !isAlive(pids.child), 'the CLI and its child to be gone', 5_000);
  });

  it('fails with E_BUDGET when the reported cost in the result is over the budget', async () => {
    const ws = await tempDir();
    const events = await collect(engine(), request({ workspace: ws, budget_usd: 0.5, env: env('budget-result') }));
    expect(doneOf(events)).toMatchObject({ ok: false, error_code: 'E_BUDGET' });
    expect(lastCost(events)).toEqual({ type: 'cost', usd: 12.5, source: 'reported' });
  });

  it('treats a result that costs exactly the budget as exhausted (spent >= budget)', async () => {
    const ws = await tempDir();
    const at = await collect(engine(), request({ workspace: ws, budget_usd: 0.0687, env: env('success') }));
    expect(doneOf(at)).toMatchObject({ ok: false, error_code: 'E_BUDGET' });
    const under = await collect(engine(), request({ workspace: ws, budget_usd: 0.2, env: env('success') })); // above the reported $0.0687 and the mid-run estimate at claude-sonnet-5 prices
    expect(doneOf(under).ok).toBe(true);
  });

  it('aborts on the signal by killing the whole process group', async () => {
    const ws = await tempDir();
    const pidFile = join(ws, 'pids.json');
    const ac = new AbortController();
    const run = collect(engine(), request({ workspace: ws, signal: ac.signal, env: env('stall', { FAKE_CLAUDE_PID_FILE: pidFile }) }));
    await waitFor(() => existsSync(pidFile), 'the pid file', 10_000);
    const pids = await readJson<{ pid: number; child: number }>(pidFile);
    expect(isAlive(pids.pid) && isAlive(pids.child)).toBe(true);
    ac.abort();
    const done = doneOf(await run);
    expect(done).toMatchObject({ ok: false, error_code: 'E_CANCELLED' });
    await waitFor(() => !isAlive(pids.pid) && !isAlive(pids.child), 'the CLI and its child to be gone', 5_000);
  });

  it('escalates to SIGKILL when the CLI ignores SIGTERM', async () => {
    const ws = await tempDir();
    const pidFile = join(ws, 'pids.json');
    const ac = new AbortController();
    const started = Date.now();
    const run = collect(
      engine({ killGraceMs: 300 }),
      request({ workspace: ws, signal: ac.signal, env: env('ignore-sigterm', { FAKE_CLAUDE_PID_FILE: pidFile }) }),
    );
    await waitFor(() => existsSync(pidFile), 'the pid file', 10_000);
    const pids = await readJson<{ pid: number; child: number }>(pidFile);
    ac.abort();
    expect(doneOf(await run).error_code).toBe('E_CANCELLED');
    expect(Date.now() - started).toBeLessThan(10_000);
    await waitFor(() => !isAlive(pids.pid), 'the CLI to be gone', 5_000);
  });

  it('times out on silence even though the wall clock has time left', async () => {
    const ws = await tempDir();
    const done = doneOf(await collect(engine(), request({ workspace: ws, silence_timeout_ms: 400, run_timeout_ms: 60_000, env: env('stall') })));
    expect(done).toMatchObject({ ok: false, error_code: 'E_TIMEOUT' });
    expect(done.summary).toContain('silence');
  });

  it('times out on the wall clock while the CLI keeps printing', async () => {
    const ws = await tempDir();
    const events = await collect(engine(), request({ workspace: ws, silence_timeout_ms: 1_000, run_timeout_ms: 800, env: env('slow') }));
    const done = doneOf(events);
    expect(done).toMatchObject({ ok: false, error_code: 'E_TIMEOUT' });
    expect(done.summary).toContain('run timeout');
    expect(outputText(events)).toContain('still working');
  });

  it('sends a prompt too long for argv through stdin', async () => {
    const ws = await tempDir();
    const argvFile = join(ws, 'argv.json');
    const prompt = 'x'.repeat(150_000);
    const events = await collect(engine(), request({ workspace: ws, prompt, env: env('echo-prompt', { FAKE_CLAUDE_ARGV_FILE: argvFile }) }));
    expect(doneOf(events).summary).toContain('prompt length 150000');
    const rec = await readJson<{ argv: string[] }>(argvFile);
    expect(rec.argv).not.toContain('--');
  });

  it('does not start when the signal is already aborted', async () => {
    const ws = await tempDir();
    const ac = new AbortController();
    ac.abort();
    const done = doneOf(await collect(engine(), request({ workspace: ws, signal: ac.signal, env: env('success') })));
    expect(done.error_code).toBe('E_CANCELLED');
    expect(existsSync(join(ws, 'hello.txt'))).toBe(false);
  });

  it('builds the documented command line', () => {
    const args = buildClaudeArgs(
      { defaultModel: 'sonnet', permissionMode: 'acceptEdits', allowedTools: [], extraArgs: [], pricing: realPricing() },
      'opus',
      'fix it',
    );
    expect(args).toEqual(['-p', '--output-format', 'stream-json', '--verbose', '--model', 'opus', '--permission-mode', 'acceptEdits', '--', 'fix it']);
  });
});
