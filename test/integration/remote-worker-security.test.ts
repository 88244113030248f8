/**
 * The worker's side of the protocol, from the attacker's side: a fake host
 * (a plain ws server holding the pinned host key, or not) sends assignments
 * and the real WorkerAgent must refuse the forged, replayed, expired and
 * escaping ones with a signed TASK_REJECTED naming the reason — and run the
 * legitimate one next to them.
 */
import { mkdirSync, mkdtempSync, existsSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocket, WebSocketServer } from 'ws';
import { encodeMessage, type MessageOf, type ProtocolMessage } from '../../src/core/protocol.js';
import { generateKeyPair, signMessage, verifyMessage, type KeyPair } from '../../src/remote/signing.js';
import type { AgentEvent, WorkerAgent } from '../../src/remote/worker/worker-agent.js';
import { processGone, readPid, waitFor } from '../helpers/proc.js';
import { fakeHostAgent, startFakeHost, unsignedAssignment } from '../helpers/fake-host.js';

const hostKeys = generateKeyPair();
const SESSION = 'challenge-nonce-0123456789';
let hostClock = 0; // how far the fake host's clock is from ours
let tamperHostTime = false; // a man in the middle rewrites host_time in the (signed) CHALLENGE
let auths = 0;
const workerKeys = generateKeyPair();
let wss: WebSocketServer;
let conn: WebSocket | null = null;
const inbox: ProtocolMessage[] = [];
let agent: WorkerAgent;
const events: AgentEvent[] = [];
let dir: string;
let root: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'colony-fakehost-'));
  root = join(dir, 'root');
  mkdirSync(root);
  mkdirSync(join(dir, 'outside'));
  symlinkSync(join(dir, 'outside'), join(root, 'escape'));
  let port: number;
  ({ wss, port } = await startFakeHost({
    hostKeys,
    session: SESSION,
    version: 2, // an older host: one message per frame
    hostTime: () => Date.now() + hostClock,
    rewrite: (ch) => (tamperHostTime ? { ...ch, host_time: ch.host_time - 3_600_000 } : ch),
    onConnection: (ws) => (conn = ws),
    onAuth: () => auths++,
    onMessage: (m) => inbox.push(m),
  }));
  agent = await fakeHostAgent({ port, workerId: 'w-under-test', hostKeys, workerKeys, dir, root, concurrency: 4, events });
});

afterAll(async () => {
  await agent?.stop(500);
  wss?.close();
  rmSync(dir, { recursive: true, force: true });
});

function assignment(over: Partial<MessageOf<'TASK_ASSIGNED'>> = {}, key: KeyPair = hostKeys): MessageOf<'TASK_ASSIGNED'> {
  return signMessage(unsignedAssignment('w-under-test', SESSION, over), key.privateKey);
}

function send(m: ProtocolMessage): void {
  conn?.send(encodeMessage(m));
}

async function answer(taskId: string, type?: ProtocolMessage['type']): Promise<ProtocolMessage> {
  return waitFor(
    () => {
      const i = inbox.findIndex((m) => 'task_id' in m && m.task_id === taskId && (type === undefined || m.type === type));
      return i >= 0 ? inbox.splice(i, 1)[0] : undefined;
    },
    `answer about ${taskId}`,
    5000,
    5,
  );
}

async function rejected(m: MessageOf<'TASK_ASSIGNED'>): Promise<string> {
  send(m);
  const r = await answer(m.task_id);
  expect(r.type).toBe('TASK_REJECTED');
  expect(verifyMessage(r, workerKeys.publicKey)).toBe(true);
  if (r.type !== 'TASK_REJECTED') throw new Error('not a rejection');
  expect(r.nonce).toBe(m.nonce);
  return r.reason;
}

describe('worker refuses what the pinned host did not legitimately send', () => {
  it('runs a legitimate assignment (signed, fresh, inside the root) and reports it signed', async () => {
    const m = assignment({ task: { prompt: 'echo ok > legit.txt', title: 'legit' }, workspace: 'proj' });
    send(m);
    expect((await answer(m.task_id)).type).toBe('TASK_ACCEPTED');
    const done = await answer(m.task_id, 'TASK_COMPLETED');
    expect(verifyMessage(done, workerKeys.publicKey)).toBe(true);
    expect(existsSync(join(root, 'proj', 'legit.txt'))).toBe(true);
  });

  it('rejects an assignment signed by another key (forged host signature)', async () => {
    expect(await rejected(assignment({}, generateKeyPair()))).toMatch(/bad_signature/);
  });

  it('rejects an assignment whose fields were changed after signing', async () => {
    const m = assignment();
    expect(await rejected({ ...m, task: { prompt: 'rm -rf ~', title: 't' } })).toMatch(/bad_signature/);
  });

  it('rejects a replayed assignment (same nonce twice)', async () => {
    const m = assignment();
    send(m);
    expect((await answer(m.task_id)).type).toBe('TASK_ACCEPTED');
    expect((await answer(m.task_id)).type).toBe('TASK_COMPLETED');
    expect(await rejected(m)).toMatch(/replayed/);
  });

  it('rejects an expired assignment, and one that expires implausibly far ahead', async () => {
    expect(await rejected(assignment({ expires_at: Date.now() - 1000 }))).toMatch(/expired/);
    expect(await rejected(assignment({ expires_at: Date.now() + 3_600_000 }))).toMatch(/too far ahead/);
  });

  it('rejects workspaces outside the root: ../../etc, an absolute path, a symlink escape', async () => {
    expect(await rejected(assignment({ workspace: '../../etc' }))).toMatch(/\.\./);
    expect(await rejected(assignment({ workspace: 'a/../../b' }))).toMatch(/\.\./);
    expect(await rejected(assignment({ workspace: '/etc' }))).toMatch(/outside/);
    expect(await rejected(assignment({ workspace: 'escape' }))).toMatch(/symlink escape/);
    expect(await rejected(assignment({ workspace: 'escape/deeper' }))).toMatch(/symlink escape/);
    expect(existsSync(join(dir, 'outside', 'deeper'))).toBe(false);
  });

  it('rejects an engine it did not enable', async () => {
    expect(await rejected(assignment({ engine: 'claude' }))).toMatch(/not enabled/);
    expect(await rejected(assignment({ engine: 'auto' }))).toMatch(/AI engine/);
  });

  it('kills the process group on a signed TASK_CANCELLED and ignores a forged one', async () => {
    const m = assignment({ task: { prompt: 'sleep 30 & echo $! > pid; wait', title: 'long' }, workspace: 'long' });
    send(m);
    await answer(m.task_id, 'TASK_ACCEPTED');
    const pid = await waitFor(() => readPid(join(root, 'long', 'pid')), 'pid', 5000);
    const cancel = (key: KeyPair) =>
      signMessage(
        {
          type: 'TASK_CANCELLED' as const,
          worker_id: 'w-under-test',
          session: SESSION,
          task_id: m.task_id,
          attempt: 1,
          reason: 'stop',
          nonce: randomBytes(16).toString('base64url'),
        },
        key.privateKey,
      );
    send(cancel(generateKeyPair()));
    await new Promise((r) => setTimeout(r, 300));
    expect(processGone(pid)).toBe(false);
    send(cancel(hostKeys));
    await waitFor(() => processGone(pid), 'sleep killed', 5000);
    await new Promise((r) => setTimeout(r, 300));
    expect(inbox.some((x) => 'task_id' in x && x.task_id === m.task_id)).toBe(false); // nothing more about a cancelled task
  });
});

describe("orders are bound to this worker, this connection and this machine's clock", () => {
  async function reported(m: MessageOf<'TASK_ASSIGNED'> | MessageOf<'TASK_CANCELLED'>, code: string): Promise<void> {
    send(m);
    const e = await waitFor(
      () => {
        const i = inbox.findIndex((x) => x.type === 'ERROR' && x.message.includes(m.task_id));
        return i >= 0 ? inbox.splice(i, 1)[0] : undefined;
      },
      `ERROR about ${m.task_id}`,
      5000,
      5,
    );
    expect(e).toMatchObject({ type: 'ERROR', code });
    await new Promise((r) => setTimeout(r, 100));
    expect(inbox.some((x) => 'task_id' in x && x.task_id === m.task_id)).toBe(false); // not accepted, not even answered
  }

  it('does not run a host-signed order bound to another worker, and reports it to the host', async () => {
    await reported(assignment({ worker_id: 'w-someone-else', task: { prompt: 'echo x > foreign.txt', title: 'foreign' } }), 'not_yours');
    expect(existsSync(join(root, 'foreign.txt'))).toBe(false);
    expect(events).toContainEqual(expect.objectContaining({ type: 'refused', code: 'not_yours' }));
  });

  it('does not run a host-signed order bound to another connection (captured earlier, replayed)', async () => {
    await reported(assignment({ session: 'an-earlier-connection-nonce' }), 'replayed');
  });

  it('ignores a host-signed cancel bound to another worker', async () => {
    const m = assignment({ task: { prompt: 'sleep 30 & echo $! > pid; wait', title: 'long' }, workspace: 'bound' });
    send(m);
    await answer(m.task_id, 'TASK_ACCEPTED');
    const pid = await waitFor(() => readPid(join(root, 'bound', 'pid')), 'pid', 5000);
    const cancel = signMessage(
      {
        type: 'TASK_CANCELLED' as const,
        worker_id: 'w-someone-else',
        session: SESSION,
        task_id: m.task_id,
        attempt: 1,
        reason: 'stop',
        nonce: randomBytes(16).toString('base64url'),
      },
      hostKeys.privateKey,
    );
    await reported(cancel, 'not_yours');
    expect(processGone(pid)).toBe(false);
    send(signMessage({ ...cancel, worker_id: 'w-under-test', nonce: randomBytes(16).toString('base64url') }, hostKeys.privateKey));
    await waitFor(() => processGone(pid), 'sleep killed', 5000);
  });

  it('drops a CHALLENGE whose host_time was rewritten on the way (no AUTH is sent), and works again once it is genuine', async () => {
    const before = auths;
    tamperHostTime = true;
    events.length = 0;
    agent.dropConnection();
    await waitFor(() => events.filter((e) => e.type === 'refused' && /CHALLENGE/.test(e.reason)).length >= 2, 'tampered CHALLENGE refused twice', 5000);
    expect(auths).toBe(before);
    tamperHostTime = false;
    await waitFor(() => events.some((e) => e.type === 'connected'), 'reconnected', 10_000);
    expect(auths).toBe(before + 1);
  });

  it("refuses an assignment expired by its own clock even when the host's (signed) clock says it is fresh", async () => {
    hostClock = -3_600_000; // the host believes it is an hour earlier
    events.length = 0;
    agent.dropConnection();
    await waitFor(() => events.some((e) => e.type === 'connected'), 'reconnected', 10_000);
    try {
      const stale = assignment({ expires_at: Date.now() + hostClock + 30_000 }); // fresh in host time, an hour old here
      expect(await rejected(stale)).toMatch(/expired .* by this worker's clock/);
    } finally {
      hostClock = 0;
      agent.dropConnection();
      await waitFor(() => events.filter((e) => e.type === 'connected').length >= 2, 'reconnected', 10_000);
    }
    const ok = assignment();
    send(ok);
    expect((await answer(ok.task_id)).type).toBe('TASK_ACCEPTED');
  });
});
