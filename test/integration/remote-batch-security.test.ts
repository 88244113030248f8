/**
 * BATCH frames (protocol v3) from the attacker's side, on both ends, next to
 * the legitimate batch: a batch replayed, an item moved into another batch,
 * a batch cut short, a batch bound to another worker or connection, a batch
 * on a connection that negotiated v2, a worker batch smuggling a host order.
 * Host side: a raw v3 client holding an enrolled key against the real host.
 * Worker side: the real WorkerAgent against a fake v3 host holding the pinned key.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocket, WebSocketServer } from 'ws';
import type { BatchItem, MessageOf, ProtocolMessage } from '../../src/core/protocol.js';
import { generateKeyPair, signMessage, verifyMessage } from '../../src/remote/signing.js';
import type { AgentEvent, WorkerAgent } from '../../src/remote/worker/worker-agent.js';
import { waitFor } from '../helpers/proc.js';
import { completedFor, fakeHostAgent, startFakeHost, unsignedAssignment } from '../helpers/fake-host.js';
import {
  audits,
  enrolKey,
  FAST,
  newSession,
  RawWorker,
  startRemoteHost,
  stateOf,
  submitTask,
  type RemoteTestHost,
  type Session,
} from '../helpers/remote-host.js';

type Assigned = MessageOf<'TASK_ASSIGNED'> | Extract<BatchItem, { type: 'TASK_ASSIGNED' }>;
const tokens = { input: 0, output: 0, cache_read: 0, cache_write: 0 };
const accepted = (m: Assigned) => ({ type: 'TASK_ACCEPTED' as const, task_id: m.task_id, attempt: m.attempt, nonce: m.nonce });
const completed = (m: Assigned) => completedFor(m);

describe('the host: worker BATCH frames', () => {
  let h: RemoteTestHost;
  let ada: Session;
  let w: RawWorker;
  let w2: RawWorker;
  let old: RawWorker;
  const refused = (code: string) => audits(h, 'remote.refused').filter((a) => (a.detail as { code?: string }).code === code).length;
  const batch = (from: RawWorker, items: object[], over: Record<string, unknown> = {}) =>
    from.signed({ type: 'BATCH' as const, worker_id: from.id.worker_id, session: from.challenge, items, ...over });

  beforeAll(async () => {
    h = await startRemoteHost({ ...FAST, slotsPerWorker: 4 });
    ada = await newSession(h, 'Ada');
    w = await RawWorker.open(h, await enrolKey(h, ada), { versions: [2, 3] });
    w2 = await RawWorker.open(h, await enrolKey(h, ada), { versions: [3] });
    old = await RawWorker.open(h, await enrolKey(h, ada), { versions: [2] });
  });
  afterAll(async () => {
    for (const x of [w, w2, old]) x?.close();
    await h?.close();
  });

  /** Two tasks for `to`, submitted in one turn: offered together in one host-signed BATCH. */
  async function offeredTogether(to: RawWorker): Promise<MessageOf<'BATCH'>> {
    const tag = randomBytes(3).toString('hex');
    for (const i of [1, 2]) submitTask(h, ada.submitter, { prompt: 'true', target: to.id.worker_id, id: `b${tag}-${i}` });
    const m = await to.next((x) => x.type === 'BATCH' && x.items.some((i) => i.task_id.endsWith(`b${tag}-1`)));
    if (m.type !== 'BATCH') throw new Error('no batch');
    return m;
  }

  it('offers several tasks in one BATCH bound to the worker and its connection, and takes the results batched', async () => {
    const b = await offeredTogether(w);
    expect(verifyMessage(b, h.remote.hostKey.publicKey)).toBe(true);
    expect(b).toMatchObject({ worker_id: w.id.worker_id, session: w.challenge });
    const items = b.items as Assigned[];
    expect(items.map((i) => i.type)).toEqual(['TASK_ASSIGNED', 'TASK_ASSIGNED']);
    for (const i of items) expect(i).toMatchObject({ worker_id: w.id.worker_id, session: w.challenge });
    batch(w, items.map(accepted));
    await waitFor(() => items.every((i) => stateOf(h, i.task_id) === 'running'), 'both running', 5000);
    batch(w, items.map(completed));
    await waitFor(() => items.every((i) => stateOf(h, i.task_id) === 'succeeded'), 'both succeeded', 5000);
  });

  it('a replayed BATCH: every item is refused as the same message sent alone would be, nothing changes', async () => {
    const items = (await offeredTogether(w)).items as Assigned[];
    const acc = batch(w, items.map(accepted));
    await waitFor(() => items.every((i) => stateOf(h, i.task_id) === 'running'), 'both running', 5000);
    const before = refused('replayed');
    w.send(acc);
    await waitFor(() => refused('replayed') >= before + 2, 'both items refused as replayed', 5000);
    const done = batch(w, items.map(completed));
    await waitFor(() => items.every((i) => stateOf(h, i.task_id) === 'succeeded'), 'both succeeded', 5000);
    const stale = refused('stale_attempt');
    w.send(done);
    await waitFor(() => refused('stale_attempt') >= stale + 2, 'results replayed are stale', 5000);
    expect(h.host.store.attemptsOf(items[0]!.task_id)).toHaveLength(1);
  });

  it('a BATCH cut short, or with an item moved in from another batch: bad signature, no item acted on', async () => {
    const items = (await offeredTogether(w)).items as Assigned[];
    const whole = signMessage({ type: 'BATCH' as const, worker_id: w.id.worker_id, session: w.challenge, items: items.map(accepted) }, w.id.keys.privateKey);
    const other = signMessage({ type: 'BATCH' as const, worker_id: w.id.worker_id, session: w.challenge, items: [accepted(items[1]!)] }, w.id.keys.privateKey);
    const before = refused('bad_signature');
    w.send({ ...whole, items: whole.items.slice(0, 1) }); // truncated
    w.send({ ...other, items: [accepted(items[0]!)] }); // item moved into another signed batch
    await waitFor(() => refused('bad_signature') >= before + 2, 'both refused', 5000);
    expect(items.map((i) => stateOf(h, i.task_id))).toEqual(['assigned', 'assigned']);
    w.send(whole); // the genuine one still works
    await waitFor(() => items.every((i) => stateOf(h, i.task_id) === 'running'), 'both running', 5000);
    batch(w, items.map(completed));
  });

  it('a BATCH bound to another worker or an earlier connection, and one carrying another worker’s items', async () => {
    const items = (await offeredTogether(w)).items as Assigned[];
    const nY = refused('not_yours');
    const rY = refused('replayed');
    batch(w, items.map(accepted), { worker_id: w2.id.worker_id }); // names w2, signed by w
    batch(w, items.map(accepted), { session: 'an-earlier-connection-nonce' });
    batch(w2, items.map(accepted)); // w2's own binding and key, w's tasks: fenced item by item
    await waitFor(() => refused('not_yours') >= nY + 3 && refused('replayed') >= rY + 1, 'refused', 5000);
    expect(items.map((i) => stateOf(h, i.task_id))).toEqual(['assigned', 'assigned']);
    batch(w, items.map(accepted));
    await waitFor(() => items.every((i) => stateOf(h, i.task_id) === 'running'), 'both running', 5000);
    batch(w, items.map(completed));
  });

  it('a worker BATCH holding a host order is refused; a v2 connection gets single frames and may not send a BATCH', async () => {
    const inv = refused('invalid_message');
    const hostOrder = { type: 'TASK_CANCELLED', worker_id: w.id.worker_id, session: w.challenge, task_id: 'x', attempt: 1, reason: 'x', nonce: 'n'.repeat(22) };
    batch(w, [hostOrder]);
    await waitFor(() => refused('invalid_message') >= inv + 1, 'host order in a worker batch refused', 5000);

    const tag = randomBytes(3).toString('hex');
    for (const i of [1, 2]) submitTask(h, ada.submitter, { prompt: 'true', target: old.id.worker_id, id: `o${tag}-${i}` });
    const a = await old.next((x) => x.type === 'TASK_ASSIGNED' && x.task_id.endsWith(`o${tag}-1`));
    const b = await old.next((x) => x.type === 'TASK_ASSIGNED' && x.task_id.endsWith(`o${tag}-2`));
    expect(old.inbox.some((x) => x.type === 'BATCH')).toBe(false);
    const v2 = refused('invalid_message');
    batch(old, [accepted(a as Assigned), accepted(b as Assigned)]);
    await waitFor(() => refused('invalid_message') >= v2 + 1, 'BATCH on v2 refused', 5000);
    expect(stateOf(h, (a as Assigned).task_id)).toBe('assigned');
    for (const m of [a, b] as Assigned[]) old.signed(accepted(m));
    await waitFor(() => [a, b].every((m) => stateOf(h, (m as Assigned).task_id) === 'running'), 'singles accepted on v2', 5000);
    for (const m of [a, b] as Assigned[]) old.signed(completed(m));
  });
});

describe('the worker: host BATCH frames', () => {
  const hostKeys = generateKeyPair();
  const workerKeys = generateKeyPair();
  const SESSION = 'challenge-nonce-batch-0123456789';
  const WID = 'w-batch-under-test';
  let wss: WebSocketServer;
  let conn: WebSocket | null = null;
  /** Worker reports, unpacked from BATCH frames whose worker signature and binding hold. */
  const inbox: Array<ProtocolMessage | BatchItem> = [];
  const events: AgentEvent[] = [];
  let agent: WorkerAgent;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'colony-batchhost-'));
    const root = join(dir, 'root');
    mkdirSync(root);
    let port: number;
    ({ wss, port } = await startFakeHost({
      hostKeys,
      session: SESSION,
      version: 3,
      onConnection: (ws) => (conn = ws),
      onMessage: (m) => {
        if (m.type !== 'BATCH') inbox.push(m);
        else if (verifyMessage(m, workerKeys.publicKey) && m.worker_id === WID && m.session === SESSION) inbox.push(...m.items);
      },
    }));
    agent = await fakeHostAgent({ port, workerId: WID, hostKeys, workerKeys, dir, root, concurrency: 8, events });
  });
  afterAll(async () => {
    await agent?.stop(500);
    wss?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const order = (over: Record<string, unknown> = {}) => unsignedAssignment(WID, SESSION, over);
  const hostBatch = (items: object[], over: Record<string, unknown> = {}) =>
    signMessage({ type: 'BATCH' as const, worker_id: WID, session: SESSION, items, ...over }, hostKeys.privateKey);
  const send = (m: object) => conn?.send(JSON.stringify(m));
  const answers = (taskId: string) => inbox.filter((m) => 'task_id' in m && m.task_id === taskId).map((m) => m.type);
  const errorAbout = (text: string) => waitFor(() => inbox.find((m) => m.type === 'ERROR' && m.message.includes(text)), `ERROR about ${text}`, 5000, 5);
  const quiet = () => new Promise((r) => setTimeout(r, 200));

  it('runs every order of a genuine BATCH, then refuses the same BATCH replayed, item by item', async () => {
    const items = [order(), order()];
    const b = hostBatch(items);
    send(b);
    for (const i of items) await waitFor(() => answers(i.task_id).includes('TASK_COMPLETED'), `${i.task_id} done`, 5000, 5);
    send(b);
    for (const i of items) {
      const r = await waitFor(() => inbox.find((m) => m.type === 'TASK_REJECTED' && m.task_id === i.task_id), 'rejected', 5000, 5);
      expect(r).toMatchObject({ reason: expect.stringMatching(/replayed/), nonce: i.nonce });
    }
  });

  it('runs nothing from a BATCH cut short, one with an item moved in, or one signed by another key', async () => {
    const a = order();
    const b = order();
    const whole = hostBatch([a, b]);
    send({ ...whole, items: [a] });
    send({ ...hostBatch([order()]), items: [b] });
    send(signMessage({ type: 'BATCH' as const, worker_id: WID, session: SESSION, items: [order()] }, generateKeyPair().privateKey));
    await waitFor(() => inbox.filter((m) => m.type === 'ERROR' && m.code === 'bad_signature').length >= 3, 'three refusals', 5000, 5);
    await quiet();
    expect([...answers(a.task_id), ...answers(b.task_id)]).toEqual([]);
    send(whole); // the genuine one runs
    for (const i of [a, b]) await waitFor(() => answers(i.task_id).includes('TASK_COMPLETED'), `${i.task_id} done`, 5000, 5);
  });

  it('runs nothing from a host-signed BATCH bound to another worker or connection, nor an item bound elsewhere', async () => {
    const x = order();
    send(hostBatch([x, order()], { worker_id: 'w-someone-else' }));
    expect(await errorAbout('BATCH of 2')).toMatchObject({ code: 'not_yours' });
    const y = order();
    send(hostBatch([y, order()], { session: 'an-earlier-connection-nonce' }));
    await waitFor(() => inbox.find((m) => m.type === 'ERROR' && m.code === 'replayed' && m.message.includes('BATCH')), 'replayed batch', 5000, 5);
    const foreign = order({ worker_id: 'w-someone-else' });
    const mine = order();
    send(hostBatch([foreign, mine]));
    expect(await errorAbout(foreign.task_id)).toMatchObject({ code: 'not_yours' });
    await waitFor(() => answers(mine.task_id).includes('TASK_COMPLETED'), 'own item runs', 5000, 5);
    await quiet();
    expect([...answers(x.task_id), ...answers(y.task_id), ...answers(foreign.task_id)]).toEqual([]);
  });
});
