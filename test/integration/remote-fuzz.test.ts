/**
 * 10,000 random and mutated messages against /ws/remote-exec, before and
 * after authentication (as an enrolled worker whose key the fuzzer holds):
 * the host must not crash, must not change any task, attempt, output or
 * worker, must keep a valid audit chain, and must still serve a legitimate
 * worker afterwards. Seeded: a failure prints the seed to replay it.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMessage, type MessageType } from '../../src/core/protocol.js';
import { mulberry32 } from '../../src/core/rng.js';
import { signMessage } from '../../src/remote/signing.js';
import { waitFor } from '../helpers/proc.js';
import { samples } from '../helpers/protocol-samples.js';
import { enrolKey, newSession, RawWorker, startAgent, startRemoteHost, stateOf, submitTask, type RemoteTestHost } from '../helpers/remote-host.js';
import { dbOf } from '../../src/store/internal.js';

const TOTAL = 10_000;
const SEED = Number(process.env['FUZZ_SEED'] ?? Date.now() % 1_000_000);

const WEIRD: unknown[] = [
  null,
  true,
  -1,
  0,
  1e308,
  -0,
  2 ** 53,
  1.5,
  '',
  ' ',
  '\u0000',
  '\u202e',
  'x'.repeat(5000),
  'A'.repeat(86),
  [],
  {},
  [[[]]],
  { __proto__: { admin: true } },
  'TASK_COMPLETED',
  'NaN',
];

function fuzzer(r: () => number, key: Parameters<typeof signMessage>[1], challenge: () => string) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const randomValue = (depth: number): unknown => {
    const k = r();
    if (depth > 3 || k < 0.4) return pick(WEIRD);
    if (k < 0.6) return randomBytes(Math.floor(r() * 40)).toString(pick(['hex', 'base64url', 'latin1'] as const));
    if (k < 0.8) return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(depth + 1));
    return Object.fromEntries(
      Array.from({ length: Math.floor(r() * 4) }, () => [pick(['type', 'task_id', 'sig', 'nonce', 'x', 'attempt']), randomValue(depth + 1)]),
    );
  };
  const base = samples();
  const types = Object.keys(base) as MessageType[];
  return (): string | Buffer => {
    const k = r();
    if (k < 0.1) return randomBytes(Math.floor(r() * 300));
    if (k < 0.2) return JSON.stringify(randomValue(0));
    const msg: Record<string, unknown> = { ...(base[pick(types)] as Record<string, unknown>) };
    if (msg['type'] === 'HEARTBEAT') msg['nonce'] = challenge(); // get past the nonce check to the seq check
    if (msg['type'] === 'ERROR') msg['code'] = 'nonsense';
    const keys = Object.keys(msg);
    const mutations = 1 + Math.floor(r() * 3);
    for (let i = 0; i < mutations; i++) {
      const m = r();
      const f = pick(keys);
      if (m < 0.25) delete msg[f];
      else if (m < 0.5) msg[f] = randomValue(1);
      else if (m < 0.6) msg[`extra_${Math.floor(r() * 9)}`] = randomValue(1);
      else if (m < 0.7) msg['type'] = pick([...types, 'NOPE', 'task_completed']);
      else if (m < 0.8) msg['seq'] = -1;
    }
    const signed = r() < 0.5 ? signMessage(msg, key) : msg; // signed by the real key: must still be refused (schema, fencing)
    if (r() < 0.3) (signed as Record<string, unknown>)['attempt'] = Math.floor(r() * 3); // tamper after signing
    const text = JSON.stringify(signed);
    return r() < 0.05 ? text.slice(0, Math.floor(r() * text.length)) : text;
  };
}

describe('fuzzing /ws/remote-exec', () => {
  let h: RemoteTestHost;
  beforeAll(async () => {
    h = await startRemoteHost();
  });
  afterAll(async () => {
    await h?.close();
  });

  it(`survives ${TOTAL} random/mutated messages without any state change (seed ${SEED})`, async () => {
    const fuzzOwner = await newSession(h, 'Fuzz');
    const id = await enrolKey(h, fuzzOwner);
    const snapshot = () =>
      JSON.stringify({
        tasks: h.host.store.listTasks({ limit: 100_000 }).map((t) => [t.id, t.state, t.attempt, t.cost_usd]),
        attempts: dbOf(h.host.store).prepare('SELECT * FROM attempts ORDER BY task_id, attempt').all(),
        output: dbOf(h.host.store).prepare('SELECT COUNT(*) AS n FROM task_output').get(),
        workers: h.remote.workers.list({ includeRevoked: true }).map((w) => [w.id, w.owner, w.public_key, w.revoked_at, w.open_to_admin]),
      });
    const otherTask = submitTask(h, 'session:nobody-connected', { prompt: 'echo untouched', id: 'untouched' });
    const before = snapshot();
    const r = mulberry32(SEED);
    let conn: RawWorker | null = null;
    const next = fuzzer(r, id.keys.privateKey, () => conn?.challenge ?? 'x');
    let sent = 0;
    while (sent < TOTAL) {
      const authed = r() < 0.6;
      conn = await RawWorker.open(h, id, { auth: authed });
      const burst = 5 + Math.floor(r() * 25);
      let expectReplies = 0;
      for (let i = 0; i < burst && sent < TOTAL && !conn.closed; i++) {
        const frame = next();
        const p = parseMessage(frame);
        if (!(p.ok && p.msg.type === 'ERROR')) expectReplies++;
        conn.send(frame);
        sent++;
      }
      const c = conn;
      await c.until(
        () => c.closed || c.inbox.filter((m) => m.type !== 'HEARTBEAT').length >= expectReplies,
        `replies on a fuzz connection (seed ${SEED})`,
        10_000,
      );
      c.close();
    }
    expect(sent).toBe(TOTAL);
    expect(snapshot()).toBe(before);
    expect(h.host.store.verifyAudit()).toMatchObject({ ok: true });
    expect(stateOf(h, otherTask)).toBe('ready');

    const legit = await newSession(h, 'Legit');
    const agent = await startAgent(h, legit);
    const t = submitTask(h, legit.submitter, { prompt: 'echo still served', id: 'after-fuzz' });
    await waitFor(() => stateOf(h, t) === 'succeeded', 'legit worker served after the fuzz', 10_000);
    await agent.stop();
  }, 120_000);
});
