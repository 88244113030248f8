/**
 * Host-side dispatch to remote workers (DESIGN §6). Lanes and who may take them:
 *   user:<owner>   (target own-worker) → any connected worker of that owner
 *   worker:<id>    (target a worker)   → that worker, if the task's submitter owns
 *                  it, or is the admin and the worker is open to the admin
 * Never another user's worker, never the host pool (it only claims 'host').
 *
 * Every step is one store transaction: claim (ready → assigned) plus the
 * attempt row; TASK_ACCEPTED (assigned → running); the result (attempt row
 * closed + transition). The messages themselves were verified by the
 * connection (signature) and are fenced here (core/replay, core/lease).
 */
import { activate, renew } from '../../core/lease.js';
import { ASSIGNMENT_TTL_MS, BATCH_VERSION, DEFAULT_LEASE_MS, type BatchItemOf, type MessageOf, type Unsigned } from '../../core/protocol.js';
import { checkCostWithinBudget, checkSequence } from '../../core/replay.js';
import type { Killswitch } from '../../safety/killswitch.js';
import { gateStep, routeContextOf } from '../../runner/pool.js';
import type { RemoteGateFn, RemoteRouteFn } from '../../runner/routing.js';
import type { RemotePort } from '../../runner/task-port.js';
import { toColonyError } from '../../core/errors.js';
import { SYSTEM, type Actor } from '../../store/store.js';
import type { StoredTask } from '../../store/rows.js';
import { buildAssignment, cancelMessage, claimFor, type AssignDeps, type OfferChoice, type WorkerLink } from './assign.js';
import { LeaseBook, type LeaseRec, type Refusal } from './lease-book.js';
import { Settler, type Outcome } from './settle.js';
import type { HostIdentity } from '../pairing.js';
import { signMessageAsync } from '../signing.js';
import { OrphanHold } from './orphan-hold.js';
import { planFrames } from '../../core/batch.js';
import type { Store } from '../../store/store.js';
import type { CostScope } from '../../runner/budget-inflight.js';

export type { WorkerLink } from './assign.js';

export interface DispatcherOptions {
  service: RemotePort;
  killswitch: Killswitch;
  /** The host's gateway: a remote task passes it before it is offered, like a local one. */
  gate: RemoteGateFn;
  /** The host's router: engine and model of a remote task, explained and stored with the attempt. */
  route: RemoteRouteFn;
  hostKey: HostIdentity;
  /** Remote attempts lost to a host restart, whose worker may still run them (orphan-hold.ts). */
  lostAttempts: Pick<Store, 'remoteAttemptsLostSince'>;
  leaseMs?: number;
  assignmentTtlMs?: number;
  slotsPerWorker?: number;
  maxOutputBytes?: number;
  sweepIntervalMs?: number;
  now?: () => number;
  /** A running attempt's cost so far (graph and user budgets checked in flight, runner/budget-watch.ts). */
  onCost?: (taskId: string, attempt: number, scope: CostScope, usd: number) => void;
}

/** A worker's report about a task, alone (signed) or as a BATCH item (the envelope was signed): fenced the same way. */
export type TaskMsg = BatchItemOf<'TASK_ACCEPTED' | 'TASK_REJECTED' | 'TASK_PROGRESS' | 'TASK_COMPLETED' | 'TASK_FAILED'>;
export type Verdict = { ok: true } | Refusal;
type Plan = { link: WorkerLink; rec: LeaseRec; unsigned: Unsigned<MessageOf<'TASK_ASSIGNED'>> };

const OK: Verdict = { ok: true };

export class RemoteDispatcher {
  readonly leases = new LeaseBook();
  readonly links = new Map<string, WorkerLink>();
  private readonly settle: Settler;
  private readonly dirty = new Set<string>();
  /** Per connection: has its first HEARTBEAT arrived, and how many tasks it runs that the host no longer leases to it. */
  private readonly sync = new WeakMap<WorkerLink, { synced: boolean; strays: number; capacity: number }>();
  private readonly now: () => number;
  private readonly leaseMs: number;
  private readonly ttlMs: number;
  private readonly slots: number;
  private readonly assignDeps: AssignDeps;
  private timer: NodeJS.Timeout | null = null;
  private scheduled = false;
  private stopped = true;
  private unsubscribe: (() => void) | null = null;
  private unHalt: (() => void) | null = null;
  /** Tasks whose lost attempt may still run on its worker after a host restart (orphan-hold.ts). */
  private readonly hold: OrphanHold;

  constructor(private readonly o: DispatcherOptions) {
    this.now = o.now ?? Date.now;
    this.leaseMs = o.leaseMs ?? DEFAULT_LEASE_MS;
    this.ttlMs = o.assignmentTtlMs ?? ASSIGNMENT_TTL_MS;
    this.slots = o.slotsPerWorker ?? 1;
    this.assignDeps = { service: o.service, hostKey: o.hostKey, now: this.now, leaseMs: this.leaseMs, ttlMs: this.ttlMs };
    this.hold = new OrphanHold(o.lostAttempts, this.now(), this.leaseMs);
    this.settle = new Settler({
      service: o.service,
      leases: this.leases,
      maxOutputBytes: o.maxOutputBytes ?? 1024 * 1024,
      cancel: (rec, reason) => this.sendCancel(rec, reason),
      onCost: o.onCost,
      changed: (workerId) => {
        this.dirty.add(workerId);
        this.kick();
      },
    });
  }

  start(): void {
    this.stopped = false;
    this.unsubscribe = this.o.service.onReady(() => this.kick());
    this.unHalt = this.o.killswitch.onHalt({ onHalt: (reason) => this.cancelAll(`halted: ${reason}`) });
    this.timer = setInterval(() => this.tick(), this.o.sweepIntervalMs ?? 250);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe?.();
    this.unHalt?.();
  }

  /** Workers whose dashboard view changed since the last call. */
  takeDirty(): string[] {
    const out = [...this.dirty];
    this.dirty.clear();
    return out;
  }

  attach(link: WorkerLink): void {
    this.dirty.add(link.workerId);
    this.sync.set(link, { synced: false, strays: 0, capacity: this.slots });
    const old = this.links.get(link.workerId);
    this.links.set(link.workerId, link);
    if (old && old !== link) old.close(4000, 'replaced by a newer connection of this worker');
    this.kick();
  }

  detach(link: WorkerLink): void {
    if (this.links.get(link.workerId) === link) this.links.delete(link.workerId);
    this.dirty.add(link.workerId);
  }

  kick(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.dispatch();
    });
  }

  /** Task refs leased to a worker (for the host's HEARTBEAT). */
  runningOf(workerId: string): Array<{ task_id: string; attempt: number }> {
    return this.leases.ofWorker(workerId).map((r) => ({ task_id: r.lease.task_id, attempt: r.lease.attempt }));
  }

  /**
   * A worker's HEARTBEAT renews its leases. What it runs without a lease (an
   * attempt that lapsed, or from before a host restart) is cancelled, and
   * occupies one of its slots until it is gone. Nothing is dispatched to a
   * connection before its first heartbeat says what it is still running.
   */
  onHeartbeat(link: WorkerLink, running: ReadonlyArray<{ task_id: string; attempt: number }>): void {
    const unknown = this.leases.heartbeat(link.workerId, running, this.now());
    if (this.hold.heartbeat(link.workerId, running) > 0) this.kick();
    for (const u of unknown) {
      link.send(cancelMessage(this.o.hostKey, link, u.task_id, u.attempt, 'this attempt is not leased to you (it expired, ended or was requeued)'));
    }
    const st = this.sync.get(link);
    if (st && (!st.synced || st.strays !== unknown.length)) {
      st.synced = true;
      st.strays = unknown.length;
      this.kick();
    }
  }

  /** A verified (signed by `link`'s key) message about a task. */
  onTaskMessage(link: WorkerLink, msg: TaskMsg, who: Actor): Verdict {
    const now = this.now();
    const f = this.leases.fence(link.workerId, msg, now);
    if (!f.ok) {
      if (f.lapsed) this.settle.expire(f.lapsed, now);
      return { ok: false, code: f.code, reason: f.reason };
    }
    const rec = f.rec;
    const phase = rec.lease.phase;
    switch (msg.type) {
      case 'TASK_ACCEPTED': {
        if (phase !== 'offered') return { ok: false, code: 'replayed', reason: `task ${msg.task_id} attempt ${msg.attempt} was already accepted` };
        const a = activate(rec.lease, now);
        if (!a.ok) return { ok: false, code: 'expired', reason: a.reason };
        rec.lease = a.lease;
        return this.settle.started(rec, who);
      }
      case 'TASK_REJECTED': {
        if (phase !== 'offered') return { ok: false, code: 'out_of_order', reason: 'an accepted task ends with TASK_FAILED, not TASK_REJECTED' };
        // "busy: …": the worker runs fewer tasks at once than the host offered; learn its capacity, requeue as not the task's fault.
        const busy = msg.reason.startsWith('busy');
        const st = this.sync.get(link);
        if (busy && st) st.capacity = Math.max(1, this.leases.countOf(link.workerId) - 1);
        this.settle.rejected(rec, msg.reason, link.workerId, who, busy);
        return OK;
      }
      default:
        break;
    }
    if (phase !== 'running') return { ok: false, code: 'out_of_order', reason: `task ${msg.task_id} was not accepted yet` };
    const cost = checkCostWithinBudget(msg.cost, rec.budget);
    if (!cost.ok) {
      this.settle.overBudget(rec, msg, cost.reason, who);
      return { ok: false, code: 'over_budget', reason: cost.reason };
    }
    if (msg.type === 'TASK_PROGRESS') {
      const seq = checkSequence(rec.progressSeq, msg.seq);
      if (!seq.ok) return { ok: false, code: seq.code, reason: seq.reason };
      rec.progressSeq = msg.seq;
      const r = renew(rec.lease, now);
      if (r.ok) rec.lease = r.lease;
      this.settle.progress(rec, msg);
      return OK;
    }
    const outcome: Outcome =
      msg.type === 'TASK_COMPLETED'
        ? { ok: true, summary: msg.summary, error_code: null }
        : { ok: false, summary: msg.error, error_code: msg.error_code ?? 'E_ENGINE' };
    this.settle.finished(rec, msg, outcome, who);
    return OK;
  }

  /** Cancels a remote task (admin cancel, kill switch). False when no remote worker holds it. */
  cancel(taskId: string, reason: string): boolean {
    const rec = this.leases.get(taskId);
    if (!rec) return false;
    this.settle.cancelled(rec, reason);
    return true;
  }

  /** Stops a remote attempt whose graph's or user's budget was reached. False when no remote worker holds it. */
  stopForBudget(taskId: string, reason: string): boolean {
    const rec = this.leases.get(taskId);
    if (!rec) return false;
    this.settle.paused(rec, reason);
    return true;
  }

  cancelAll(reason: string): number {
    let n = 0;
    for (const rec of this.leases.all()) {
      this.settle.cancelled(rec, reason);
      n++;
    }
    return n;
  }

  /**
   * This host fenced itself (runner/fence-watch.ts): no more offers, and every worker is told to stop its
   * tasks of this host — orders only, no store write (the store refuses them; the next owner recovers the attempts).
   */
  fence(reason: string): number {
    this.stop();
    const recs = this.leases.all();
    for (const rec of recs) this.sendCancel(rec, reason);
    return recs.length;
  }

  /** Live numbers per worker for the dashboards. */
  stats(workerId: string): { cost: number; tokens: number; engine: string | null; model: string | null; tasks: LeaseRec[] } {
    return this.settle.stats(workerId, this.leases.ofWorker(workerId));
  }

  private tick(): void {
    const now = this.now();
    for (const rec of this.leases.lapsed(now)) this.settle.expire(rec, now);
    this.kick();
  }

  private dispatch(): void {
    if (this.stopped || !this.o.killswitch.canDispatch()) return;
    const { service } = this.o;
    const plans: Plan[] = [];
    try {
      service.transaction(() => {
        for (const link of this.links.values()) {
          const st = this.sync.get(link);
          if (!st?.synced) continue;
          let free = Math.min(this.slots, st.capacity) - this.leases.countOf(link.workerId) - st.strays;
          for (const lane of [`worker:${link.workerId}`, `user:${link.owner}`]) {
            if (free <= 0) break;
            if (service.readyCount(lane) === 0) continue;
            const now = this.now();
            for (const task of claimFor(service, link, lane, free, (id) => this.hold.isHeld(id, now))) {
              const choice = this.gateAndRoute(link, task);
              const plan = choice && buildAssignment(this.assignDeps, link, task, choice);
              if (plan) {
                plans.push({ link, ...plan });
                free--;
              }
            }
          }
        }
      });
    } catch {
      return; // the store refused: the service rebuilt memory from disk, nothing was sent
    }
    // Leases exist from now on (fencing); the offers are signed on the thread pool and sent when ready.
    const byLink = new Map<WorkerLink, Plan[]>();
    for (const p of plans) {
      this.leases.add(p.rec);
      this.dirty.add(p.link.workerId);
      const list = byLink.get(p.link);
      if (list) list.push(p);
      else byLink.set(p.link, [p]);
    }
    for (const [link, list] of byLink) this.offer(link, list);
  }

  /**
   * Sends a connection its offers of this round: on a v3 connection several at
   * once go in one BATCH (one signature, one frame), else one signed
   * TASK_ASSIGNED each. Bound to that connection: a newer one would refuse them.
   */
  private offer(link: WorkerLink, list: Plan[]): void {
    const key = this.o.hostKey.privateKey;
    const live = (): boolean => this.links.get(link.workerId) === link;
    // An offer withdrawn while it was signed (its scope paused at its budget, an admin cancel) is not sent at all.
    const leased = (p: Plan): boolean => this.leases.get(p.rec.lease.task_id) === p.rec;
    const frames = link.version >= BATCH_VERSION ? planFrames(list, { body: (p) => p.unsigned }) : list.map((item) => ({ kind: 'single' as const, item }));
    for (const f of frames) {
      const sent =
        f.kind === 'single'
          ? signMessageAsync(f.item.unsigned, key).then((m) => (live() && leased(f.item) ? link.send(m) : undefined))
          : signMessageAsync({ type: 'BATCH' as const, worker_id: link.workerId, session: link.session, items: f.items.map((p) => p.unsigned) }, key).then(
              (m) => (live() && f.items.some(leased) ? link.send(m) : undefined),
            );
      const offered = sent.catch(() => undefined); // never sent: the offer lapses at expires_at and the task is requeued
      for (const p of f.kind === 'single' ? [f.item] : f.items) p.rec.offered = offered;
    }
  }

  /**
   * The host's gateway verdict and router choice for a claimed task, as for a
   * local one; null when the task does not go out now (held, failed, requeued:
   * the service recorded why).
   */
  private gateAndRoute(link: WorkerLink, task: StoredTask): OfferChoice | null {
    const { service } = this.o;
    const v = this.o.gate(task);
    const refusal = gateStep(v);
    if (refusal) {
      service.stepDurably(task.id, refusal, SYSTEM);
      return null;
    }
    try {
      const c = this.o.route(task, { ...routeContextOf(task, () => service.attemptsOf(task.id)), engines: [...link.engines] });
      return { ...c, prompt: v.verdict === 'allow' && v.prompt !== undefined ? v.prompt : task.prompt };
    } catch (e) {
      const err = toColonyError(e);
      service.stepDurably(task.id, { kind: 'finish', state: 'failed', reason: `${err.code}: ${err.message}` }, SYSTEM);
      return null;
    }
  }

  /** TASK_CANCELLED for a leased attempt, never ahead of its TASK_ASSIGNED. */
  private sendCancel(rec: LeaseRec, reason: string): void {
    // Built when sent, for the worker's connection at that moment (orders are bound to a connection).
    const send = (): void => {
      const link = this.links.get(rec.lease.worker_id);
      link?.send(cancelMessage(this.o.hostKey, link, rec.lease.task_id, rec.lease.attempt, reason));
    };
    if (rec.offered) void rec.offered.then(send);
    else send();
  }
}
