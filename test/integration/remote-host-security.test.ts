/**
 * The host's side of /ws/remote-exec from the attacker's side: a raw client
 * holding an enrolled worker key (or not) sends forged, replayed, stale,
 * misdirected, malformed and oversized messages. Each must be refused with
 * an ERROR, audited, and change nothing; the legitimate message next to it
 * works. Ends with 10,000 random and mutated messages.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isTerminal } from '../../src/core/task.js';
import { SYSTEM } from '../../src/store/store.js';
import type { MessageOf } from '../../src/core/protocol.js';
import { generateKeyPair } from '../../src/remote/signing.js';
import { waitFor } from '../helpers/proc.js';
import { completedFor } from '../helpers/fake-host.js';
import { audits, enrolKey, newSession, RawWorker, startRemoteHost, stateOf, submitTask, type RemoteTestHost, type Session } from '../helpers/remote-host.js';

let h: RemoteTestHost;
let ada: Session;
let bob: Session;
let w1: RawWorker;
let w2: RawWorker;
let wb: RawWorker;

beforeAll(async () => {
  h = await startRemoteHost();
  ada = await newSession(h, 'Ada');
  bob = await newSession(h, 'Bob');
  w1 = await RawWorker.open(h, await enrolKey(h, ada));
  w2 = await RawWorker.open(h, await enrolKey(h, ada));
  wb = await RawWorker.open(h, await enrolKey(h, bob));
});
afterEach(() => {
  // Each test leaves nothing leased or queued behind (w1 has one slot).
  for (const t of h.host.store.listTasks({ limit: 10_000 })) {
    if (isTerminal(t.state)) continue;
    if (!h.remote.dispatcher.cancel(t.id, 'test cleanup')) h.host.service.cancelPending(t.id, SYSTEM);
  }
});
afterAll(async () => {
  for (const w of [w1, w2, wb]) w?.close();
  await h?.close();
});

/** A task for Ada pinned to worker w1, and the assignment w1 received for it. */
async function assigned(over: { budget_usd?: number; max_attempts?: number } = {}): Promise<MessageOf<'TASK_ASSIGNED'>> {
  const id = submitTask(h, ada.submitter, { prompt: 'true', target: w1.id.worker_id, id: `t${randomBytes(3).toString('hex')}`, ...over });
  const m = await w1.next((x) => x.type === 'TASK_ASSIGNED' && x.task_id === id);
  if (m.type !== 'TASK_ASSIGNED') throw new Error('no assignment');
  return m;
}
const accept = (w: RawWorker, m: MessageOf<'TASK_ASSIGNED'>) =>
  w.signed({ type: 'TASK_ACCEPTED' as const, task_id: m.task_id, attempt: m.attempt, nonce: m.nonce });
const result = (m: MessageOf<'TASK_ASSIGNED'>, over: Record<string, unknown> = {}) => completedFor(m, over);
const refusedWith = (code: string) => audits(h, 'remote.refused').filter((a) => (a.detail as { code?: string }).code === code);

describe('the host refuses and audits', () => {
  it('a forged worker signature, and fields changed after signing', async () => {
    const m = await assigned();
    const before = refusedWith('bad_signature').length;
    w1.signed({ type: 'TASK_ACCEPTED' as const, task_id: m.task_id, attempt: m.attempt, nonce: m.nonce }, generateKeyPair());
    expect(await w1.error()).toMatchObject({ code: 'bad_signature' });
    const good = accept(w2, m); // signed by w2, then presented as w1's
    w1.send({ ...good });
    expect(await w1.error()).toMatchObject({ code: 'bad_signature' });
    expect(refusedWith('bad_signature').length).toBe(before + 2);
    expect(stateOf(h, m.task_id)).toBe('assigned');
    await w2.error(); // w2's own copy was refused too: not its task
    accept(w1, m);
    await waitFor(() => stateOf(h, m.task_id) === 'running', 'legit accept works', 3000);
  });

  it('unknown fields, and host-only message types from a worker', async () => {
    const m = await assigned();
    w1.signed({ type: 'TASK_ACCEPTED' as const, task_id: m.task_id, attempt: m.attempt, nonce: m.nonce, admin: true });
    expect(await w1.error()).toMatchObject({ code: 'invalid_message', message: expect.stringContaining('admin') });
    w1.signed({ ...m, task_id: m.task_id });
    expect(await w1.error()).toMatchObject({ code: 'invalid_message', message: expect.stringContaining('host message') });
    expect(stateOf(h, m.task_id)).toBe('assigned');
  });

  it("messages about another worker's task, from the same user and from another user", async () => {
    const m = await assigned();
    accept(w2, m);
    expect(await w2.error()).toMatchObject({ code: 'not_yours' });
    wb.signed(result(m));
    expect(await wb.error()).toMatchObject({ code: 'not_yours' });
    expect(stateOf(h, m.task_id)).toBe('assigned');
  });

  it('a result for a stale attempt or another assignment, and a replayed result', async () => {
    const m = await assigned();
    accept(w1, m);
    w1.signed(result(m, { attempt: m.attempt + 1 }));
    expect(await w1.error()).toMatchObject({ code: 'stale_attempt' });
    w1.signed(result(m, { nonce: randomBytes(16).toString('base64url') }));
    expect(await w1.error()).toMatchObject({ code: 'stale_attempt' });
    const done = w1.signed(result(m));
    await waitFor(() => stateOf(h, m.task_id) === 'succeeded', 'legit result counts', 3000);
    const attemptsBefore = JSON.stringify(h.host.store.attemptsOf(m.task_id));
    w1.send(done); // byte-for-byte replay
    expect(await w1.error()).toMatchObject({ code: 'stale_attempt' });
    accept(w1, m);
    expect(await w1.error()).toMatchObject({ code: 'stale_attempt' });
    expect(JSON.stringify(h.host.store.attemptsOf(m.task_id))).toBe(attemptsBefore);
  });

  it('a replayed progress message (sequence not increasing)', async () => {
    const m = await assigned();
    accept(w1, m);
    const p = {
      type: 'TASK_PROGRESS' as const,
      task_id: m.task_id,
      attempt: m.attempt,
      seq: 0,
      status: 'running' as const,
      output: 'line\n',
      cost: 0,
      engine_used: 'exec',
      model_used: null,
      tokens: { input: 0, output: 0, cache_read: 0, cache_write: 0 },
      nonce: m.nonce,
    };
    w1.signed(p);
    w1.signed(p);
    expect(await w1.error()).toMatchObject({ code: 'out_of_order' });
    await waitFor(() => h.host.store.outputOf(m.task_id).length === 1, 'one chunk stored', 3000);
  });

  it('a cost over the budget: the task fails with E_BUDGET, the worker is told to stop, the breach is audited', async () => {
    const m = await assigned({ budget_usd: 0.5, max_attempts: 3 });
    expect(m.budget).toBe(0.5);
    accept(w1, m);
    w1.signed(result(m, { cost: 0.75 }));
    expect(await w1.error()).toMatchObject({ code: 'over_budget' });
    await waitFor(() => stateOf(h, m.task_id) === 'failed', 'failed', 3000);
    expect(h.host.store.getTask(m.task_id)?.state_reason).toContain('E_BUDGET');
    expect(h.host.store.attemptsOf(m.task_id)[0]).toMatchObject({ error_code: 'E_BUDGET', cost_usd: 0.75 });
    expect(audits(h, 'remote.over_budget')[0]).toMatchObject({ target: m.task_id, detail: expect.objectContaining({ cost_usd: 0.75, budget_usd: 0.5 }) });
    expect(await w1.next((x) => x.type === 'TASK_CANCELLED' && x.task_id === m.task_id)).toBeTruthy();
  });

  it('a late result from an attempt whose lease lapsed (the task was requeued meanwhile)', async () => {
    const m = await assigned({ max_attempts: 2 }); // the lapsed attempt counts
    accept(w1, m);
    const m2 = await w1.next((x) => x.type === 'TASK_ASSIGNED' && x.task_id === m.task_id, 10_000); // silent → requeued → offered again
    expect(m2.type === 'TASK_ASSIGNED' && m2.attempt).toBe(m.attempt + 1);
    w1.signed(result(m));
    expect(await w1.error()).toMatchObject({ code: 'stale_attempt' });
    expect(h.host.store.getTask(m.task_id)).toMatchObject({ state: 'assigned', attempt: m.attempt + 1 });
  });

  it('task messages before authentication', async () => {
    const anon = await RawWorker.open(h, { worker_id: 'w-nobody', keys: generateKeyPair() }, { auth: false });
    anon.send({
      type: 'TASK_COMPLETED',
      task_id: 'x',
      attempt: 1,
      cost: 0,
      engine_used: 'exec',
      model_used: null,
      tokens: { input: 0, output: 0, cache_read: 0, cache_write: 0 },
      nonce: 'n'.repeat(22),
      summary: 'ok',
      sig: 'A'.repeat(86),
    });
    expect(await anon.error()).toMatchObject({ code: 'unauthenticated' });
    anon.close();
  });

  it('a 10 MB message: the socket is closed (1009) and the refusal audited', async () => {
    const raw = await RawWorker.open(h, await enrolKey(h, ada));
    const before = refusedWith('too_large').length;
    raw.send('x'.repeat(10 * 1024 * 1024));
    await waitFor(() => raw.closed, 'closed', 5000);
    expect(raw.closed?.code).toBe(1009);
    await waitFor(() => refusedWith('too_large').length > before, 'audited', 3000);
  });

  it('closes a connection that keeps sending bad messages (more than 20)', async () => {
    const raw = await RawWorker.open(h, await enrolKey(h, ada));
    for (let i = 0; i < 25; i++) raw.send('{not json');
    await waitFor(() => raw.closed, 'closed', 5000);
    expect(raw.closed?.code).toBe(1008);
    expect(raw.inbox.filter((x) => x.type === 'ERROR')).toHaveLength(21);
  });

  it('wrote one audit record per refusal above, each naming the code, the worker and the origin', () => {
    const refused = audits(h, 'remote.refused');
    const codes = new Set(refused.map((a) => (a.detail as { code?: string }).code));
    for (const c of [
      'bad_signature',
      'invalid_message',
      'not_yours',
      'stale_attempt',
      'out_of_order',
      'over_budget',
      'unauthenticated',
      'too_large',
      'bad_json',
    ])
      expect(codes, c).toContain(c);
    const forged = refused.find((a) => (a.detail as { code?: string }).code === 'not_yours');
    expect(forged).toMatchObject({ actor: expect.stringMatching(/^worker:w-/) });
    expect(h.host.store.listAudit({ action: 'remote.refused', limit: 1 })[0]).toMatchObject({ origin: '127.0.0.1' });
  });

  it('an AUTH signed by the wrong key, and an unknown worker', async () => {
    const id = await enrolKey(h, ada);
    await expect(RawWorker.open(h, { worker_id: id.worker_id, keys: generateKeyPair() })).rejects.toThrow(/signature/);
    await expect(RawWorker.open(h, { worker_id: 'w-unknown', keys: generateKeyPair() })).rejects.toThrow(/unknown worker/);
    expect(audits(h, 'remote.auth_failed').length).toBeGreaterThanOrEqual(2);
  });
});
