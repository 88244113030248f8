/**
 * Remote-execution test kit: a host whose user app listens on 127.0.0.1:0
 * (real WebSocket), LAN sessions over real HTTP, pairing, in-process worker
 * agents (the same WorkerAgent `colony worker` runs), and a raw protocol
 * client that can send anything — forged, replayed or malformed.
 */
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import WebSocket, { type RawData } from 'ws';
import { defaultConfig, type ColonyConfig } from '../../src/core/config.js';
import type { Engine } from '../../src/core/engine.js';
import { randomBytes } from 'node:crypto';
import { encodeMessage, parseMessage, type ProtocolMessage, type SignedMessage } from '../../src/core/protocol.js';
import { createExecEngine } from '../../src/engines/exec.js';
import type { RemoteHost, RemoteHostOptions } from '../../src/remote/host/host-endpoint.js';
import { configureRemote, remoteOf } from '../../src/server/remote-host.js';
import { exportPublicKeyRaw, generateKeyPair, signMessage, type KeyPair } from '../../src/remote/signing.js';
import { pairingSecret, workerProof } from '../../src/remote/pairing-mac.js';
import { WorkerAgent, type AgentEvent } from '../../src/remote/worker/worker-agent.js';
import { pairWorker, type WorkerIdentity } from '../../src/remote/worker/worker-identity.js';
import { createWorkerGate } from '../../src/remote/worker/worker-gate.js';
import { TaskRunner } from '../../src/remote/worker/worker-runner.js';
import { openHost, type Host, type HostOptions } from '../../src/runner/host.js';
import { buildAdminApp } from '../../src/server/admin/app.js';
import type { ServerContext } from '../../src/server/context.js';
import { closeLiveStreams } from '../../src/server/live.js';
import { buildUserApp } from '../../src/server/user/app.js';
import { SYSTEM } from '../../src/store/store.js';
import { makeHome, type TestHome } from './admin-host.js';
import { waitFor } from './proc.js';
import { lanConfig } from './user-host.js';

export interface RemoteTestHost {
  home: TestHome;
  host: Host;
  ctx: ServerContext;
  user: FastifyInstance;
  admin: FastifyInstance;
  remote: RemoteHost;
  url: string;
  /** Stops host and apps and starts them again on the same home and port (a host restart). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** Short leases and timers so fault tests run in seconds. */
export const FAST: RemoteHostOptions = { leaseMs: 3000, assignmentTtlMs: 10_000, heartbeatIntervalMs: 300, sweepIntervalMs: 50 };

/** `hostOptions`: e.g. `onFenced` for a host on a shared PostgreSQL (the default exits the process). */
export async function startRemoteHost(
  opts: RemoteHostOptions = FAST,
  config: ColonyConfig = lanConfig(),
  hostOptions: Pick<HostOptions, 'onFenced'> = {},
): Promise<RemoteTestHost> {
  const home = makeHome('colony-remote-');
  const open = async (port: number) => {
    const host = openHost({ paths: home.paths, config, concurrency: 1, ...hostOptions });
    const ctx: ServerContext = { host, adminToken: 'remote-test-admin-token', adminPort: () => 8080, webRoot: null, startedAt: Date.now() };
    configureRemote(ctx, opts);
    const user = await buildUserApp(ctx, { logger: false, accessCode: null, tls: null });
    await user.listen({ host: '127.0.0.1', port });
    const admin = await buildAdminApp(ctx, { logger: false });
    const remote = remoteOf(ctx);
    if (!remote) throw new Error('the user app did not create the remote host');
    return { host, ctx, user, admin, remote, url: `http://127.0.0.1:${(user.server.address() as AddressInfo).port}` };
  };
  const stop = async (p: { host: Host; user: FastifyInstance; admin: FastifyInstance }) => {
    closeLiveStreams(p.user.server);
    await p.user.close();
    await p.admin.close();
    await p.host.close();
  };
  const h: RemoteTestHost = {
    home,
    ...(await open(0)),
    async restart() {
      const port = (h.user.server.address() as AddressInfo).port;
      await stop(h);
      Object.assign(h, await open(port));
    },
    async close() {
      await stop(h);
      home.cleanup();
    },
  };
  return h;
}

export interface Session {
  cookie: string;
  userId: string;
  submitter: string;
}

export async function newSession(h: RemoteTestHost, name: string): Promise<Session> {
  const res = await fetch(`${h.url}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ display_name: name }),
  });
  if (res.status !== 201) throw new Error(`session: ${res.status} ${await res.text()}`);
  const cookie =
    res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .find((c) => c?.startsWith('colony_session=')) ?? '';
  const userId = ((await res.json()) as { session: { user_id: string } }).session.user_id;
  return { cookie, userId, submitter: `session:${userId}` };
}

export async function api(
  h: RemoteTestHost,
  s: Session | null,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${h.url}${path}`, {
    method,
    headers: { ...(s ? { cookie: s.cookie } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

export async function pairingCode(h: RemoteTestHost, s: Session): Promise<string> {
  const r = await api(h, s, 'POST', '/api/pairing-codes');
  if (r.status !== 201) throw new Error(`pairing code: ${r.status} ${JSON.stringify(r.json)}`);
  return String(r.json['code']);
}

export interface TestAgent {
  agent: WorkerAgent;
  identity: WorkerIdentity;
  root: string;
  events: AgentEvent[];
  stop(): Promise<void>;
}

export interface AgentOptions {
  engines?: ReadonlyMap<string, Engine>;
  budgetCap?: number | null;
  openToAdmin?: boolean;
  concurrency?: number;
  name?: string;
  backoff?: { initialMs: number; maxMs: number };
  start?: boolean;
}

/** Pairs a fresh worker home for `s` and starts an in-process agent (exec engine by default). */
export async function startAgent(h: RemoteTestHost, s: Session, o: AgentOptions = {}): Promise<TestAgent> {
  const dir = join(h.home.dir, `agent-${Math.random().toString(36).slice(2, 8)}`);
  const root = join(dir, 'work');
  mkdirSync(root, { recursive: true });
  const engines = o.engines ?? new Map<string, Engine>([['exec', createExecEngine({ killGraceMs: 300 })]]);
  const identity = await pairWorker({
    home: join(dir, 'home'),
    hostUrl: h.url,
    code: await pairingCode(h, s),
    name: o.name,
    engines: [...engines.keys()],
    openToAdmin: o.openToAdmin ?? false,
  });
  const gate = createWorkerGate({ config: defaultConfig(), configFile: null, home: join(dir, 'home'), workspaceRoot: root });
  const runner = new TaskRunner({
    engines,
    workspaceRoot: root,
    budgetCap: o.budgetCap ?? null,
    gate,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
    flushMs: 10,
  });
  const agent = new WorkerAgent({
    identity,
    runner,
    openToAdmin: o.openToAdmin ?? false,
    concurrency: o.concurrency ?? 1,
    heartbeatIntervalMs: 300,
    backoff: o.backoff ?? { initialMs: 50, maxMs: 500 },
  });
  const events: AgentEvent[] = [];
  agent.on((e) => events.push(e));
  if (o.start !== false) {
    agent.start();
    await waitFor(() => events.some((e) => e.type === 'connected'), `agent ${identity.worker_id} connected`, 5000);
  }
  return { agent, identity, root, events, stop: () => agent.stop(1000) };
}

/** Submits one task as `submittedBy` straight through the TaskService (what POST /api/submit-task does). */
export function submitTask(
  h: RemoteTestHost,
  submittedBy: string,
  t: { prompt: string; engine?: string; target?: string; budget_usd?: number; max_attempts?: number; id?: string },
): string {
  const { id = 't', ...rest } = t;
  const r = h.host.service.submitGraph(
    { name: 'remote', tasks: [{ id, engine: 'exec', depends_on: [], trigger: 'all_success', ...rest }] },
    {
      submittedBy,
      who: submittedBy === 'admin' ? { actor: 'admin', origin: 'local' } : SYSTEM,
      workspace: h.home.workspace,
      defaultTarget: submittedBy === 'admin' ? 'host' : 'own-worker',
      holdHostTasks: submittedBy !== 'admin',
    },
  );
  return r.task_ids[0] as string;
}

export function stateOf(h: RemoteTestHost, id: string): string | undefined {
  return h.host.store.getTask(id)?.state;
}

export function audits(h: RemoteTestHost, action: string): Array<{ actor: string; detail: unknown; target: string | null }> {
  return h.host.store.listAudit({ action, limit: 1000 }) as Array<{ actor: string; detail: unknown; target: string | null }>;
}

/** The body of POST /api/workers/enroll for `keys` with `code`: the proof over this host's key and certificate (pairing-mac.ts). */
export function enrolBody(h: RemoteTestHost, code: string, keys: KeyPair, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const info = h.remote.pairing.info();
  const t = { host_public_key: info.host_public_key, cert_fingerprint: info.cert_fingerprint, worker_public_key: exportPublicKeyRaw(keys.publicKey) };
  return { public_key: t.worker_public_key, proof: workerProof(pairingSecret(code), t), name: 'raw', engines: ['exec'], open_to_admin: false, ...extra };
}

/** Enrols a key the test holds (no agent), for the raw client. */
export async function enrolKey(
  h: RemoteTestHost,
  s: Session,
  o: { engines?: string[]; open_to_admin?: boolean } = {},
): Promise<{ worker_id: string; keys: KeyPair }> {
  const keys = generateKeyPair();
  const r = await api(
    h,
    null,
    'POST',
    '/api/workers/enroll',
    enrolBody(h, await pairingCode(h, s), keys, { engines: o.engines ?? ['exec'], open_to_admin: o.open_to_admin ?? false }),
  );
  if (r.status !== 201) throw new Error(`enrol: ${r.status} ${JSON.stringify(r.json)}`);
  return { worker_id: String(r.json['worker_id']), keys };
}

/** A protocol client that does exactly what the test says, nothing more (no heartbeats unless sent). */
export class RawWorker {
  readonly inbox: ProtocolMessage[] = [];
  closed: { code: number; reason: string } | null = null;
  challenge = '';
  private constructor(
    readonly ws: WebSocket,
    readonly id: { worker_id: string; keys: KeyPair },
  ) {
    ws.on('message', (d: RawData) => {
      const p = parseMessage(d);
      if (p.ok) this.inbox.push(p.msg);
      this.wake();
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    ws.on('error', () => {});
  }

  static async open(
    h: RemoteTestHost,
    id: { worker_id: string; keys: KeyPair },
    o: { engines?: string[]; open_to_admin?: boolean; auth?: boolean; versions?: number[] } = {},
  ): Promise<RawWorker> {
    const ws = new WebSocket(`${h.url.replace('http', 'ws')}/ws/remote-exec`, { maxPayload: 64 * 1024 * 1024 });
    await new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)));
    const raw = new RawWorker(ws, id);
    if (o.auth === false) return raw;
    raw.send({
      type: 'HELLO',
      worker_id: id.worker_id,
      versions: o.versions ?? [2], // a v2 peer by default: one message per frame (batch tests pass [3])
      client_nonce: randomBytes(16).toString('base64url'),
      engines: o.engines ?? ['exec'],
      open_to_admin: o.open_to_admin ?? false,
    });
    const ch = await raw.next('CHALLENGE');
    raw.challenge = ch.type === 'CHALLENGE' ? ch.nonce : '';
    raw.signed({ type: 'AUTH', worker_id: id.worker_id, nonce: raw.challenge });
    const ok = await raw.next((m) => m.type === 'AUTH_OK' || m.type === 'AUTH_FAILED');
    if (ok.type !== 'AUTH_OK') throw new Error(`auth failed: ${JSON.stringify(ok)}`);
    raw.heartbeat([]); // the host dispatches to a connection after its first heartbeat
    return raw;
  }

  private hbSeq = 0;

  heartbeat(running: Array<{ task_id: string; attempt: number }>): void {
    this.signed({ type: 'HEARTBEAT', worker_id: this.id.worker_id, seq: this.hbSeq++, running, nonce: this.challenge });
  }

  send(m: unknown): void {
    this.ws.send(typeof m === 'string' || Buffer.isBuffer(m) ? m : JSON.stringify(m));
  }

  /** Signs with this worker's key (or `key`) and sends; returns the signed message. */
  signed<T extends object>(m: T, key: KeyPair = this.id.keys): T & { sig: string } {
    const s = signMessage(m, key.privateKey) as T & { sig: string };
    this.ws.send(encodeMessage(s as unknown as SignedMessage));
    return s;
  }

  private waiters = new Set<() => void>();

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves when `check` holds, re-checked on every message and on close (no polling). */
  until<T>(check: () => T | null | undefined | false, what: string, timeoutMs = 5000): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = (): boolean => {
        const v = check();
        if (!v) return false;
        this.waiters.delete(attempt);
        clearTimeout(timer);
        resolve(v);
        return true;
      };
      const timer = setTimeout(() => (this.waiters.delete(attempt), reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))), timeoutMs);
      if (!attempt()) this.waiters.add(attempt);
    });
  }

  next(want: ProtocolMessage['type'] | ((m: ProtocolMessage) => boolean), timeoutMs = 5000): Promise<ProtocolMessage> {
    const pred = typeof want === 'string' ? (m: ProtocolMessage) => m.type === want : want;
    return this.until(
      () => {
        const i = this.inbox.findIndex(pred);
        return i >= 0 ? this.inbox.splice(i, 1)[0] : undefined;
      },
      `message ${typeof want === 'string' ? want : 'matching'} for ${this.id.worker_id}`,
      timeoutMs,
    );
  }

  /** The next ERROR the host answered with. */
  async error(timeoutMs = 5000): Promise<{ code: string; message: string }> {
    const m = await this.next('ERROR', timeoutMs);
    return m.type === 'ERROR' ? { code: m.code, message: m.message } : { code: '?', message: '?' };
  }

  close(): void {
    this.ws.terminate();
  }
}
