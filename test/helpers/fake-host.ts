/**
 * Pieces for testing the WorkerAgent against a fake host (a plain ws server
 * holding — or not — the pinned host key), and for building protocol messages
 * in tests: the agent itself with an exec engine and its identity, an
 * unsigned TASK_ASSIGNED, and the TASK_COMPLETED answering an assignment.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { encodeMessage, parseMessage, type MessageOf, type ProtocolMessage } from '../../src/core/protocol.js';
import { defaultConfig } from '../../src/core/config.js';
import { createExecEngine } from '../../src/engines/exec.js';
import { exportPublicKeyRaw, fingerprint, signMessage, type KeyPair } from '../../src/remote/signing.js';
import { WorkerAgent, type AgentEvent } from '../../src/remote/worker/worker-agent.js';
import { createWorkerGate } from '../../src/remote/worker/worker-gate.js';
import type { WorkerIdentity } from '../../src/remote/worker/worker-identity.js';
import { TaskRunner } from '../../src/remote/worker/worker-runner.js';
import { waitFor } from './proc.js';

/** A connected WorkerAgent (exec engine, root `root`, home under `dir`) for the fake host at `port`. */
export async function fakeHostAgent(o: {
  port: number;
  workerId: string;
  hostKeys: KeyPair;
  workerKeys: KeyPair;
  dir: string;
  root: string;
  concurrency: number;
  events: AgentEvent[];
}): Promise<WorkerAgent> {
  const identity: WorkerIdentity = {
    worker_id: o.workerId,
    name: 'test',
    owner: 'session:x',
    host_url: `http://127.0.0.1:${o.port}`,
    host_public_key: exportPublicKeyRaw(o.hostKeys.publicKey),
    host_fingerprint: fingerprint(o.hostKeys.publicKey),
    host_cert_pem: null,
    host_cert_fingerprint: null,
    enrolled_at: 0,
    keys: o.workerKeys,
    fingerprint: fingerprint(o.workerKeys.publicKey),
    hostKey: o.hostKeys.publicKey,
  };
  const gate = createWorkerGate({ config: defaultConfig(), configFile: null, home: join(o.dir, 'worker-home'), workspaceRoot: o.root });
  const runner = new TaskRunner({
    engines: new Map([['exec', createExecEngine({ killGraceMs: 300 })]]),
    workspaceRoot: o.root,
    budgetCap: null,
    gate,
    env: { PATH: process.env['PATH'] ?? '/bin' },
    flushMs: 5,
  });
  const agent = new WorkerAgent({ identity, runner, openToAdmin: false, concurrency: o.concurrency, heartbeatIntervalMs: 60_000 });
  agent.on((e) => o.events.push(e));
  agent.start();
  await waitFor(() => o.events.some((e) => e.type === 'connected'), 'agent connected', 5000);
  return agent;
}

/** An unsigned TASK_ASSIGNED of `true` in the worker root, fresh nonce, 30 s to start. */
export function unsignedAssignment<O extends object>(workerId: string, session: string, over: O) {
  return {
    type: 'TASK_ASSIGNED' as const,
    worker_id: workerId,
    session,
    task_id: `t-${randomBytes(4).toString('hex')}`,
    attempt: 1,
    task: { prompt: 'true', title: 't' },
    budget: 1,
    engine: 'exec',
    model: null,
    workspace: '.',
    nonce: randomBytes(16).toString('base64url'),
    expires_at: Date.now() + 30_000,
    lease_ms: 30_000,
    ...over,
  };
}

/** The TASK_COMPLETED (unsigned, no cost) a worker sends for assignment `m`. */
export function completedFor(m: { task_id: string; attempt: number; nonce: string }, over: Record<string, unknown> = {}) {
  return {
    type: 'TASK_COMPLETED' as const,
    task_id: m.task_id,
    attempt: m.attempt,
    cost: 0,
    engine_used: 'exec',
    model_used: null,
    tokens: { input: 0, output: 0, cache_read: 0, cache_write: 0 },
    nonce: m.nonce,
    summary: 'ok',
    ...over,
  };
}

/**
 * A fake host on 127.0.0.1: answers HELLO with a CHALLENGE signed by `hostKeys`
 * (`rewrite` may change it after signing, as a man in the middle would), AUTH
 * with AUTH_OK, and hands every other message to `onMessage`.
 */
export async function startFakeHost(o: {
  hostKeys: KeyPair;
  session: string;
  version: number;
  hostTime?: () => number;
  rewrite?: (challenge: MessageOf<'CHALLENGE'>) => MessageOf<'CHALLENGE'>;
  onConnection: (ws: WebSocket) => void;
  onAuth?: () => void;
  onMessage: (m: ProtocolMessage) => void;
}): Promise<{ wss: WebSocketServer; port: number }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', (ws) => {
    o.onConnection(ws);
    ws.on('message', (d) => {
      const p = parseMessage(d as Buffer);
      if (!p.ok) return;
      const m = p.msg;
      if (m.type === 'HELLO') {
        const hostTime = o.hostTime?.() ?? Date.now();
        const ch = {
          type: 'CHALLENGE' as const,
          worker_id: m.worker_id,
          client_nonce: m.client_nonce,
          nonce: o.session,
          host_time: hostTime,
          version: o.version,
        };
        const signed = signMessage(ch, o.hostKeys.privateKey);
        ws.send(encodeMessage(o.rewrite ? o.rewrite(signed) : signed));
      } else if (m.type === 'AUTH') {
        o.onAuth?.();
        ws.send(encodeMessage({ type: 'AUTH_OK', worker_id: m.worker_id, host_key_fingerprint: fingerprint(o.hostKeys.publicKey) }));
      } else o.onMessage(m);
    });
  });
  await new Promise((r) => wss.once('listening', r));
  return { wss, port: (wss.address() as AddressInfo).port };
}
