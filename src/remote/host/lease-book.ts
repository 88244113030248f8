/**
 * The host's table of remote leases: one record per task that is offered to
 * or running on a remote worker, indexed by task and by worker. Fencing of
 * worker messages (right task, attempt, worker and assignment nonce; lease not
 * lapsed) is decided here with the pure checks of core/lease.ts and
 * core/replay.ts; the dispatcher acts on the verdicts.
 */
import { renewFromHeartbeat, type Lease } from '../../core/lease.js';
import type { ProtocolErrorCode, TokenCounts } from '../../core/protocol.js';
import { checkResultFencing } from '../../core/replay.js';

export interface LeaseRec {
  lease: Lease;
  nonce: string; // of the TASK_ASSIGNED this attempt answers
  budget: number;
  title: string;
  owner: string; // the task's submitted_by
  graph: string; // the task's graph_id (its budget scope, with owner)
  maxAttempts: number;
  /** The engine the task asked for ('auto' gets one fallback attempt, core/attempt-policy). */
  taskEngine: string;
  assignedAt: number;
  progressSeq: number | null;
  outputBytes: number;
  truncated: boolean;
  engine: string | null;
  model: string | null;
  cost: number;
  tokens: TokenCounts;
  /** Settles once TASK_ASSIGNED was handed to the socket (signing runs off-thread); later messages about the attempt wait for it. */
  offered?: Promise<void>;
}

export type Refusal = { ok: false; code: ProtocolErrorCode; reason: string };
export type Fenced = { ok: true; rec: LeaseRec } | Refusal;

export class LeaseBook {
  private readonly byTask = new Map<string, LeaseRec>();
  private readonly byWorker = new Map<string, Set<string>>();

  get size(): number {
    return this.byTask.size;
  }

  get(taskId: string): LeaseRec | undefined {
    return this.byTask.get(taskId);
  }

  add(rec: LeaseRec): void {
    this.byTask.set(rec.lease.task_id, rec);
    let s = this.byWorker.get(rec.lease.worker_id);
    if (!s) this.byWorker.set(rec.lease.worker_id, (s = new Set()));
    s.add(rec.lease.task_id);
  }

  /** Removes the record if it is still the one for its task (a newer attempt is never dropped by an old handle). */
  drop(rec: LeaseRec): boolean {
    if (this.byTask.get(rec.lease.task_id) !== rec) return false;
    this.byTask.delete(rec.lease.task_id);
    const s = this.byWorker.get(rec.lease.worker_id);
    s?.delete(rec.lease.task_id);
    if (s && s.size === 0) this.byWorker.delete(rec.lease.worker_id);
    return true;
  }

  countOf(workerId: string): number {
    return this.byWorker.get(workerId)?.size ?? 0;
  }

  ofWorker(workerId: string): LeaseRec[] {
    const ids = this.byWorker.get(workerId);
    if (!ids) return [];
    const out: LeaseRec[] = [];
    for (const id of ids) {
      const r = this.byTask.get(id);
      if (r) out.push(r);
    }
    return out;
  }

  all(): LeaseRec[] {
    return [...this.byTask.values()];
  }

  /** Records whose lease lapsed at `now`. */
  lapsed(now: number): LeaseRec[] {
    const out: LeaseRec[] = [];
    for (const r of this.byTask.values()) if (r.lease.expires_at <= now) out.push(r);
    return out;
  }

  /**
   * Fencing for a worker message about a task: the task must have a live
   * lease held by this worker, for this attempt, answering this assignment.
   * A lapsed lease counts as gone (`lapsed` is set so the caller expires it).
   */
  fence(workerId: string, msg: { task_id: string; attempt: number; nonce: string }, now: number): Fenced & { lapsed?: LeaseRec } {
    const rec = this.byTask.get(msg.task_id);
    if (!rec) {
      return { ok: false, code: 'stale_attempt', reason: `no attempt of task ${msg.task_id} is leased (it finished, was requeued or was never assigned)` };
    }
    const f = checkResultFencing({
      currentAttempt: rec.lease.attempt,
      msgAttempt: msg.attempt,
      taskWorker: rec.lease.worker_id,
      msgWorker: workerId,
      expectedNonce: rec.nonce,
      msgNonce: msg.nonce,
    });
    if (!f.ok) return f;
    if (rec.lease.expires_at <= now) {
      return { ok: false, code: 'expired', reason: `the lease on ${msg.task_id} attempt ${msg.attempt} lapsed; the task is being requeued`, lapsed: rec };
    }
    return { ok: true, rec };
  }

  /** Applies a worker's HEARTBEAT: renews its reported leases; returns what it runs that is not (validly) leased to it. */
  heartbeat(workerId: string, running: ReadonlyArray<{ task_id: string; attempt: number }>, now: number): Array<{ task_id: string; attempt: number }> {
    const mine = this.ofWorker(workerId);
    const r = renewFromHeartbeat(
      mine.map((m) => m.lease),
      workerId,
      running,
      now,
    );
    r.leases.forEach((l, i) => {
      const rec = mine[i];
      if (rec) rec.lease = l;
    });
    return r.unknown;
  }
}
