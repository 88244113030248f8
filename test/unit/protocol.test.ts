import { describe, expect, it } from 'vitest';
import {
  acceptsFrom,
  encodeMessage,
  MAX_MESSAGE_BYTES,
  MAX_PROMPT_BYTES,
  MESSAGE_TYPES,
  negotiateVersion,
  parseMessage,
  PROTOCOL_VERSION,
  utf8Length,
} from '../../src/core/protocol.js';
import { samples, tokens } from '../helpers/protocol-samples.js';
import { mulberry32 } from '../../src/core/rng.js';

function parse(value: unknown) {
  return parseMessage(JSON.stringify(value));
}

describe('protocol messages', () => {
  it('round-trips a valid example of every message type through encode and parse', () => {
    const all = samples();
    expect(Object.keys(all).sort()).toEqual([...MESSAGE_TYPES].sort());
    for (const msg of Object.values(all)) {
      const r = parseMessage(encodeMessage(msg));
      expect(r, msg.type).toEqual({ ok: true, msg });
    }
  });

  it('accepts frames as Buffer, ArrayBuffer and fragment lists', () => {
    const text = encodeMessage(samples().HELLO);
    const buf = Buffer.from(text);
    expect(parseMessage(buf).ok).toBe(true);
    expect(parseMessage(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)).ok).toBe(true);
    expect(parseMessage([buf.subarray(0, 5), buf.subarray(5)]).ok).toBe(true);
  });

  it('refuses unknown fields at the top level and inside nested objects', () => {
    const s = samples();
    const cases: unknown[] = [
      { ...s.HELLO, admin: true },
      { ...s.TASK_ASSIGNED, task: { prompt: 'x', title: 'y', env: { A: '1' } } },
      { ...s.TASK_COMPLETED, tokens: { ...tokens, bonus: 1 } },
      { ...s.HEARTBEAT, running: [{ task_id: 't', attempt: 1, worker_id: 'other' }] },
      JSON.parse('{"type":"AUTH_FAILED","reason":"x","__proto__":{"polluted":true}}'),
    ];
    for (const c of cases) {
      const r = parse(c);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.code).toBe('invalid_message');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses unknown, missing and non-string types with unknown_type', () => {
    for (const v of [{ type: 'TASK_EXPLODE' }, { task_id: 't' }, { type: 7 }, { type: 'hello' }]) {
      const r = parse(v);
      expect(r.ok ? 'ok' : r.code).toBe('unknown_type');
    }
  });

  it('refuses non-JSON, invalid UTF-8 and non-object JSON', () => {
    expect(parseMessage('{"type":')).toMatchObject({ ok: false, code: 'bad_json' });
    expect(parseMessage(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))).toMatchObject({ ok: false, code: 'bad_json' });
    for (const raw of ['[]', 'null', '"HELLO"', '42']) expect(parseMessage(raw)).toMatchObject({ ok: false, code: 'invalid_message' });
  });

  it('refuses frames over the byte limit before parsing them', () => {
    const big = JSON.stringify({ ...samples().AUTH_FAILED, reason: 'x'.repeat(600) });
    expect(parseMessage(big, 500)).toMatchObject({ ok: false, code: 'too_large' });
    expect(parseMessage(Buffer.from(big), 500)).toMatchObject({ ok: false, code: 'too_large' });
    expect(parseMessage([Buffer.from(big), Buffer.from(big)], 1000)).toMatchObject({ ok: false, code: 'too_large' });
    // Counted in UTF-8 bytes, not UTF-16 units: 200 euro signs are 600 bytes.
    expect(parseMessage(`"${'€'.repeat(200)}"`, 500)).toMatchObject({ ok: false, code: 'too_large' });
    expect(parseMessage('x'.repeat(MAX_MESSAGE_BYTES + 1))).toMatchObject({ ok: false, code: 'too_large' });
  });

  it('bounds the prompt at 64 KiB of UTF-8, whatever the characters', () => {
    const a = samples().TASK_ASSIGNED;
    expect(parse({ ...a, task: { ...a.task, prompt: 'p'.repeat(MAX_PROMPT_BYTES) } }).ok).toBe(true);
    expect(parse({ ...a, task: { ...a.task, prompt: 'p'.repeat(MAX_PROMPT_BYTES + 1) } }).ok).toBe(false);
    const multi = 'é'.repeat(MAX_PROMPT_BYTES / 2 + 1); // fewer chars than the limit, more bytes
    expect(parse({ ...a, task: { ...a.task, prompt: multi } }).ok).toBe(false);
    // Worst-case escaping of a maximal prompt still fits the frame limit.
    const ctrl = '\u0001'.repeat(MAX_PROMPT_BYTES);
    expect(parse({ ...a, task: { ...a.task, prompt: ctrl } }).ok).toBe(true);
  });

  it('refuses out-of-range numbers and malformed ids, nonces and signatures', () => {
    const s = samples();
    const bad: unknown[] = [
      { ...s.TASK_COMPLETED, cost: -0.01 },
      { ...s.TASK_COMPLETED, cost: '0.01' },
      { ...s.TASK_COMPLETED, cost: 1e300 },
      { ...s.TASK_COMPLETED, attempt: 0 },
      { ...s.TASK_COMPLETED, attempt: 1.5 },
      { ...s.TASK_COMPLETED, tokens: { ...tokens, input: -1 } },
      { ...s.TASK_ASSIGNED, budget: -1 },
      { ...s.TASK_ASSIGNED, lease_ms: 10 },
      { ...s.TASK_ASSIGNED, workspace: '' },
      { ...s.TASK_ASSIGNED, engine: 'Claude; rm -rf /' },
      { ...s.TASK_ACCEPTED, task_id: 'x'.repeat(129) },
      { ...s.TASK_ACCEPTED, task_id: 'a\nb' },
      { ...s.TASK_ACCEPTED, task_id: '' },
      { ...s.TASK_ACCEPTED, nonce: 'short' },
      { ...s.TASK_ACCEPTED, nonce: 'has spaces in the nonce!' },
      { ...s.TASK_ACCEPTED, sig: 'A'.repeat(85) },
      { ...s.TASK_ACCEPTED, sig: undefined },
      { ...s.TASK_PROGRESS, status: 'completed' },
      { ...s.HELLO, versions: [] },
      { ...s.ERROR, code: 'made_up' },
    ];
    for (const b of bad) expect(parse(b).ok, JSON.stringify(b).slice(0, 120)).toBe(false);
  });

  it('states which side may send each type', () => {
    expect(acceptsFrom('TASK_ASSIGNED', 'host')).toBe(true);
    expect(acceptsFrom('TASK_ASSIGNED', 'worker')).toBe(false);
    expect(acceptsFrom('TASK_COMPLETED', 'host')).toBe(false);
    expect(acceptsFrom('HEARTBEAT', 'worker')).toBe(true);
    expect(acceptsFrom('HEARTBEAT', 'host')).toBe(true);
  });

  it('counts UTF-8 bytes including surrogate pairs and lone surrogates', () => {
    for (const s of ['', 'abc', 'é', '€', '😀', 'a😀é', '\ud800', '\udc00x', '\ud800\ud800']) {
      expect(utf8Length(s), JSON.stringify(s)).toBe(Buffer.byteLength(s, 'utf8'));
    }
  });
});

describe('version negotiation', () => {
  it('picks the highest version both sides speak', () => {
    expect(negotiateVersion([PROTOCOL_VERSION])).toEqual({ ok: true, version: PROTOCOL_VERSION });
    expect(negotiateVersion([1])).toMatchObject({ ok: false, code: 'unsupported_version' }); // v1 had unbound orders (issue 14)
    expect(negotiateVersion([3, 1, 2], [1, 2])).toEqual({ ok: true, version: 2 });
  });

  it('refuses when there is no common version and names both lists', () => {
    const r = negotiateVersion([2, 3], [1]);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe('unsupported_version');
      expect(r.message).toContain('[2, 3]');
      expect(r.message).toContain('[1]');
    }
  });
});

describe('parser fuzz', () => {
  it('never throws on 10k mutated messages, and whatever it accepts re-parses identically', () => {
    const rng = mulberry32(0xc0101);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)] as T;
    const weird: unknown[] = [null, true, -1, 0, 1e308, -0, 1.5, '', 'x'.repeat(300), '\u0000', [], {}, [[[[]]]], { type: 'HELLO' }, '😀'];
    const bases = Object.values(samples());
    let accepted = 0;
    for (let i = 0; i < 10_000; i++) {
      const base = structuredClone(pick(bases)) as Record<string, unknown>;
      let raw: string | Uint8Array;
      const op = Math.floor(rng() * 6);
      const keys = Object.keys(base);
      if (op === 0) delete base[pick(keys)];
      else if (op === 1) base[pick(keys)] = pick(weird);
      else if (op === 2) base[`extra${Math.floor(rng() * 3)}`] = pick(weird);
      else if (op === 3) base.type = pick([...MESSAGE_TYPES, 'NOPE', 'task_assigned']);
      const text = JSON.stringify(base);
      if (op === 4) raw = text.slice(0, Math.floor(rng() * text.length));
      else if (op === 5) {
        const bytes = Buffer.from(text);
        for (let k = 0; k < 3; k++) bytes[Math.floor(rng() * bytes.length)] = Math.floor(rng() * 256);
        raw = bytes;
      } else raw = text;
      const r = parseMessage(raw, 4096);
      expect(typeof r.ok).toBe('boolean');
      if (r.ok) {
        accepted++;
        expect(parseMessage(encodeMessage(r.msg), 4096)).toEqual(r);
      }
    }
    expect(accepted).toBeGreaterThan(0); // the mutations are not all trivially broken
  });
});
