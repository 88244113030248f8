import { describe, expect, it } from 'vitest';
import { newClaudeStreamState, parseClaudeLine, streamUsage } from '../../src/engines/claude-stream.js';
import { checkPatch, extractDiffBlocks, unsafePath } from '../../src/engines/diff-apply.js';
import { isShareablePath } from '../../src/engines/file-context.js';
import { backoffMs, classifyStatus, errorCodeFor, errorMessageOf, parseRetryAfter } from '../../src/engines/http-retry.js';
import { applyChunk, newChunkState, sseParser } from '../../src/engines/sse.js';

describe('http failure classification', () => {
  it('classifies statuses the way CONVENTIONS example 9 asks', () => {
    expect([429, 500, 503, 401, 403, 400, 422, 404, 418].map(classifyStatus)).toEqual([
      'rate_limited',
      'server',
      'server',
      'auth',
      'auth',
      'bad_request',
      'bad_request',
      'bad_request',
      'other',
    ]);
    expect(errorCodeFor('auth')).toBe('E_ENGINE_AUTH');
    expect(errorCodeFor('rate_limited')).toBe('E_ENGINE_RATE_LIMITED');
    expect(errorCodeFor('bad_request')).toBe('E_BAD_INPUT');
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('Wed, 25 Nov 2026 12:00:00 GMT');
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter('0.5', now)).toBe(500);
    expect(parseRetryAfter('Wed, 25 Nov 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 25 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });

  it('backs off exponentially with a cap and jitter in [50%, 100%]', () => {
    expect(backoffMs(0, 500, 8000, () => 1)).toBe(500);
    expect(backoffMs(3, 500, 8000, () => 1)).toBe(4000);
    expect(backoffMs(10, 500, 8000, () => 1)).toBe(8000);
    expect(backoffMs(3, 500, 8000, () => 0)).toBe(2000);
  });

  it('extracts the provider message from an error body', () => {
    expect(errorMessageOf('{"error":{"message":"Invalid API Key","type":"invalid_request_error"}}')).toBe('Invalid API Key');
    expect(errorMessageOf('<html>bad gateway</html>')).toBe('<html>bad gateway</html>');
  });
});

describe('SSE and chat chunks', () => {
  it('parses data fields across chunk boundaries, CRLF, comments and multi-line data', () => {
    const got: string[] = [];
    const p = sseParser((d) => got.push(d));
    p.push(': keep-alive\r\n\r\ndata: {"a"');
    p.push(':1}\r\n\r\nevent: x\ndata: line1\ndata: line2\n\n');
    p.push('data: [DONE]');
    p.flush();
    expect(got).toEqual(['{"a":1}', 'line1\nline2', '[DONE]']);
  });

  it('accumulates text, finish reason and Groq x_groq usage', () => {
    const s = newChunkState();
    expect(applyChunk(s, '{"object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}')).toEqual({
      kind: 'none',
    });
    expect(applyChunk(s, '{"choices":[{"index":0,"delta":{"content":"Hi"}}]}')).toEqual({ kind: 'text', text: 'Hi' });
    applyChunk(
      s,
      '{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"x_groq":{"id":"req_1","usage":{"prompt_tokens":20,"completion_tokens":1,"total_tokens":21}}}',
    );
    expect(s).toMatchObject({ text: 'Hi', finish_reason: 'stop', model: 'm', usage: { prompt_tokens: 20, completion_tokens: 1, cached_tokens: 0 } });
    expect(applyChunk(s, '[DONE]')).toEqual({ kind: 'done' });
  });

  it('accepts an OpenAI usage chunk with empty choices and reports broken chunks', () => {
    const s = newChunkState();
    expect(applyChunk(s, '{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":3}}}').kind).toBe('none');
    expect(s.usage).toEqual({ prompt_tokens: 5, completion_tokens: 2, cached_tokens: 3 });
    expect(applyChunk(s, '{"choices":[{"delta":{"content":"x').kind).toBe('error');
    expect(applyChunk(s, '{"id":"x"}')).toMatchObject({ kind: 'error', message: expect.stringContaining('no choices') });
    expect(applyChunk(s, '{"error":{"message":"overloaded"}}')).toMatchObject({ kind: 'error', message: expect.stringContaining('overloaded') });
  });
});

describe('claude stream-json records', () => {
  it('reads init, text, tool use, tool results and the result; ignores unknown types', () => {
    const st = newClaudeStreamState();
    const ev = (l: string) => parseClaudeLine(l, st).events;
    expect(ev('{"type":"system","subtype":"init","session_id":"s1","model":"claude-haiku-5-5","tools":[]}')).toEqual([
      { type: 'info', engine: 'claude', model: 'claude-haiku-5-5', session_id: 's1' },
    ]);
    expect(
      ev(
        '{"type":"assistant","message":{"id":"m1","content":[{"type":"tool_use","id":"t","name":"Bash","input":{"command":"npm test"}}],"usage":{"input_tokens":3,"output_tokens":4}}}',
      ),
    ).toEqual([{ type: 'output', stream: 'stdout', text: '[tool] Bash npm test' }]);
    expect(ev('{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"3 passed"}]}]}}')).toEqual([
      { type: 'output', stream: 'stdout', text: '[tool result] 3 passed' },
    ]);
    expect(ev('{"type":"stream_event","event":{}}')).toEqual([]);
    expect(ev('{"type":"system","subtype":"compact_boundary"}')).toEqual([]);
    ev('{"type":"result","subtype":"error_max_turns","is_error":true,"errors":[],"num_turns":3}');
    expect(st.result).toMatchObject({ subtype: 'error_max_turns', is_error: true, total_cost_usd: null, num_turns: 3 });
  });

  it('counts one usage per message id', () => {
    const st = newClaudeStreamState();
    const line =
      '{"type":"assistant","message":{"id":"m1","content":[],"usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":100,"cache_creation_input_tokens":50}}}';
    expect(parseClaudeLine(line, st).usage_changed).toBe(true);
    expect(parseClaudeLine(line, st).usage_changed).toBe(false);
    expect(streamUsage(st)).toEqual({ input: 10, output: 5, cache_read: 100, cache_write: 50 });
  });

  it('passes non-JSON and non-object lines through as stderr output', () => {
    const st = newClaudeStreamState();
    expect(parseClaudeLine('Error: boom', st).events).toEqual([{ type: 'output', stream: 'stderr', text: 'Error: boom' }]);
    expect(parseClaudeLine('42', st).events).toEqual([{ type: 'output', stream: 'stderr', text: '42' }]);
    expect(parseClaudeLine('   ', st).events).toEqual([]);
  });
});

describe('diff extraction and path checks', () => {
  it('takes ```diff, ```patch and ~~~diff blocks and nothing else', () => {
    const answer = [
      'Here:',
      '```ts',
      'const x = 1;',
      '```',
      '```diff',
      '--- a/x',
      '+++ b/x',
      '@@ -1 +1 @@',
      '-a',
      '+b',
      '```',
      '~~~patch',
      '--- a/y',
      '+++ b/y',
      '@@ -1 +1 @@',
      '-c',
      '+d',
      '~~~',
      '````diff',
      '--- a/z.md',
      '+++ b/z.md',
      '@@ -1 +1,2 @@',
      ' x',
      '+```',
      '````',
    ].join('\n');
    const blocks = extractDiffBlocks(answer);
    expect(blocks).toHaveLength(3);
    expect(blocks[0]).toBe('--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n');
    expect(blocks[2]).toContain('+```');
  });

  it('keeps an unterminated last block (a truncated answer)', () => {
    expect(extractDiffBlocks('```diff\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b')).toHaveLength(1);
  });

  it('detects git-style prefixes and refuses unsafe paths', () => {
    expect(checkPatch('--- a/src/x.ts\n+++ b/src/x.ts\n@@ -1 +1 @@\n-a\n+b\n')).toEqual({ ok: true, strip: 1, paths: ['src/x.ts'] });
    expect(checkPatch('--- /dev/null\n+++ b/new.ts\n@@ -0,0 +1 @@\n+a\n')).toEqual({ ok: true, strip: 1, paths: ['new.ts'] });
    expect(checkPatch('--- src/x.ts\n+++ src/x.ts\n@@ -1 +1 @@\n-a\n+b\n')).toEqual({ ok: true, strip: 0, paths: ['src/x.ts'] });
    expect(checkPatch('--- a/x\t2024-01-01\n+++ b/x\t2024-01-02\n@@ -1 +1 @@\n-a\n+b\n')).toMatchObject({ ok: true, paths: ['x'] });
    expect(checkPatch('--- /etc/passwd\n+++ /etc/passwd\n@@ -1 +1 @@\n-a\n+b\n')).toMatchObject({ ok: false, reason: expect.stringContaining('absolute') });
    expect(checkPatch('--- a/../x\n+++ b/../x\n@@ -1 +1 @@\n-a\n+b\n')).toMatchObject({ ok: false, reason: expect.stringContaining('..') });
    expect(checkPatch('--- a/.git/config\n+++ b/.git/config\n@@ -1 +1 @@\n-a\n+b\n')).toMatchObject({ ok: false, reason: expect.stringContaining('.git') });
    expect(checkPatch('just +/- lines\n-a\n+b\n')).toMatchObject({ ok: false, reason: expect.stringContaining('no file headers') });
    expect(checkPatch('--- a/x\n+++ b/x\n-a\n+b\n')).toMatchObject({ ok: false, reason: expect.stringContaining('no hunks') });
    expect(unsafePath('C:\\x')).not.toBeNull();
  });

  it('shares only ordinary files named in the task with an API model', () => {
    expect(isShareablePath('src/app.ts')).toBe(true);
    for (const p of ['.env', 'config/.env.local', 'keys/id_rsa', 'certs/server.pem', 'secrets.json', 'app.key', '../x.ts', '.ssh/config', 'private-key.txt']) {
      expect(isShareablePath(p), p).toBe(false);
    }
  });
});
