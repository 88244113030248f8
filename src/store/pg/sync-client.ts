/**
 * Blocking calls into the PostgreSQL worker thread: the store is synchronous
 * (its callers are), so each call posts a request and waits on a shared flag
 * (Atomics.wait) until the worker has answered — the technique of `synckit`.
 * A call that gets no answer in time, or whose connection is down, fails with
 * E_STORE at once: the caller's pending-writes retry keeps the write.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort, type WorkerOptions } from 'node:worker_threads';
import { ColonyError } from '../../core/errors.js';
import { isFencedSlot, newLeaseSlot, type LeaseSlot } from './lease-slot.js';
import type { PgBeat, PgNotice, PgRequest, PgResponse, PgWorkerData } from './protocol.js';

type Ok = Extract<PgResponse, { ok: true }>;
type Req = PgRequest extends infer R ? (R extends PgRequest ? Omit<R, 'id'> : never) : never;

export class PgSyncClient {
  private readonly worker: Worker;
  private readonly flag: Int32Array;
  private readonly port: MessagePort;
  private readonly notices: MessagePort;
  private nextId = 1;
  private ended = false;
  /** Shared with the worker and the fence watchdog (lease-slot.ts). */
  readonly leaseSlot: LeaseSlot = newLeaseSlot();

  constructor(
    url: string,
    private readonly timeoutMs = 30_000,
    connectTimeoutMs = 3_000,
    listen: string | null = null,
  ) {
    const shared = new SharedArrayBuffer(4);
    this.flag = new Int32Array(shared);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const notices = new MessageChannel();
    this.notices = notices.port1;
    const data: PgWorkerData = { url, flag: shared, port: port2, connectTimeoutMs, idleTxMs: timeoutMs, listen, notices: notices.port2, lease: this.leaseSlot };
    this.worker = spawnWorker({ workerData: data, transferList: [port2, notices.port2] });
    this.worker.unref();
    this.worker.on('error', () => undefined); // a dead worker shows as calls without an answer (E_STORE)
  }

  /** The listener's notices; delivered by the event loop, never keeping it alive. */
  onNotice(fn: (n: PgNotice) => void): void {
    this.notices.on('message', fn);
    this.notices.unref();
  }

  /** The worker renews the host's lease on its listener connection from now on. */
  beat(b: PgBeat): void {
    this.notices.postMessage(b);
  }

  call(req: Req): Ok {
    if (this.ended) throw new ColonyError('E_STORE', 'the database connection is closed');
    this.refuseIfFenced();
    const id = this.nextId++;
    this.port.postMessage({ ...req, id });
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const seen = Atomics.load(this.flag, 0);
      const res = this.take(id);
      if (res) return this.settle(res);
      // A host that fenced itself (another thread decided) stops waiting on the database at once.
      this.refuseIfFenced();
      const left = deadline - Date.now();
      if (left <= 0) throw new ColonyError('E_STORE', `database unavailable: no answer in ${this.timeoutMs} ms`);
      // Short waits: the answer may be posted a moment after the flag moved.
      Atomics.wait(this.flag, 0, seen, Math.min(left, 20));
    }
  }

  private refuseIfFenced(): void {
    if (isFencedSlot(this.leaseSlot))
      throw new ColonyError('E_HOST_FENCED', 'this host fenced itself (its database lease could not be renewed in time): it writes nothing');
  }

  end(): void {
    if (this.ended) return;
    try {
      this.call({ op: 'end' });
    } catch {
      // closing anyway
    }
    this.ended = true;
    this.port.close();
    this.notices.close();
    void this.worker.terminate();
  }

  private take(id: number): PgResponse | null {
    for (;;) {
      const m = receiveMessageOnPort(this.port);
      if (!m) return null;
      const res = m.message as PgResponse;
      if (res.id === id) return res; // an older answer (its call timed out) is dropped
    }
  }

  private settle(res: PgResponse): Ok {
    if (res.ok) return res;
    if (res.unavailable) throw new ColonyError('E_STORE', `database unavailable: ${res.message}`);
    throw new ColonyError('E_STORE', `database error${res.sqlstate ? ` ${res.sqlstate}` : ''}: ${res.message}`);
  }
}

/**
 * A worker thread from a module next to the caller: dist runs `compiled` (a .js file) as it is; from the sources
 * (tests, tsx) its .ts sibling through tsx's loader, registered in the thread first.
 */
export function spawnWorker(options: WorkerOptions, compiled = new URL('./worker.js', import.meta.url)): Worker {
  if (existsSync(fileURLToPath(compiled))) return new Worker(compiled, options);
  const tsx = pathToFileURL(
    createRequire(import.meta.url)
      .resolve('tsx/esm/api')
      .replace(/\.cjs$/, '.mjs'),
  ).href;
  const source = new URL(compiled.href.replace(/\.js$/, '.ts')).href;
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(source)}); });`;
  return new Worker(boot, { ...options, eval: true });
}
