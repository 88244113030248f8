/**
 * One worker's WebSocket on the host (`WS /ws/remote-exec`). Every frame goes
 * through the same gate, in this order, and stops at the first failure:
 *
 *   size / JSON / known type / strict schema (core/protocol parseMessage)
 *   → direction (acceptsFrom: a worker cannot send host messages)
 *   → phase (HELLO, then AUTH, then the rest)
 *   → signature with the worker's enrolled key
 *   → HEARTBEAT: this connection's nonce, increasing seq
 *     task messages: fencing, sequence and budget (dispatcher)
 *
 * A refused frame is answered with ERROR {code, message} and audited; the
 * connection stays up unless more than `maxBadMessages` are refused. Nothing a
 * refused frame says changes any state.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import type { RawData, WebSocket } from 'ws';
import {
  acceptsFrom,
  BATCH_VERSION,
  batchItemsFrom,
  encodeMessage,
  HANDSHAKE_TIMEOUT_MS,
  HEARTBEAT_INTERVAL_MS,
  MAX_RUNNING,
  negotiateVersion,
  parseMessage,
  WS_PING_INTERVAL_MS,
  WS_PONG_TIMEOUT_MS,
  type BatchItem,
  type MessageOf,
  type ProtocolErrorCode,
  type ProtocolMessage,
} from '../../core/protocol.js';
import { RefusalWindow } from '../../core/refusal-window.js';
import { checkSequence } from '../../core/replay.js';
import type { Actor, Store } from '../../store/store.js';
import type { WorkerStore } from '../../store/workers.js';
import type { RemoteDispatcher, TaskMsg, WorkerLink } from './dispatcher.js';
import type { HostIdentity } from '../pairing.js';
import { importPublicKey, signMessage, verifyMessage, verifyMessageAsync } from '../signing.js';

/** Shared by all connections: unauthenticated refusals per source address and code, once a second, at most 20 records a second in all. */
const remoteRefusals = new RefusalWindow(1000, 10_000, 20);

export interface ConnectionDeps {
  hostKey: HostIdentity;
  workers: WorkerStore;
  store: Store;
  dispatcher: RemoteDispatcher;
  now: () => number;
  maxBadMessages: number;
  handshakeTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  pingIntervalMs?: number;
}

type Phase = 'hello' | 'challenged' | 'ready' | 'closed';

export class HostConnection implements WorkerLink {
  workerId = '';
  owner = '';
  name = '';
  engines: ReadonlySet<string> = new Set();
  openToAdmin = false;
  enrolledOpenToAdmin = false;
  /** Negotiated at HELLO; BATCH frames (either way) only at BATCH_VERSION or above. */
  version = 0;
  private phase: Phase = 'hello';
  private hello: MessageOf<'HELLO'> | null = null;
  private challenge = '';
  private ended = false; // close() was called: nothing more this peer says is acted on (revocation)
  private readonly peerRefusals = new RefusalWindow(1000, 64);
  private key: KeyObject | null = null;
  private bad = 0;
  private inSeq: number | null = null;
  private outSeq = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private handshake: NodeJS.Timeout | null = null;
  private awaitingPong = false;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly ws: WebSocket,
    readonly ip: string,
    private readonly d: ConnectionDeps,
  ) {
    this.armHandshake();
    ws.on('message', (data: RawData) => this.onFrame(data));
    ws.on('error', (e: Error & { code?: string }) => {
      const tooLarge = e.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
      this.audit('remote.refused', { code: tooLarge ? 'too_large' : 'invalid_message', message: e.message.slice(0, 200) });
    });
    ws.on('close', (code: number) => this.onClose(code));
    // Liveness of the TCP peer (trpc-style defaults from core/protocol): ping, and terminate without a pong in time.
    ws.on('pong', () => (this.awaitingPong = false));
    const ping = setInterval(() => {
      if (ws.readyState !== ws.OPEN) return; // ping() throws on a closing socket
      this.awaitingPong = true;
      ws.ping();
      const t = setTimeout(() => this.awaitingPong && ws.terminate(), WS_PONG_TIMEOUT_MS);
      t.unref();
    }, d.pingIntervalMs ?? WS_PING_INTERVAL_MS);
    ping.unref();
    this.timers.push(ping);
  }

  send(msg: ProtocolMessage): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(encodeMessage(msg));
  }

  /** The worker id its HELLO named (before AUTH: not yet proven). */
  get helloWorkerId(): string {
    return this.hello?.worker_id ?? '';
  }

  /** The CHALLENGE nonce of this connection: host orders sent on it are bound to it. */
  get session(): string {
    return this.challenge;
  }

  close(code: number, reason: string): void {
    if (this.phase === 'closed') return;
    this.ended = true;
    this.ws.close(code, reason.slice(0, 120));
    // A peer that does not answer the close handshake must not keep the socket (a revoked worker is cut off at once).
    setTimeout(() => this.ws.terminate(), 2000).unref();
  }

  private actor(): Actor {
    return { actor: this.workerId ? `worker:${this.workerId}` : 'anonymous', origin: this.ip };
  }

  /**
   * Frames are handled strictly in arrival order. The signature of an
   * authenticated connection's message is checked on the thread pool as soon
   * as the frame is parsed; its verdict is applied in order.
   */
  private onFrame(data: RawData): void {
    if (this.phase === 'closed' || this.ended) return;
    const p = parseMessage(data);
    const early = p.ok && this.phase === 'ready' && this.key && 'sig' in p.msg ? verifyMessageAsync(p.msg, this.key) : null;
    this.chain = this.chain
      .then(async () => this.handle(p, early ? await early : null))
      .catch(() => this.refuse('internal', 'the host failed to handle this message'));
  }

  private handle(p: ReturnType<typeof parseMessage>, signatureOk: boolean | null): void {
    if (this.phase === 'closed' || this.ended) return;
    if (!p.ok) return this.refuse(p.code, p.message);
    const msg = p.msg;
    if (!acceptsFrom(msg.type, 'worker')) return this.refuse('invalid_message', `${msg.type} is a host message; a worker may not send it`, msg);
    if (msg.type === 'ERROR') return this.onPeerError(msg);
    if (this.phase === 'hello') {
      return msg.type === 'HELLO' ? this.onHello(msg) : this.refuse('unauthenticated', 'send HELLO first', msg);
    }
    if (this.phase === 'challenged') {
      return msg.type === 'AUTH' ? this.onAuth(msg) : this.refuse('unauthenticated', 'answer the CHALLENGE with AUTH first', msg);
    }
    if (msg.type === 'HELLO' || msg.type === 'AUTH') return this.refuse('invalid_message', 'this connection is already authenticated', msg);
    if (!this.key || !(signatureOk ?? verifyMessage(msg, this.key)))
      return this.refuse('bad_signature', `${msg.type} is not signed by worker ${this.workerId}'s key`, msg);
    if (msg.type === 'HEARTBEAT') return this.onHeartbeat(msg);
    if (msg.type === 'BATCH') return this.onBatch(msg);
    const task = asTaskMessage(msg);
    if (!task) return this.refuse('invalid_message', `${msg.type} is not expected from a worker here`, msg);
    const v = this.d.dispatcher.onTaskMessage(this, task, this.actor());
    if (!v.ok) this.refuse(v.code, v.reason, msg);
  }

  private onHello(msg: MessageOf<'HELLO'>): void {
    const v = negotiateVersion(msg.versions);
    if (!v.ok) {
      this.send({ type: 'ERROR', code: v.code, message: v.message });
      this.audit('remote.refused', { code: v.code, worker: msg.worker_id });
      return this.close(1002, 'unsupported protocol version');
    }
    this.hello = msg;
    this.version = v.version;
    this.challenge = randomBytes(16).toString('base64url');
    this.phase = 'challenged';
    this.armHandshake();
    const challenge = {
      type: 'CHALLENGE' as const,
      worker_id: msg.worker_id,
      client_nonce: msg.client_nonce,
      nonce: this.challenge,
      host_time: this.d.now(),
      version: v.version,
    };
    this.send(signMessage(challenge, this.d.hostKey.privateKey));
  }

  /**
   * An authenticated worker refused something the host (or someone on the
   * path) sent it — e.g. an order bound to another worker or connection.
   * Audited, coalesced per code and second so a flood of replays cannot grow
   * the audit log; ignored before AUTH (anyone can send an ERROR).
   */
  private onPeerError(msg: MessageOf<'ERROR'>): void {
    if (this.phase !== 'ready') return;
    const { write, suppressed } = this.peerRefusals.admit(msg.code, this.d.now());
    if (!write) return;
    this.audit('remote.worker_refused', { code: msg.code, message: msg.message.slice(0, 300), ...(suppressed > 0 ? { suppressed } : {}) });
  }

  private onAuth(msg: MessageOf<'AUTH'>): void {
    const hello = this.hello as MessageOf<'HELLO'>;
    const fail = (reason: string): void => {
      this.send({ type: 'AUTH_FAILED', reason });
      this.audit('remote.auth_failed', { worker: msg.worker_id, reason });
      this.close(4001, 'authentication failed');
    };
    if (msg.worker_id !== hello.worker_id) return fail('AUTH names another worker than HELLO');
    if (msg.nonce !== this.challenge) return fail("AUTH does not answer this connection's challenge");
    const rec = this.d.workers.get(msg.worker_id);
    if (!rec) return fail(`unknown worker ${msg.worker_id}; pair it again with a new code`);
    const key = importPublicKey(rec.public_key);
    if (!verifyMessage(msg, key)) return fail('signature does not verify with the enrolled key');
    if (rec.revoked_at !== null) return fail(`worker ${rec.id} was revoked; pair it again with a new code`);
    this.clearHandshake();
    this.phase = 'ready';
    this.key = key;
    this.workerId = rec.id;
    this.owner = rec.owner;
    this.name = rec.name;
    this.engines = new Set(hello.engines);
    this.enrolledOpenToAdmin = rec.open_to_admin;
    this.openToAdmin = rec.open_to_admin && hello.open_to_admin;
    this.d.workers.touch(rec.id, this.d.now(), this.ip);
    this.send({ type: 'AUTH_OK', worker_id: rec.id, host_key_fingerprint: this.d.hostKey.fingerprint });
    this.audit('remote.connected', { engines: hello.engines, open_to_admin: this.openToAdmin, version: hello.versions });
    const hb = setInterval(() => this.sendHeartbeat(), this.d.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS);
    hb.unref();
    this.timers.push(hb);
    this.d.dispatcher.attach(this);
  }

  /**
   * A worker BATCH, its one signature already verified: bound to this worker
   * and this connection, holding only worker messages; then each item is
   * handled exactly as the same message sent alone (fencing, nonce, sequence,
   * budget), and refused alone.
   */
  private onBatch(msg: MessageOf<'BATCH'>): void {
    if (this.version < BATCH_VERSION)
      return this.refuse('invalid_message', `BATCH needs protocol v${BATCH_VERSION}; this connection speaks v${this.version}`, msg);
    if (msg.worker_id !== this.workerId) return this.refuse('not_yours', `BATCH names worker ${msg.worker_id}`, msg);
    if (msg.session !== this.challenge) return this.refuse('replayed', "BATCH carries another connection's session", msg);
    if (!batchItemsFrom(msg.items, 'worker')) return this.refuse('invalid_message', 'a worker BATCH may hold only task reports', msg);
    const who = this.actor();
    for (const item of msg.items) {
      const v = this.d.dispatcher.onTaskMessage(this, item as TaskMsg, who); // batchItemsFrom: a worker item is a TaskMsg;
      if (!v.ok) this.refuse(v.code, v.reason, item);
    }
  }

  private onHeartbeat(msg: MessageOf<'HEARTBEAT'>): void {
    if (msg.worker_id !== this.workerId) return this.refuse('not_yours', `HEARTBEAT names worker ${msg.worker_id}`, msg);
    if (msg.nonce !== this.challenge) return this.refuse('replayed', "HEARTBEAT carries another connection's nonce", msg);
    const s = checkSequence(this.inSeq, msg.seq);
    if (!s.ok) return this.refuse(s.code, s.reason, msg);
    this.inSeq = msg.seq;
    this.d.dispatcher.onHeartbeat(this, msg.running);
  }

  private sendHeartbeat(): void {
    if (this.phase !== 'ready') return;
    const running = this.d.dispatcher.runningOf(this.workerId).slice(0, MAX_RUNNING);
    const unsigned = { type: 'HEARTBEAT' as const, worker_id: this.workerId, seq: this.outSeq++, running, nonce: this.challenge };
    this.send(signMessage(unsigned, this.d.hostKey.privateKey));
  }

  private refuse(code: ProtocolErrorCode, message: string, msg?: ProtocolMessage | BatchItem): void {
    this.bad++;
    const detail: Record<string, unknown> = { code, message: message.slice(0, 300), bad: this.bad };
    if (msg) {
      detail['type'] = msg.type;
      if ('task_id' in msg) detail['task_id'] = msg.task_id;
      if ('attempt' in msg) detail['attempt'] = msg.attempt;
    }
    this.audit('remote.refused', detail);
    this.send({ type: 'ERROR', code, message: message.slice(0, 1000) });
    if (this.bad > this.d.maxBadMessages) {
      this.audit('remote.disconnected', { reason: `more than ${this.d.maxBadMessages} refused messages` });
      this.close(1008, 'too many refused messages');
    }
  }

  private audit(action: string, detail: Record<string, unknown>): void {
    if (action === 'remote.refused' && !this.workerId) {
      // Unauthenticated refusals are coalesced per source and second (issue 14): a peer sending junk frames must not grow the audit log.
      // (An authenticated worker's are each recorded; it is disconnected past maxBadMessages and can be revoked.)
      const { write, suppressed } = remoteRefusals.admit(`${this.actor().origin}|${String(detail['code'])}`, Date.now());
      if (!write) return;
      if (suppressed) detail = { ...detail, repeats_not_recorded: suppressed };
    }
    try {
      this.d.store.appendAudit({ ...this.actor(), action, target: this.workerId || null, detail });
    } catch {
      /* a failing audit write must not crash the socket handler */
    }
  }

  private armHandshake(): void {
    this.clearHandshake();
    this.handshake = setTimeout(() => {
      this.audit('remote.refused', { code: 'unauthenticated', message: 'handshake timeout' });
      this.close(4002, 'handshake timeout');
    }, this.d.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS);
    this.handshake.unref();
  }

  private clearHandshake(): void {
    if (this.handshake) clearTimeout(this.handshake);
    this.handshake = null;
  }

  private onClose(code: number): void {
    const wasReady = this.phase === 'ready';
    this.phase = 'closed';
    this.clearHandshake();
    for (const t of this.timers) clearInterval(t);
    if (wasReady) {
      this.d.dispatcher.detach(this);
      this.audit('remote.disconnected', { code });
    }
  }
}

function asTaskMessage(msg: ProtocolMessage): TaskMsg | null {
  switch (msg.type) {
    case 'TASK_ACCEPTED':
    case 'TASK_REJECTED':
    case 'TASK_PROGRESS':
    case 'TASK_COMPLETED':
    case 'TASK_FAILED':
      return msg;
    default:
      return null;
  }
}
