/**
 * How remote attempts end. The attempt policy (core/attempt-policy) decides
 * the attempt's state and the task's next step; the TaskService (through its
 * RemotePort) records both in one transaction with the audit record, and
 * keeps retrying a result the store refused, so a task is never left running
 * without a lease and without its result.
 *
 *   TASK_COMPLETED             → succeeded
 *   TASK_FAILED                → failed / timed_out, retried while attempts remain (never E_BUDGET);
 *                                E_CANCELLED → cancelled; E_LOST (worker stopping) → lost, counted
 *   TASK_REJECTED              → a failed attempt (E_REJECTED), retried while attempts remain;
 *                                "busy: …" (no free slot on the worker) → lost, not counted (E_WORKER_BUSY)
 *   cost over budget           → failed (E_BUDGET), never retried, audited, worker told to stop
 *   graph/user budget reached  → failed (E_BUDGET), task requeued (paused with its scope), worker told to stop
 *   lease lapsed               → lost ("worker lost"), counted against max_attempts
 *   admin cancel / kill switch → cancelled, worker told to stop
 *
 * The lease is dropped first, so a second message about the same attempt
 * finds nothing to settle (fenced as stale).
 */
import { capOutput, decideAttempt, unchargedAttempts, type Interruption } from '../../core/attempt-policy.js';
import type { BatchItemOf, TokenCounts } from '../../core/protocol.js';
import type { RemotePort } from '../../runner/task-port.js';
import { SYSTEM, type Actor, type AttemptEnd } from '../../store/store.js';
import type { LeaseBook, LeaseRec } from './lease-book.js';
import type { CostScope } from '../../runner/budget-inflight.js';

export interface Outcome {
  ok: boolean;
  summary: string;
  error_code: string | null;
}

/** What settling needs of the TaskService, and nothing more. */
export type SettlePort = Pick<RemotePort, 'attemptsOf' | 'endAttempt' | 'appendOutput' | 'markRunning' | 'audit'>;

export interface SettlerDeps {
  service: SettlePort;
  leases: LeaseBook;
  maxOutputBytes: number;
  cancel(rec: LeaseRec, reason: string): void;
  changed(workerId: string): void;
  /** The attempt's cost so far, as its progress reports it (graph and user budgets checked in flight). */
  onCost?: (taskId: string, attempt: number, scope: CostScope, usd: number) => void;
}

type Result = BatchItemOf<'TASK_PROGRESS' | 'TASK_COMPLETED' | 'TASK_FAILED'>;

interface Totals {
  cost: number;
  tokens: number;
  engine: string | null;
  model: string | null;
}

const ZERO: TokenCounts = { input: 0, output: 0, cache_read: 0, cache_write: 0 };

export class Settler {
  private readonly totals = new Map<string, Totals>();

  constructor(private readonly d: SettlerDeps) {}

  /** TASK_ACCEPTED: assigned → running. */
  started(rec: LeaseRec, who: Actor): { ok: true } | { ok: false; code: 'internal'; reason: string } {
    try {
      this.d.service.markRunning(rec.lease.task_id, who);
    } catch (e) {
      return { ok: false, code: 'internal', reason: `cannot start ${rec.lease.task_id}: ${e instanceof Error ? e.message : String(e)}` };
    }
    this.d.changed(rec.lease.worker_id);
    return { ok: true };
  }

  progress(rec: LeaseRec, msg: BatchItemOf<'TASK_PROGRESS'>): void {
    this.note(rec, msg);
    if (msg.output.length > 0) {
      const { task_id, attempt } = rec.lease;
      const max = this.d.maxOutputBytes;
      const c = capOutputOf(rec, msg.output, max);
      if (c.keep) this.d.service.appendOutput(task_id, attempt, 'stdout', c.keep);
      if (c.notice) this.d.service.appendOutput(task_id, attempt, 'stderr', `\n[colony: output truncated at ${max} bytes]\n`);
    }
    this.d.changed(rec.lease.worker_id);
    this.d.onCost?.(rec.lease.task_id, rec.lease.attempt, { graph_id: rec.graph, submitted_by: rec.owner }, msg.cost); // may stop this attempt (its scope's budget reached)
  }

  finished(rec: LeaseRec, msg: BatchItemOf<'TASK_COMPLETED' | 'TASK_FAILED'>, o: Outcome, who: Actor): void {
    // A restarted worker reporting an attempt its crash lost may know less of its cost than progress said: keep the larger.
    const known = rec.cost;
    this.note(rec, msg);
    if (!o.ok && o.error_code === 'E_LOST') rec.cost = Math.max(known, msg.cost);
    const lost: Interruption | null = !o.ok && o.error_code === 'E_LOST' ? { kind: 'lost', reason: `worker lost: ${o.summary}`, charged: true } : null;
    this.close(rec, o, lost, who, false, true);
  }

  /** `busy`: the worker had no free slot — lost, not counted against the task. */
  rejected(rec: LeaseRec, reason: string, workerId: string, who: Actor, busy = false): void {
    const summary = `rejected by worker ${workerId}: ${reason}`;
    const o: Outcome = { ok: false, summary, error_code: 'E_REJECTED' };
    this.close(rec, o, busy ? { kind: 'lost', reason: summary, charged: false } : null, who);
    this.audit(who, 'remote.task_rejected', rec, { reason });
  }

  overBudget(rec: LeaseRec, msg: Result, reason: string, who: Actor): void {
    this.note(rec, msg);
    this.close(rec, { ok: false, summary: reason, error_code: 'E_BUDGET' }, { kind: 'budget', reason: `E_BUDGET: ${reason}` }, who);
    this.d.cancel(rec, `over budget: ${reason}`);
    this.audit(who, 'remote.over_budget', rec, { cost_usd: msg.cost, budget_usd: rec.budget, message: msg.type });
  }

  /** The lease lapsed (no acceptance in time, or no heartbeat): the attempt is lost ("worker lost") and counts. */
  expire(rec: LeaseRec, now: number): void {
    const l = rec.lease;
    const why =
      l.phase === 'offered'
        ? `worker ${l.worker_id} did not accept within the schedule-to-start timeout`
        : `worker ${l.worker_id} went silent: no heartbeat for ${l.lease_ms} ms`;
    this.close(rec, { ok: false, summary: why, error_code: 'E_LOST' }, { kind: 'lost', reason: `worker lost: ${why}`, charged: true }, SYSTEM);
    this.d.cancel(rec, `lease expired: ${why}`);
    this.audit(SYSTEM, 'remote.lease_expired', rec, { phase: l.phase, expired_at: l.expires_at, now });
  }

  /** Its graph's or user's budget was reached while it ran: failed (E_BUDGET), requeued, the worker told to stop. */
  paused(rec: LeaseRec, reason: string): void {
    this.close(rec, { ok: false, summary: reason, error_code: 'E_BUDGET' }, { kind: 'paused', reason }, SYSTEM);
    this.d.cancel(rec, reason);
  }

  /** Admin cancel or kill switch. */
  cancelled(rec: LeaseRec, reason: string): void {
    this.close(rec, { ok: false, summary: reason, error_code: 'E_CANCELLED' }, { kind: 'cancelled', reason }, SYSTEM);
    this.d.cancel(rec, reason);
  }

  stats(workerId: string, live: readonly LeaseRec[]): { cost: number; tokens: number; engine: string | null; model: string | null; tasks: LeaseRec[] } {
    const t = this.totals.get(workerId);
    let cost = t?.cost ?? 0;
    let tokens = t?.tokens ?? 0;
    let engine = t?.engine ?? null;
    let model = t?.model ?? null;
    for (const r of live) {
      cost += r.cost;
      tokens += r.tokens.input + r.tokens.output;
      if (r.engine) ((engine = r.engine), (model = r.model));
    }
    return { cost, tokens, engine, model, tasks: [...live] };
  }

  private note(rec: LeaseRec, msg: Result): void {
    rec.engine = msg.engine_used;
    rec.model = msg.model_used;
    rec.cost = msg.cost;
    rec.tokens = msg.tokens;
  }

  /**
   * Drops the lease, lets the policy decide, and hands the attempt's end and
   * the task's next step to the service: results (the hot path) in the next
   * group commit, everything else at once; retried there if the store refuses.
   * `final`: the worker's own result, whose cost may be news (a worker reports no
   * progress for a short attempt): it counts in flight before it is recorded, so
   * reaching a graph's or user's budget stops the scope's other attempts now,
   * not once the result is committed (or, with the store refusing it, retried).
   * Its lease is dropped first, so this attempt itself ends as it reported.
   */
  private close(rec: LeaseRec, o: Outcome, interruption: Interruption | null, who: Actor, now = true, final = false): void {
    if (!this.d.leases.drop(rec)) return;
    const { service } = this.d;
    const { task_id, attempt, worker_id } = rec.lease;
    if (final) this.d.onCost?.(task_id, attempt, { graph_id: rec.graph, submitted_by: rec.owner }, rec.cost);
    const earlier = attempt > 1 ? service.attemptsOf(task_id).filter((a) => a.attempt < attempt) : [];
    const d = decideAttempt({
      task: { engine: rec.taskEngine, max_attempts: rec.maxAttempts },
      attempt,
      uncharged_before: unchargedAttempts(earlier),
      outcome: { ...o, engine: rec.engine },
      interruption,
    });
    const end: AttemptEnd = {
      state: d.state,
      engine: rec.engine,
      model: rec.model,
      cost_usd: rec.cost,
      cost_source: rec.engine === null ? 'none' : 'reported',
      usage: rec.tokens ?? ZERO,
      error_code: d.error_code,
      summary: o.summary,
    };
    service.endAttempt(task_id, attempt, end, d.next, who, { now }).catch(() => undefined); // not the store: the attempt was closed by someone else
    const t = this.totals.get(worker_id) ?? { cost: 0, tokens: 0, engine: null, model: null };
    t.cost += end.cost_usd ?? 0;
    t.tokens += end.usage.input + end.usage.output;
    if (end.engine) ((t.engine = end.engine), (t.model = end.model));
    this.totals.set(worker_id, t);
    this.d.changed(worker_id);
  }

  private audit(who: Actor, action: string, rec: LeaseRec, detail: Record<string, unknown>): void {
    this.d.service.audit(who, action, rec.lease.task_id, { attempt: rec.lease.attempt, worker: rec.lease.worker_id, ...detail });
  }
}

/** The output cap of core/attempt-policy, kept on the lease record. */
function capOutputOf(rec: LeaseRec, text: string, max: number): { keep: string; notice: boolean } {
  const cap = { used: rec.outputBytes, truncated: rec.truncated };
  const c = capOutput(cap, text, max);
  rec.outputBytes = cap.used;
  rec.truncated = cap.truncated;
  return c;
}
