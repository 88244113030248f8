import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOpenAIEngine, type OpenAIEngineOptions } from '../../src/engines/openai.js';
import { collect, doneOf, lastCost, lastUsage, outputText, realPricing, request, streamedText, tempDir } from '../helpers/engine-harness.js';
import { diffAnswer, startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai-server.js';

let server: FakeOpenAI;
beforeEach(async () => {
  server = await startFakeOpenAI();
});
afterEach(async () => {
  await server.close();
});

function groq(over: Partial<OpenAIEngineOptions> = {}) {
  return createOpenAIEngine({
    name: 'groq',
    baseUrl: server.baseUrl,
    apiKey: 'gsk_test_key',
    apiKeyEnv: 'GROQ_API_KEY',
    defaultModel: 'llama-3.3-70b-versatile',
    pricing: realPricing(),
    retryBaseMs: 10,
    retryMaxMs: 50,
    random: () => 1,
    ...over,
  });
}

async function gitRepo(files: Record<string, string>): Promise<string> {
  const dir = await tempDir('colony-diff-');
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, env: { ...process.env, LC_ALL: 'C' } });
  git('init', '-q', '.');
  git('add', '.');
  git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-qm', 'init');
  return dir;
}

describe('openai-compatible engine against a fake Groq server', () => {
  it('streams the answer, sends a well-formed request, and prices the reported usage', async () => {
    const ws = await tempDir();
    server.enqueue({ kind: 'stream', usage: 'x_groq', prompt_tokens: 1000, completion_tokens: 500 });
    const events = await collect(groq(), request({ workspace: ws, prompt: 'Say hello' }));

    const done = doneOf(events);
    expect(done.ok).toBe(true);
    expect(done.summary).toBe('Hello from the fake server.');
    expect(streamedText(events)).toBe('Hello from the fake server.');
    expect(lastUsage(events)?.usage).toEqual({ input: 1000, output: 500, cache_read: 0, cache_write: 0 });
    // llama-3.3-70b-versatile: 1000 × $0.59 + 500 × $0.79 per million
    expect(lastCost(events)).toEqual({ type: 'cost', usd: 0.000985, source: 'priced' });

    expect(server.requests).toHaveLength(1);
    const r = server.requests[0];
    expect(r?.url).toBe('/openai/v1/chat/completions');
    expect(r?.headers.authorization).toBe('Bearer gsk_test_key');
    expect(r?.body).toMatchObject({ model: 'llama-3.3-70b-versatile', stream: true, stream_options: { include_usage: true } });
    const body = r?.body as { messages: { role: string; content: string }[]; max_tokens: number };
    expect(body.messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(body.messages[0]?.content).toContain('```');
    expect(body.messages[0]?.content).toContain('diff');
    expect(body.messages[1]?.content).toBe('Say hello');
    expect(body.max_tokens).toBeGreaterThan(0);
  });

  it('reads usage from an OpenAI-style final usage chunk and counts cached tokens apart', async () => {
    const ws = await tempDir();
    server.enqueue({ kind: 'stream', usage: 'usage', prompt_tokens: 300, completion_tokens: 20, cached_tokens: 100 });
    const events = await collect(groq({ defaultModel: 'llama-3.1-8b-instant' }), request({ workspace: ws }));
    expect(doneOf(events).ok).toBe(true);
    expect(lastUsage(events)?.usage).toEqual({ input: 200, output: 20, cache_read: 100, cache_write: 0 });
    expect(lastCost(events)?.source).toBe('priced');
  });

  it('reports cost as unknown (null), not 0, for a model without a price', async () => {
    const ws = await tempDir();
    const events = await collect(groq({ defaultModel: 'mystery-model' }), request({ workspace: ws }));
    expect(doneOf(events).ok).toBe(true);
    expect(lastCost(events)).toEqual({ type: 'cost', usd: null, source: 'unknown' });
  });

  it('waits out a 429 with Retry-After, then succeeds', async () => {
    const ws = await tempDir();
    server.enqueue({
      kind: 'status',
      status: 429,
      headers: { 'retry-after': '1' },
      body: { error: { message: 'Rate limit reached for model', type: 'tokens' } },
    });
    const started = Date.now();
    const events = await collect(groq(), request({ workspace: ws }));
    expect(doneOf(events).ok).toBe(true);
    expect(server.requests).toHaveLength(2);
    const gap = (server.requests[1]?.at ?? 0) - (server.requests[0]?.at ?? 0);
    expect(gap).toBeGreaterThanOrEqual(900);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(outputText(events)).toContain('HTTP 429');
  });

  it('gives up with E_ENGINE_RATE_LIMITED when Retry-After is longer than it will wait', async () => {
    const ws = await tempDir();
    server.enqueue({ kind: 'status', status: 429, headers: { 'retry-after': '3600' } });
    const done = doneOf(await collect(groq({ maxRetryAfterMs: 5_000 }), request({ workspace: ws })));
    expect(done).toMatchObject({ ok: false, error_code: 'E_ENGINE_RATE_LIMITED' });
    expect(done.summary).toContain('Retry-After');
    expect(server.requests).toHaveLength(1);
  });

  it('retries 5xx with backoff and succeeds', async () => {
    const ws = await tempDir();
    server.enqueue({ kind: 'status', status: 500 }, { kind: 'status', status: 503 });
    const events = await collect(groq(), request({ workspace: ws }));
    expect(doneOf(events).ok).toBe(true);
    expect(server.requests).toHaveLength(3);
  });

  it('fails with E_ENGINE after the last 5xx retry', async () => {
    const ws = await tempDir();
    server.enqueue(...Array.from({ length: 5 }, () => ({ kind: 'status' as const, status: 502 })));
    const done = doneOf(await collect(groq({ maxRetries: 2 }), request({ workspace: ws })));
    expect(done).toMatchObject({ ok: false, error_code: 'E_ENGINE' });
    expect(done.summary).toContain('after 3 attempt(s)');
    expect(server.requests).toHaveLength(3);
  });

  it('does not retry a 401 and names the key variable', async () => {
    const ws = await tempDir();
    server.enqueue({ kind: 'status', status: 401, body: { error: { message: 'Invalid API Key', type: 'invalid_request_error', code: 'invalid_api_key' } } });
    const done = doneOf(await collect(groq(), request({ workspace: ws })));
    expect(done).toMatchObject({ ok: false, error_code: 'E_ENGINE_AUTH' });
    expect(done.summary).toContain('Invalid API Key');
    expect(done.summary).toContain('GROQ_API_KEY');
    expect(server.requests).toHaveLength(1);
  });

  it('does not retry a 400 and reports it as bad input', async () => {
    const ws = await tempDir();
    server.enqueue({ kind: 'status', status: 400, body: { error: { message: 'The model `nope` does not exist' } } });
    const done = doneOf(await collect(groq(), request({ workspace: ws })));
    expect(done).toMatchObject({ ok: false, error_code: 'E_BAD_INPUT' });
    expect(done.summary).toContain('does not exist');
    expect(server.requests).toHaveLength(1);
  });

  it('fails without calling the server when the API key is not set', async () => {
    const ws = await tempDir();
    const done = doneOf(await collect(groq({ apiKey: null }), request({ workspace: ws })));
    expect(done).toMatchObject({ ok: false, error_code: 'E_ENGINE_AUTH' });
    expect(done.summary).toContain('GROQ_API_KEY is not set');
    expect(server.requests).toHaveLength(0);
  });

  it('fails clearly on a malformed chunk', async () => {
    const ws = await tempDir();
    server.enqueue({ kind: 'malformed', after_chunks: 2 });
    const events = await collect(groq(), request({ workspace: ws }));
    const done = doneOf(events);
    expect(done).toMatchObject({ ok: false, error_code: 'E_ENGINE' });
    expect(done.summary).toContain('malformed stream chunk');
    expect(outputText(events)).toContain('part 1');
  });

  it('fails on an error object in the middle of the stream', async () => {
    const ws = await tempDir();
    server.enqueue({ kind: 'error-chunk', message: 'model overloaded' });
    const done = doneOf(await collect(groq(), request({ workspace: ws })));
    expect(done).toMatchObject({ ok: false, error_code: 'E_ENGINE' });
    expect(done.summary).toContain('model overloaded');
  });

  it('fails when the stream ends before the answer is complete', async () => {
    const ws = await tempDir();
    server.enqueue({ kind: 'truncated' });
    const done = doneOf(await collect(groq(), request({ workspace: ws })));
    expect(done).toMatchObject({ ok: false, error_code: 'E_ENGINE' });
    expect(done.summary).toContain('ended before');
  });

  it('times out on a stalled stream (silence) while the wall clock has time left', async () => {
    const ws = await tempDir();
    server.enqueue({ kind: 'stall', after_chunks: 1 });
    const done = doneOf(await collect(groq(), request({ workspace: ws, silence_timeout_ms: 300, run_timeout_ms: 60_000 })));
    expect(done).toMatchObject({ ok: false, error_code: 'E_TIMEOUT' });
    expect(done.summary).toContain('silence');
  });

  it('times out on the wall clock while chunks keep coming', async () => {
    const ws = await tempDir();
    server.enqueue({ kind: 'stream', content: Array.from({ length: 100 }, (_, i) => `w${i} `), chunk_delay_ms: 50 });
    const events = await collect(groq(), request({ workspace: ws, silence_timeout_ms: 1_000, run_timeout_ms: 500 }));
    const done = doneOf(events);
    expect(done).toMatchObject({ ok: false, error_code: 'E_TIMEOUT' });
    expect(done.summary).toContain('run timeout');
    expect(outputText(events)).toContain('w1');
  });

  it('stops on abort mid-stream', async () => {
    const ws = await tempDir();
    server.enqueue({ kind: 'stall', after_chunks: 1 });
    const ac = new AbortController();
    const done = doneOf(await collect(groq(), request({ workspace: ws, signal: ac.signal }), (e) => e.type === 'output' && ac.abort()));
    expect(done).toMatchObject({ ok: false, error_code: 'E_CANCELLED' });
  });

  it('caps max_tokens by the budget and refuses a budget too small to answer', async () => {
    const ws = await tempDir();
    await collect(groq(), request({ workspace: ws, budget_usd: 0.001 }));
    const body = server.requests[0]?.body as { max_tokens: number };
    // $0.001 minus the prompt, at $0.79 per million output tokens: well under the 8192 default.
    expect(body.max_tokens).toBeLessThan(1266);
    expect(body.max_tokens).toBeGreaterThan(256);

    const done = doneOf(await collect(groq(), request({ workspace: ws, budget_usd: 0.0000001 })));
    expect(done).toMatchObject({ ok: false, error_code: 'E_BUDGET' });
    expect(server.requests).toHaveLength(1);
  });

  it('applies a fenced diff from the answer to a git workspace', async () => {
    const ws = await gitRepo({ 'notes.txt': 'line one\nline two\nline three\n' });
    server.enqueue({ kind: 'stream', content: diffAnswer('notes.txt', 'line two', 'line 2') });
    const events = await collect(groq(), request({ workspace: ws, prompt: 'In notes.txt write 2 as a digit' }));
    const done = doneOf(events);
    expect(done).toMatchObject({ ok: true });
    expect(done.summary).toContain('applied diff to 1 file(s): notes.txt');
    expect(await readFile(join(ws, 'notes.txt'), 'utf8')).toBe('line one\nline 2\nline three\n');
    // The file named in the task was sent to the model so it can write a diff that applies.
    const user = (server.requests[0]?.body as { messages: { content: string }[] }).messages[1]?.content ?? '';
    expect(user).toContain('File: notes.txt');
    expect(user).toContain('line two');
  });

  it('fails with git’s reason when the diff does not apply, leaving the file alone', async () => {
    const ws = await gitRepo({ 'notes.txt': 'line one\nsomething else\nline three\n' });
    server.enqueue({ kind: 'stream', content: diffAnswer('notes.txt', 'line two', 'line 2') });
    const done = doneOf(await collect(groq(), request({ workspace: ws })));
    expect(done).toMatchObject({ ok: false, error_code: 'E_CONFLICT' });
    expect(done.summary).toContain('notes.txt');
    expect(done.summary).toMatch(/patch failed|does not apply/);
    expect(await readFile(join(ws, 'notes.txt'), 'utf8')).toBe('line one\nsomething else\nline three\n');
  });

  it('refuses a diff that reaches outside the workspace', async () => {
    const ws = await gitRepo({ 'a.txt': 'x\n' });
    server.enqueue({ kind: 'stream', content: ['```diff\n--- /dev/null\n+++ b/../escape.txt\n@@ -0,0 +1 @@\n+owned\n```\n'] });
    const done = doneOf(await collect(groq(), request({ workspace: ws })));
    expect(done).toMatchObject({ ok: false, error_code: 'E_CONFLICT' });
    expect(done.summary).toContain("'..' is not allowed");
  });

  it('retries a refused connection, then reports it', async () => {
    const ws = await tempDir();
    const url = server.baseUrl;
    await server.close();
    const e = groq({ baseUrl: url, maxRetries: 1 });
    const done = doneOf(await collect(e, request({ workspace: ws })));
    expect(done).toMatchObject({ ok: false, error_code: 'E_ENGINE' });
    expect(done.summary).toContain('after 2 attempt(s)');
    server = await startFakeOpenAI(); // for afterEach
  });
});
