/**
 * How remote attempts end, persisted through the store (one transaction per
 * outcome: the attempt row with engine_used, model_used, cost and tokens, plus
 * the task's transition and its audit record):
 *
 *   TASK_COMPLETED            → succeeded
 *   TASK_FAILED               → retried while attempts remain (not E_BUDGET), else failed / timed_out / cancelled
 *   TASK_REJECTED             → a failed attempt (E_REJECTED), retried while attempts remain;
 *                               "busy: …" (no free slot on the worker) is requeued like a lost lease
 *   cost over budget          → failed (E_BUDGET), never retried, audited, worker told to stop
 *   lease lapsed / worker     → lost; requeued as attempt+1 while attempt < max_attempts + lostRetries
 *   stopped (E_WORKER_STOPPED)  (the worker vanishing is not the task's fault)
 *   restarted after a crash (E_WORKER_LOST: "worker lost", its processes were ended first)
 *   admin cancel / kill switch → cancelled, worker told to stop
 *
 * The lease is dropped before anything is persisted, so a second message about
 * the same attempt finds nothing to settle (fenced as stale).
 */
import type { Transition } from '../core/scheduler.js';
import type { MessageOf, TokenCounts } from '../core/protocol.js';
import type { TaskService } from '../runner/service.js';
import { SYSTEM, type Actor, type AttemptEnd } from '../store/store.js';
import type { LeaseBook, LeaseRec, Refusal } from './lease-book.js';

export interface Outcome {
  ok: boolean;
  summary: string;
  error_code: string | null;
}

export interface SettlerDeps {
  service: TaskService;
  leases: LeaseBook;
  lostRetries: number;
  maxOutputBytes: number;
  cancel(rec: LeaseRec, reason: string): void;
  changed(workerId: string): void;
}

type Result = MessageOf<'TASK_PROGRESS' | 'TASK_COMPLETED' | 'TASK_FAILED'>;

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
  started(rec: LeaseRec, who: Actor): { ok: true } | Refusal {
    const { service } = this.d;
    let trs: Transition[];
    try {
      trs = service.scheduler.start(rec.lease.task_id);
    } catch (e) {
      service.resync();
      return { ok: false, code: 'internal', reason: `cannot start ${rec.lease.task_id}: ${e instanceof Error ? e.message : String(e)}` };
    }
    this.grouped(() => service.store.applyTransitions(trs, who));
    this.d.changed(rec.lease.worker_id);
    return { ok: true };
  }

  progress(rec: LeaseRec, msg: MessageOf<'TASK_PROGRESS'>): void {
    this.note(rec, msg);
    if (msg.output.length > 0) {
      const store = this.d.service.store;
      const { task_id, attempt } = rec.lease;
      if (rec.outputBytes < this.d.maxOutputBytes) {
        const text = msg.output.slice(0, this.d.maxOutputBytes - rec.outputBytes);
        rec.outputBytes += text.length;
        this.grouped(() => store.appendOutput(task_id, attempt, 'stdout', text));
      } else if (!rec.truncated) {
        rec.truncated = true;
        this.grouped(() => store.appendOutput(task_id, attempt, 'stderr', `\n[colony: output truncated at ${this.d.maxOutputBytes} bytes]\n`));
      }
    }
    this.d.changed(rec.lease.worker_id);
  }

  finished(rec: LeaseRec, msg: MessageOf<'TASK_COMPLETED' | 'TASK_FAILED'>, o: Outcome, who: Actor): void {
    const code = o.error_code;
    // A restarted worker reporting an attempt its crash lost knows nothing of its cost: keep what progress said.
    if (code !== 'E_WORKER_LOST') this.note(rec, msg);
    const lost = code === 'E_WORKER_STOPPED' || code === 'E_WORKER_LOST';
    const state: AttemptEnd['state'] = o.ok ? 'succeeded' : code === 'E_TIMEOUT' ? 'timed_out' : code === 'E_CANCELLED' ? 'cancelled' : lost ? 'lost' : 'failed';
    this.close(rec, this.end(rec, state, code, o.summary), who, true, (sched, id) => {
      if (state === 'succeeded') return sched.finish(id, 'succeeded', o.summary.slice(0, 500));
      const reason = `${code ?? 'E_ENGINE'}: ${o.summary}`.slice(0, 1000);
      if (state === 'cancelled') return sched.finish(id, 'cancelled', reason);
      if (state === 'lost') return this.retryOrFail(rec, 'failed', code === 'E_WORKER_LOST' ? o.summary : `worker stopped: ${o.summary}`, this.d.lostRetries);
      return code === 'E_BUDGET' ? sched.finish(id, state, reason) : this.retryOrFail(rec, state, reason, 0);
    });
  }

  /** `busy`: the worker had no free slot — requeued like a lost lease, not counted against the task. */
  rejected(rec: LeaseRec, reason: string, workerId: string, who: Actor, busy = false): void {
    const summary = `rejected by worker ${workerId}: ${reason}`;
    this.close(rec, this.end(rec, busy ? 'lost' : 'failed', 'E_REJECTED', summary), who, false, () => this.retryOrFail(rec, 'failed', summary, busy ? this.d.lostRetries : 0));
    this.audit(who, 'remote.task_rejected', rec, { reason });
  }

  overBudget(rec: LeaseRec, msg: Result, reason: string, who: Actor): void {
    this.note(rec, msg);
    this.close(rec, this.end(rec, 'failed', 'E_BUDGET', reason), who, false, (sched, id) => sched.finish(id, 'failed', `E_BUDGET: ${reason}`));
    this.d.cancel(rec, `over budget: ${reason}`);
    this.audit(who, 'remote.over_budget', rec, { cost_usd: msg.cost, budget_usd: rec.budget, message: msg.type });
  }

  /** The lease lapsed (no acceptance in time, or no heartbeat): the attempt is lost and the task requeued. */
  expire(rec: LeaseRec, now: number): void {
    const l = rec.lease;
    const why =
      l.phase === 'offered'
        ? `worker ${l.worker_id} did not accept within the schedule-to-start timeout`
        : `worker ${l.worker_id} went silent: no heartbeat for ${l.lease_ms} ms`;
    this.close(rec, this.end(rec, 'lost', 'E_TIMEOUT', why), SYSTEM, false, () => this.retryOrFail(rec, 'failed', why, this.d.lostRetries));
    this.d.cancel(rec, `lease expired: ${why}`);
    this.audit(SYSTEM, 'remote.lease_expired', rec, { phase: l.phase, expired_at: l.expires_at, now });
  }

  /** Admin cancel or kill switch. */
  cancelled(rec: LeaseRec, reason: string): void {
    this.close(rec, this.end(rec, 'cancelled', 'E_CANCELLED', reason), SYSTEM, false, (sched, id) => sched.finish(id, 'cancelled', reason));
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
      if (r.engine) (engine = r.engine), (model = r.model);
    }
    return { cost, tokens, engine, model, tasks: [...live] };
  }

  private note(rec: LeaseRec, msg: Result): void {
    rec.engine = msg.engine_used;
    rec.model = msg.model_used;
    rec.cost = msg.cost;
    rec.tokens = msg.tokens;
  }

  private end(rec: LeaseRec, state: AttemptEnd['state'], errorCode: string | null, summary: string): AttemptEnd {
    return {
      state,
      engine: rec.engine,
      model: rec.model,
      cost_usd: rec.cost,
      cost_source: rec.engine === null ? 'none' : 'reported',
      usage: rec.tokens ?? ZERO,
      error_code: state === 'succeeded' ? null : errorCode,
      summary,
    };
  }

  private retryOrFail(rec: LeaseRec, state: 'failed' | 'timed_out', reason: string, allowance: number): Transition[] {
    const sched = this.d.service.scheduler;
    const { task_id, attempt } = rec.lease;
    return attempt < rec.maxAttempts + allowance
      ? sched.requeue(task_id, `requeued after attempt ${attempt}: ${reason}`.slice(0, 1000))
      : sched.finish(task_id, state, reason.slice(0, 1000));
  }

  /**
   * Drops the lease, decides the task's next state (scheduler, now) and
   * persists the attempt's end with it: in the next group commit for results
   * (the hot path), at once for everything else.
   */
  private close(rec: LeaseRec, end: AttemptEnd, who: Actor, grouped: boolean, decide: (sched: TaskService['scheduler'], id: string) => Transition[]): void {
    if (!this.d.leases.drop(rec)) return;
    const { service } = this.d;
    const { task_id, attempt, worker_id } = rec.lease;
    let trs: Transition[] = [];
    try {
      trs = decide(service.scheduler, task_id);
    } catch {
      trs = []; // the task moved underneath (e.g. an admin override); still close the attempt
    }
    const write = (): void => service.store.finishAttempt(task_id, attempt, end, trs, who);
    if (grouped) this.grouped(write);
    else {
      try {
        write();
      } catch {
        service.resync();
      }
    }
    const t = this.totals.get(worker_id) ?? { cost: 0, tokens: 0, engine: null, model: null };
    t.cost += end.cost_usd ?? 0;
    t.tokens += end.usage.input + end.usage.output;
    if (end.engine) (t.engine = end.engine), (t.model = end.model);
    this.totals.set(worker_id, t);
    this.d.changed(worker_id);
  }

  /** A write in the store's next group commit; if it fails, memory is rebuilt from the store. */
  private grouped(fn: () => void): void {
    this.d.service.store.grouped(fn).catch(() => this.d.service.resync());
  }

  private audit(who: Actor, action: string, rec: LeaseRec, detail: Record<string, unknown>): void {
    try {
      this.d.service.store.appendAudit({ ...who, action, target: rec.lease.task_id, detail: { attempt: rec.lease.attempt, worker: rec.lease.worker_id, ...detail } });
    } catch {
      /* the store reports its own failures; an audit write must not break settling */
    }
  }
}
