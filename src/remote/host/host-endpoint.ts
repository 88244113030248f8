/**
 * The host side of remote execution, assembled: worker persistence, pairing,
 * the dispatcher and the WebSocket connections, plus the worker cards the
 * dashboards show. It knows nothing of the HTTP servers: server/remote-host.ts
 * builds one per server context, next to the rest of the host.
 */
import type { WebSocket } from 'ws';
import { loadOrCreateHostKey } from '../signing.js';
import type { Host } from '../../runner/host.js';
import type { WorkerCard } from '../../core/live-types.js';
import { SessionStore } from '../../store/sessions.js';
import type { Actor } from '../../store/store.js';
import { WorkerStore, type WorkerRecord } from '../../store/workers.js';
import { HostConnection } from './connection.js';
import { RemoteDispatcher } from './dispatcher.js';
import { PairingService, type HostIdentity } from '../pairing.js';
import { failStranded, type StrandedDeps } from './stranded.js';

export interface RemoteHostOptions {
  leaseMs?: number;
  assignmentTtlMs?: number;
  slotsPerWorker?: number;
  maxBadMessages?: number;
  heartbeatIntervalMs?: number;
  handshakeTimeoutMs?: number;
  sweepIntervalMs?: number;
  now?: () => number;
  /** The user app's TLS certificate fingerprint (pairing proofs cover it); null over --insecure-http. */
  certFingerprint?: string | null;
}

const DEFAULT_MAX_BAD = 20;
/** How often ready tasks no worker can ever take are looked for (stranded.ts). */
const STRANDED_SWEEP_MS = 1000;

export class RemoteHost {
  readonly workers: WorkerStore;
  readonly sessions: SessionStore;
  readonly pairing: PairingService;
  readonly dispatcher: RemoteDispatcher;
  private readonly connections = new Set<HostConnection>();
  private publisher: NodeJS.Timeout | null = null;
  private strandedTimer: NodeJS.Timeout | null = null;
  private unStopper: () => void = () => {};
  private readonly now: () => number;

  static async create(host: Host, opts: RemoteHostOptions = {}): Promise<RemoteHost> {
    return new RemoteHost(host, await loadOrCreateHostKey(host.paths.home), opts);
  }

  constructor(
    readonly host: Host,
    readonly hostKey: HostIdentity,
    private readonly opts: RemoteHostOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.workers = new WorkerStore(host.store);
    this.sessions = new SessionStore(host.store);
    this.pairing = new PairingService(this.workers, host.store, hostKey, this.now, opts.certFingerprint ?? null);
    this.dispatcher = new RemoteDispatcher({
      service: host.service,
      killswitch: host.killswitch,
      gate: host.routing.remoteGate,
      route: host.routing.remoteRoute,
      hostKey,
      lostAttempts: host.store,
      leaseMs: opts.leaseMs,
      assignmentTtlMs: opts.assignmentTtlMs,
      slotsPerWorker: opts.slotsPerWorker,
      sweepIntervalMs: opts.sweepIntervalMs,
      now: this.now,
      onCost: (taskId, attempt, scope, usd) => host.budgets.attemptCost(taskId, attempt, scope, usd),
    });
  }

  start(): void {
    this.dispatcher.start();
    // Graph and user budgets reached in flight stop remote attempts too.
    this.unStopper = this.host.budgets.addStopper((taskId, reason) => this.dispatcher.stopForBudget(taskId, reason));
    // A host that fences itself (several hosts on PostgreSQL) tells its workers to stop its tasks.
    const unFence = this.host.cluster?.fence.addStopper((reason) => this.dispatcher.fence(reason));
    if (unFence) {
      const unBudget = this.unStopper;
      this.unStopper = () => {
        unBudget();
        unFence();
      };
    }
    this.publisher = setInterval(() => this.publishChanged(), 250);
    this.publisher.unref();
    this.strandedTimer = setInterval(() => this.failStranded(), STRANDED_SWEEP_MS);
    this.strandedTimer.unref();
  }

  /** Stops dispatching and closes every worker connection (leases stay in the store; the next start recovers them). */
  stop(): void {
    this.unStopper();
    this.dispatcher.stop();
    if (this.publisher) clearInterval(this.publisher);
    if (this.strandedTimer) clearInterval(this.strandedTimer);
    for (const c of this.connections) c.close(1001, 'host shutting down');
  }

  /** A new `WS /ws/remote-exec` connection from the socket address `ip`. */
  accept(ws: WebSocket, ip: string): void {
    const conn = new HostConnection(ws, ip, {
      hostKey: this.hostKey,
      workers: this.workers,
      store: this.host.store,
      dispatcher: this.dispatcher,
      now: this.now,
      maxBadMessages: this.opts.maxBadMessages ?? DEFAULT_MAX_BAD,
      heartbeatIntervalMs: this.opts.heartbeatIntervalMs,
      handshakeTimeoutMs: this.opts.handshakeTimeoutMs,
    });
    this.connections.add(conn);
    ws.on('close', () => this.connections.delete(conn));
  }

  /**
   * Revokes the worker's key and disconnects it. Its leased tasks are requeued
   * when their leases lapse; tasks waiting for this very worker (or, once the
   * owner's session is revoked too, for any of the owner's workers) can never
   * run and fail now, or as soon as they become ready (stranded.ts).
   */
  revoke(id: string, who: Actor): WorkerRecord {
    const rec = this.workers.revoke(id, who, this.now());
    // Every connection of it, authenticated or still in the handshake: from now on nothing it says is acted on.
    for (const c of this.connections) if (c.workerId === id || c.helloWorkerId === id) c.close(4003, 'worker revoked');
    this.failStranded(who);
    return rec;
  }

  /** Fails ready tasks waiting for a revoked or unknown worker, or for a revoked user with no worker left. */
  failStranded(who?: Actor): string[] {
    const d: StrandedDeps = {
      service: this.host.service,
      workers: this.workers,
      sessions: this.sessions,
      connected: (w) => this.dispatcher.links.has(w),
    };
    try {
      return failStranded(d, who);
    } catch {
      return []; // the store could not be read: the next sweep tries again
    }
  }

  /** Cards of enrolled (not revoked) workers, optionally of one owner. */
  views(owner?: string): WorkerCard[] {
    return this.workers.list({ owner }).map((w) => this.view(w));
  }

  view(w: WorkerRecord): WorkerCard {
    const link = this.dispatcher.links.get(w.id);
    const s = this.dispatcher.stats(w.id);
    const current = s.tasks[0] ?? null;
    const uid = w.owner.startsWith('session:') ? w.owner.slice('session:'.length) : null;
    return {
      id: w.id,
      kind: 'remote',
      name: w.name,
      status: s.tasks.length > 0 ? 'running' : 'idle',
      task_id: current?.lease.task_id ?? null,
      task_title: current?.title ?? null,
      owner: w.owner,
      owner_name: uid ? (this.sessions.get(uid)?.display_name ?? null) : null,
      engine: s.engine,
      model: s.model,
      session_cost_usd: s.cost,
      tokens_used: s.tokens,
      origin_ip: link?.ip ?? w.last_ip ?? w.enrolled_from,
      connected: link !== undefined,
      fingerprint: w.fingerprint,
      engines: link ? [...link.engines] : w.engines,
      open_to_admin: link ? link.openToAdmin : w.open_to_admin,
      enrolled_at: w.enrolled_at,
      last_seen_at: w.last_seen_at,
      revoked: w.revoked_at !== null,
    };
  }

  private publishChanged(): void {
    for (const id of this.dispatcher.takeDirty()) {
      const w = this.workers.get(id);
      if (!w) continue;
      try {
        this.host.service.publishWorker(this.view(w)); // folded with the others into one group commit (card-fold.ts)
      } catch {
        /* the store could not be read; the next change republishes */
      }
    }
  }
}
