/**
 * The `colony worker` agent: one WebSocket to the host's /ws/remote-exec,
 * re-established with capped exponential backoff (and jitter) until stopped.
 *
 *   → HELLO {versions, client_nonce, engines, open_to_admin}
 *   ← CHALLENGE {nonce, host_time, client_nonce} signed by the pinned host key
 *     (else the connection is dropped: its host_time is not trusted)
 *   → AUTH (signed nonce)                        ← AUTH_OK {host_key_fingerprint} (must match the pinned key)
 *   ← TASK_ASSIGNED: host signature (pinned key) → bound to this worker and
 *     this connection → expiry (host clock, and this machine's clock within a
 *     tolerance) → nonce (never twice) → capacity → engine → workspace → own
 *     safety gateway; an order for another worker or connection is not
 *     answered but reported to the host as ERROR (audited there);
 *     any failure answers TASK_REJECTED {reason}; else TASK_ACCEPTED, then
 *     TASK_PROGRESS*, then TASK_COMPLETED | TASK_FAILED, all signed.
 *   ← TASK_CANCELLED (signed, fresh nonce): the engine is aborted (process group killed).
 *   ↔ HEARTBEAT every few seconds; a task the host no longer lists is aborted.
 * Task messages produced while disconnected wait in an outbox and are sent
 * after the next AUTH_OK; the host fences any that are stale, so a result is
 * never counted twice. A task whose lease must have lapsed while offline is aborted.
 * With an InflightBook (remote/inflight.ts) each attempt is recorded in the
 * worker home while it runs; attempts a crashed previous run left are reported
 * (TASK_FAILED E_LOST, or their saved final report) right after AUTH_OK,
 * before the first HEARTBEAT, so the host closes them before dispatching.
 */
import { randomBytes } from 'node:crypto';
import WebSocket, { type RawData } from 'ws';
import {
  acceptsFrom,
  BATCH_VERSION,
  batchItemsFrom,
  encodeMessage,
  MAX_HOST_CLOCK_OFFSET_MS,
  HEARTBEAT_INTERVAL_MS,
  MAX_MESSAGE_BYTES,
  MAX_REASON_BYTES,
  MAX_RUNNING,
  parseMessage,
  SUPPORTED_VERSIONS,
  type BatchItem,
  type BatchItemOf,
  type MessageOf,
  type ProtocolMessage,
} from '../../core/protocol.js';
import { planFrames } from '../../core/batch.js';
import { checkAssignment, checkBinding, checkLocalExpiry, checkSequence, NonceCache, type Check } from '../../core/replay.js';
import { sameFingerprint, signMessage, signMessageAsync, verifyMessage, verifyMessageAsync } from '../signing.js';
import { pinnedTls } from '../tls.js';
import type { WorkerIdentity } from './worker-identity.js';
import type { InflightBook, InflightRec } from './inflight.js';
import { clipBytes, finalMessage, lostMessage, type AgentEvent, type Running, type TaskOut } from './worker-messages.js';

export type { AgentEvent } from './worker-messages.js';

/** A message whose signed text is kept until it reached the socket (InflightBook final reports). */
type Track = { persist: (text: string) => void; sent: () => void };
import type { Progress, TaskRunner } from './worker-runner.js';

export interface WorkerAgentOptions {
  identity: WorkerIdentity;
  runner: TaskRunner;
  openToAdmin: boolean;
  concurrency?: number;
  hostUrl?: string;
  backoff?: { initialMs: number; maxMs: number };
  heartbeatIntervalMs?: number;
  outboxLimit?: number;
  /** Where in-flight attempts are recorded (survives a crash of this process). */
  inflight?: InflightBook;
  /** What a previous run lost (InflightBook.recover(), done before start): reported after the first AUTH_OK. */
  recovered?: { lost: InflightRec[]; finals: string[] };
  /** Clock and randomness, injected as on the host (tests drive them); default Date.now and Math.random. */
  now?: () => number;
  random?: () => number;
}

export class WorkerAgent {
  private ws: WebSocket | null = null;
  private phase: 'idle' | 'hello' | 'challenged' | 'ready' = 'idle';
  private challenge = '';
  private version = 0; // negotiated at CHALLENGE: BATCH frames only at BATCH_VERSION or above
  private clientNonce = '';
  private offset = 0; // host clock - our clock
  private hbOut = 0;
  private hbIn: number | null = null;
  private hbTimer: NodeJS.Timeout | null = null;
  private retry: NodeJS.Timeout | null = null;
  private failures = 0;
  private lastError: string | null = null;
  private stopped = false;
  private offlineSince: number | null = null;
  private readonly outbox: Array<{ text: string; sent?: () => void }> = [];
  private lostReports: InflightRec[];
  private savedFinals: string[];
  private sendChain: Promise<void> = Promise.resolve();
  /** Task messages produced in this turn of the event loop, sent together (one BATCH) on the next. */
  private pending: Array<{ msg: TaskOut; track?: Track }> = [];
  private flushScheduled = false;
  private readonly nonces = new NonceCache();
  private readonly tasks = new Map<string, Running>();
  private readonly listeners = new Set<(e: AgentEvent) => void>();
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly watchdog: NodeJS.Timeout;

  constructor(private readonly o: WorkerAgentOptions) {
    this.lostReports = [...(o.recovered?.lost ?? [])];
    this.savedFinals = [...(o.recovered?.finals ?? [])];
    this.now = o.now ?? Date.now;
    this.random = o.random ?? Math.random;
    this.watchdog = setInterval(() => this.abandonLapsed(), 1000);
    this.watchdog.unref();
  }

  on(fn: (e: AgentEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get connected(): boolean {
    return this.phase === 'ready';
  }

  runningTasks(): Array<{ task_id: string; attempt: number }> {
    return [...this.tasks.values()].map((t) => ({ task_id: t.task_id, attempt: t.attempt }));
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  /** Stops: running tasks are aborted and reported as E_LOST ("worker lost": a lost attempt that counts, requeued while attempts remain), then the socket closes. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    clearInterval(this.watchdog);
    for (const t of this.tasks.values()) ((t.stop = t.stop ?? 'stopping'), t.abort.abort());
    await Promise.race([Promise.allSettled([...this.tasks.values()].map((t) => t.done)), new Promise((r) => setTimeout(r, graceMs).unref())]);
    this.flush(); // what the aborted tasks reported this turn
    await Promise.race([this.sendChain, new Promise((r) => setTimeout(r, 1000).unref())]); // the final reports go out before the socket closes
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.OPEN)
      await new Promise<void>((r) => (ws.once('close', () => r()), ws.close(1000, 'worker stopping'), setTimeout(r, 1000).unref()));
    else ws?.terminate();
    this.clearHeartbeat();
  }

  /** Drops the connection as a network failure would (tests); the agent reconnects. */
  dropConnection(): void {
    this.ws?.terminate();
  }

  private emit(e: AgentEvent): void {
    for (const l of this.listeners) l(e);
  }

  private connect(): void {
    if (this.stopped) return;
    const url = (this.o.hostUrl ?? this.o.identity.host_url).replace(/\/+$/, '');
    const pinned = this.o.identity.host_cert_pem;
    if (pinned && !url.startsWith('https://')) return this.fatal(`this worker pinned the host's TLS certificate; refusing to connect without TLS to ${url}`);
    // wss accepts only the certificate pinned at pairing (remote/tls.ts): another one on the same address fails the handshake.
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws/remote-exec`, {
      maxPayload: MAX_MESSAGE_BYTES,
      handshakeTimeout: 10_000,
      ...(pinned ? (pinnedTls(pinned) as unknown as WebSocket.ClientOptions) : {}),
    }); // ws hands TLS options to tls.connect (Node's checkServerIdentity contract)
    this.ws = ws;
    this.phase = 'hello';
    this.challenge = '';
    this.clientNonce = randomBytes(16).toString('base64url');
    ws.on('open', () => {
      this.send({
        type: 'HELLO',
        worker_id: this.o.identity.worker_id,
        versions: [...SUPPORTED_VERSIONS],
        client_nonce: this.clientNonce,
        engines: this.o.runner.engineNames,
        open_to_admin: this.o.openToAdmin,
      });
    });
    ws.on('message', (data: RawData) => this.onFrame(ws, data));
    ws.on('error', (e: Error) => (this.lastError = e.message)); // 'close' follows and schedules the reconnect
    ws.on('close', (code: number, reason: Buffer) => this.onClose(ws, code, reason.toString('utf8')));
  }

  private onClose(ws: WebSocket, code: number, reason: string): void {
    if (this.ws !== ws) return;
    const wasReady = this.phase === 'ready';
    this.phase = 'idle';
    this.ws = null;
    this.clearHeartbeat();
    this.offlineSince ??= this.now();
    if (wasReady) this.emit({ type: 'disconnected', code, reason });
    if (this.stopped) return;
    const b = this.o.backoff ?? { initialMs: 500, maxMs: 30_000 };
    const delay = Math.round(Math.min(b.maxMs, b.initialMs * 2 ** Math.min(this.failures, 16)) * (0.5 + this.random() / 2));
    this.failures++;
    if (!wasReady) this.emit({ type: 'retrying', in_ms: delay, error: this.lastError ?? `closed (${code}${reason ? ` ${reason}` : ''})` });
    this.lastError = null;
    this.retry = setTimeout(() => this.connect(), delay); // keeps the process alive while the host is away
  }

  private fatal(reason: string): void {
    this.stopped = true;
    this.emit({ type: 'fatal', reason });
    this.ws?.close(1000, 'giving up');
  }

  private onFrame(ws: WebSocket, data: RawData): void {
    if (this.ws !== ws) return;
    const p = parseMessage(data);
    if (!p.ok || !acceptsFrom(p.msg.type, 'host')) return; // nothing the host may not send is acted on
    const msg = p.msg;
    switch (msg.type) {
      case 'CHALLENGE':
        if (this.phase !== 'hello') return;
        // Only a live CHALLENGE from the pinned host is trusted with our clock: signed, for us, echoing our HELLO's nonce.
        if (msg.worker_id !== this.o.identity.worker_id || msg.client_nonce !== this.clientNonce || !verifyMessage(msg, this.o.identity.hostKey)) {
          this.lastError = 'the CHALLENGE is not signed by the pinned host key for this connection (someone in between?)';
          this.emit({ type: 'refused', code: 'bad_signature', reason: this.lastError });
          return void ws.terminate();
        }
        this.offset = msg.host_time - this.now();
        if (Math.abs(this.offset) > MAX_HOST_CLOCK_OFFSET_MS)
          this.emit({
            type: 'host_error',
            code: 'expired',
            message: `the host's clock differs from this machine's by ${Math.round(this.offset / 1000)} s; assignments will be refused until the clocks agree`,
          });
        this.challenge = msg.nonce;
        this.version = msg.version;
        this.phase = 'challenged';
        return this.send(signMessage({ type: 'AUTH' as const, worker_id: this.o.identity.worker_id, nonce: msg.nonce }, this.o.identity.keys.privateKey));
      case 'AUTH_OK':
        if (this.phase !== 'challenged') return;
        if (!sameFingerprint(msg.host_key_fingerprint, this.o.identity.host_fingerprint)) {
          return this.fatal(
            `the host's key changed (pinned ${this.o.identity.host_fingerprint}, host says ${msg.host_key_fingerprint}); refusing to work for it`,
          );
        }
        return this.onReady(ws);
      case 'AUTH_FAILED':
        return this.fatal(`the host refused this worker: ${msg.reason}`);
      case 'ERROR':
        if (msg.code === 'unsupported_version') return this.fatal(msg.message);
        return this.emit({ type: 'host_error', code: msg.code, message: msg.message });
      case 'TASK_ASSIGNED':
        if (this.phase === 'ready') void this.onAssigned(msg, verifyMessageAsync(msg, this.o.identity.hostKey));
        return;
      case 'TASK_CANCELLED':
        return this.onCancelled(msg, verifyMessage(msg, this.o.identity.hostKey));
      case 'BATCH':
        if (this.phase === 'ready') void this.onBatch(msg);
        return;
      case 'HEARTBEAT':
        return this.onHeartbeat(msg);
      default:
        return;
    }
  }

  private onReady(ws: WebSocket): void {
    this.phase = 'ready';
    this.failures = 0;
    this.offlineSince = null;
    this.hbOut = 0;
    this.hbIn = null;
    this.hbTimer = setInterval(() => this.sendHeartbeat(), this.o.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS);
    this.hbTimer.unref();
    this.emit({ type: 'connected', worker_id: this.o.identity.worker_id });
    this.reportRecovered(ws);
    while (this.outbox.length > 0 && this.ws === ws && ws.readyState === WebSocket.OPEN) {
      const m = this.outbox.shift() as { text: string; sent?: () => void };
      ws.send(m.text);
      m.sent?.();
    }
    this.sendHeartbeat(); // tells the host what still runs here; it dispatches only after this
  }

  /** Attempts a previous run of this worker lost, told to the host before anything else on the first connection. */
  private reportRecovered(ws: WebSocket): void {
    for (const rec of this.lostReports) {
      ws.send(encodeMessage(signMessage(lostMessage(rec), this.o.identity.keys.privateKey) as ProtocolMessage));
      this.emit({ type: 'lost', task_id: rec.task_id, attempt: rec.attempt });
    }
    for (const text of this.savedFinals) ws.send(text);
    this.lostReports = [];
    this.savedFinals = [];
  }

  /**
   * A host BATCH: one signature for all its orders, then the envelope's binding
   * (this worker, this connection), then each order exactly as if it came alone
   * (its own binding, expiry and nonce). A batch that fails is not answered
   * item by item: it may not be ours (reported to the host as ERROR).
   */
  private async onBatch(msg: MessageOf<'BATCH'>): Promise<void> {
    const ok = this.version >= BATCH_VERSION && batchItemsFrom(msg.items, 'host') && (await verifyMessageAsync(msg, this.o.identity.hostKey));
    if (!ok) {
      this.emit({ type: 'refused', code: 'bad_signature', reason: `a BATCH of ${msg.items.length} not signed by the pinned host key (or not allowed here)` });
      return this.send({ type: 'ERROR', code: 'bad_signature', message: 'refused a BATCH: not signed by the pinned host key for this connection' });
    }
    if (!this.checkOrder({ ...msg, type: 'BATCH' }).ok) return;
    const verified = Promise.resolve(true);
    for (const item of msg.items) {
      if (item.type === 'TASK_ASSIGNED') void this.onAssigned(item, verified);
      else if (item.type === 'TASK_CANCELLED') this.onCancelled(item, true);
    }
  }

  private async onAssigned(msg: BatchItemOf<'TASK_ASSIGNED'>, signatureOk: Promise<boolean>): Promise<void> {
    const ref = { task_id: msg.task_id, attempt: msg.attempt };
    const reject = (reason: string): void => {
      this.sendTask({ type: 'TASK_REJECTED', ...ref, reason: clipBytes(reason, MAX_REASON_BYTES), nonce: msg.nonce });
      this.emit({ type: 'rejected', ...ref, reason });
    };
    if (!(await signatureOk)) return reject('bad_signature: the assignment is not signed by the pinned host key');
    const bound = this.checkOrder(msg);
    if (!bound.ok) return; // not ours to answer: reported to the host by checkOrder
    this.emit({ type: 'assigned', ...ref });
    const fresh = checkAssignment(msg, this.now() + this.offset, this.nonces);
    if (!fresh.ok) return reject(`${fresh.code}: ${fresh.reason}`);
    const local = checkLocalExpiry(msg.expires_at, this.now(), this.nonces.windowMs); // whatever host_time said
    if (!local.ok) return reject(`${local.code}: ${local.reason}`);
    if (this.tasks.has(msg.task_id)) return reject(`already running task ${msg.task_id}`);
    if (this.tasks.size >= (this.o.concurrency ?? 1)) return reject(`busy: this worker runs at most ${this.o.concurrency ?? 1} task(s) at a time`);
    const abort = new AbortController();
    let release: () => void = () => {};
    const run: Running = { ...ref, lease_ms: msg.lease_ms, abort, stop: null, done: new Promise<void>((r) => (release = r)) };
    this.tasks.set(msg.task_id, run);
    const book = this.o.inflight;
    let recorded = false;
    let reported = false;
    try {
      const prep = await this.o.runner.prepare(msg);
      if (!prep.ok) return reject(prep.reason);
      if (run.stop) return;
      if (book) {
        // Recorded before anything runs: a crash from here on is found by the next start.
        try {
          book.begin({ ...ref, nonce: msg.nonce, engine: prep.prepared.engine.name });
        } catch (e) {
          return reject(`cannot record the attempt in the worker home: ${e instanceof Error ? e.message : String(e)}`);
        }
        recorded = true;
      }
      this.sendTask({ type: 'TASK_ACCEPTED', ...ref, nonce: msg.nonce });
      this.emit({ type: 'accepted', ...ref });
      let seq = 0;
      const progress = (p: Progress): void =>
        void (run.stop !== 'cancelled' && this.sendTask({ type: 'TASK_PROGRESS', ...ref, seq: seq++, status: 'running', ...p, nonce: msg.nonce }));
      const onProcess = book ? (info: Parameters<InflightBook['process']>[1]) => book.process(ref, info) : undefined;
      const final = await this.o.runner.run(prep.prepared, { signal: abort.signal, stopReason: () => run.stop, onProcess }, progress);
      if (run.stop === 'cancelled') return;
      reported = recorded;
      this.sendTask(
        finalMessage(final, ref, msg.nonce),
        recorded && book ? { persist: (text) => book.final(ref, text), sent: () => book.end(ref) } : undefined,
      );
      this.emit({ type: 'finished', ...ref, ok: final.ok, summary: final.ok ? final.summary : final.error });
    } finally {
      if (recorded && !reported) book?.end(ref); // cancelled or failed to run: nothing left to report
      if (this.tasks.get(msg.task_id) === run) this.tasks.delete(msg.task_id);
      release();
    }
  }

  /**
   * A signed order must be for this worker and this connection. A refusal is
   * not answered as the order asks (it was not meant for us: a TASK_REJECTED
   * would tell the host about another worker's task) but reported to the host
   * as ERROR, which the host audits (coalesced).
   */
  private checkOrder(
    msg: BatchItemOf<'TASK_ASSIGNED' | 'TASK_CANCELLED'> | { type: 'BATCH'; worker_id: string; session: string; items: unknown[] },
  ): Check<string> {
    const c = checkBinding(msg, { workerId: this.o.identity.worker_id, session: this.phase === 'ready' ? this.challenge : '' });
    if (!c.ok) {
      const what = msg.type === 'BATCH' ? `BATCH of ${msg.items.length}` : `${msg.type} for task ${msg.task_id.slice(0, 64)} attempt ${msg.attempt}`;
      this.emit({ type: 'refused', code: c.code, reason: `${what}: ${c.reason}` });
      this.send({ type: 'ERROR', code: c.code, message: clipBytes(`refused ${what}: ${c.reason}`, MAX_REASON_BYTES) });
    }
    return c;
  }

  private onCancelled(msg: BatchItemOf<'TASK_CANCELLED'>, signatureOk: boolean): void {
    if (!signatureOk) return;
    if (!this.checkOrder(msg).ok) return;
    if (!checkAssignment(msg, this.now() + this.offset, this.nonces).ok) return;
    const t = this.tasks.get(msg.task_id);
    if (!t || t.attempt !== msg.attempt) return;
    this.abandon(t);
  }

  private onHeartbeat(msg: MessageOf<'HEARTBEAT'>): void {
    if (this.phase !== 'ready' || msg.worker_id !== this.o.identity.worker_id || msg.nonce !== this.challenge) return;
    if (!verifyMessage(msg, this.o.identity.hostKey) || !checkSequence(this.hbIn, msg.seq).ok) return;
    this.hbIn = msg.seq;
    const leased = new Set(msg.running.map((r) => `${r.attempt}:${r.task_id}`));
    for (const t of this.tasks.values()) if (!leased.has(`${t.attempt}:${t.task_id}`)) this.abandon(t);
  }

  /** The host no longer wants this attempt: stop it and send nothing more about it. */
  private abandon(t: Running): void {
    if (t.stop) return;
    t.stop = 'cancelled';
    t.abort.abort();
    this.emit({ type: 'cancelled', task_id: t.task_id, attempt: t.attempt });
  }

  private abandonLapsed(): void {
    if (this.offlineSince === null) return;
    const offline = this.now() - this.offlineSince;
    for (const t of this.tasks.values()) if (offline > t.lease_ms) this.abandon(t);
  }

  private sendHeartbeat(): void {
    if (this.phase !== 'ready') return;
    const running = this.runningTasks().slice(0, MAX_RUNNING);
    this.send(
      signMessage(
        { type: 'HEARTBEAT' as const, worker_id: this.o.identity.worker_id, seq: this.hbOut++, running, nonce: this.challenge },
        this.o.identity.keys.privateKey,
      ),
    );
  }

  private clearHeartbeat(): void {
    if (this.hbTimer) clearInterval(this.hbTimer);
    this.hbTimer = null;
  }

  private send(msg: ProtocolMessage): void {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(encodeMessage(msg));
  }

  /**
   * Queues a task message; messages produced in the same turn of the event
   * loop leave together on the next (one BATCH, one signature, on a v3
   * connection), in the order they were produced. One whose signed text is
   * kept (`track`: the InflightBook's final report, sent again after a crash,
   * maybe on another connection) travels alone, unbound to the connection.
   */
  private sendTask(unsigned: TaskOut, track?: Track): void {
    this.pending.push({ msg: unsigned, track });
    if (track || !this.canBatch()) return this.flush();
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private canBatch(): boolean {
    return this.phase === 'ready' && this.version >= BATCH_VERSION && this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  /** Signs what is pending (on the thread pool) and chains the sends in order. */
  private flush(): void {
    this.flushScheduled = false;
    const items = this.pending;
    if (items.length === 0) return;
    this.pending = [];
    const batching = this.canBatch();
    const frames = batching
      ? planFrames(items, { alone: (p) => p.track !== undefined, body: (p) => p.msg })
      : items.map((item) => ({ kind: 'single' as const, item }));
    for (const f of frames) {
      if (f.kind === 'single') this.chainSingle(f.item.msg, f.item.track);
      else this.chainBatch(f.items.map((p) => p.msg));
    }
  }

  private chainSingle(unsigned: TaskOut, track?: Track): void {
    const signed = signMessageAsync(unsigned, this.o.identity.keys.privateKey);
    this.sendChain = this.sendChain.then(
      () =>
        signed.then((m) => {
          const text = encodeMessage(m as ProtocolMessage);
          track?.persist(text); // a final report survives a crash until it was handed to the socket
          this.transmit(text, track?.sent);
        }),
      () => undefined,
    );
  }

  /** One BATCH bound to this connection; if it is gone by the time the signature is ready, its items go alone (outbox). */
  private chainBatch(items: TaskOut[]): void {
    const ws = this.ws;
    const session = this.challenge;
    const envelope = { type: 'BATCH' as const, worker_id: this.o.identity.worker_id, session, items: items as BatchItem[] };
    const signed = signMessageAsync(envelope, this.o.identity.keys.privateKey);
    this.sendChain = this.sendChain.then(
      () =>
        signed.then((m) => {
          if (this.ws === ws && ws?.readyState === WebSocket.OPEN && this.phase === 'ready' && this.challenge === session) return ws.send(encodeMessage(m));
          for (const item of items) this.transmit(encodeMessage(signMessage(item, this.o.identity.keys.privateKey) as ProtocolMessage));
        }),
      () => undefined,
    );
  }

  private transmit(text: string, sent?: () => void): void {
    if (this.phase === 'ready' && this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(text);
      sent?.();
      return;
    }
    if (this.outbox.length >= (this.o.outboxLimit ?? 10_000)) this.outbox.shift();
    this.outbox.push({ text, sent });
  }
}
