/**
 * The local worker pool: N slots that take ready host tasks, pass them through
 * the safety gate and the router, run the chosen engine, and record every
 * transition through the TaskService/Store. Each slot is a "worker" on the
 * dashboard (id, engine/model, status, current task, cost, tokens).
 *
 * Starting and finishing an attempt go through the store's group commit
 * (`store.grouped`): the slots that start or finish in the same event-loop
 * turn share one SQLite transaction, and a slot acts (runs the engine, frees
 * itself) only after its write committed.
 */
import type { AttemptOutcome, AttemptProcess, Engine, EngineEvent, ToolGate } from '../core/engine.js';
import { isColonyError, toColonyError } from '../core/errors.js';
import { ZERO_USAGE } from '../core/task.js';
import type { Transition } from '../core/scheduler.js';
import { SYSTEM } from '../store/store.js';
import type { StoredTask } from '../store/rows.js';
import type { TaskService } from './service.js';
import type { PreparedWorkspace } from './task-workspace.js';
import type { WorkerCard } from '../core/live-types.js';
import type { SandboxPlan } from '../safety/os-sandbox/types.js';

export interface RouteChoice {
  engine: Engine;
  model: string | null;
  rule: string;
  explanation: string;
}

export interface RouteContext {
  previous: { engine: string; model: string | null; error_code: string | null; lost?: boolean }[];
  remaining_usd: number;
}

export type RouteFn = (task: StoredTask, ctx: RouteContext) => RouteChoice;

export type GateVerdict =
  | { verdict: 'allow'; prompt?: string; workspace?: string } // use these (screened text, checked real path)
  | { verdict: 'deny'; reason: string }
  | { verdict: 'needs_approval'; reason: string }
  | { verdict: 'defer'; reason: string }; // not now (kill switch): back to the queue
export type GateFn = (task: StoredTask) => GateVerdict | Promise<GateVerdict>;

export interface PoolOptions {
  service: TaskService;
  route: RouteFn;
  gate?: GateFn;
  envFor?: (task: StoredTask, engine: string) => Record<string, string>;
  /** The attempt's OS sandbox, given to the engine (runner/sandbox-plan.ts). */
  sandboxFor?: (task: StoredTask, engine: string, workspace: string) => SandboxPlan | null;
  concurrency: number;
  canDispatch?: () => boolean;
  silenceTimeoutMs?: number | null;
  maxOutputBytes?: number;
  /** Only tasks accepted here are dispatched (e.g. `colony run` runs its own graph). */
  accept?: (taskId: string) => boolean;
  /** Records what identifies an attempt's processes (the sweep after a crash finds them by it). */
  recordProcess?: (taskId: string, attempt: number, info: AttemptProcess) => void;
  /** Sets up where the attempt runs (worktree, protected-file guard) and checks it afterwards. */
  prepare?: (task: StoredTask, engine: string, workspace: string) => Promise<PreparedWorkspace>;
  /** Decides each tool call of an agent (claude's permission requests) through the safety gateway; may hold one for the admin. */
  toolGateFor?: (task: StoredTask, attempt: number, workspace: string) => ToolGate;
}

export interface SlotView extends WorkerCard {
  kind: 'local';
  status: 'idle' | 'running';
}

interface Slot extends SlotView {
  abort: AbortController | null;
  cancelReason: string | null;
}

const DEFAULT_MAX_OUTPUT = 1024 * 1024;

export class LocalPool {
  private readonly slots: Slot[];
  private timer: NodeJS.Timeout | null = null;
  private scheduled = false;
  private stopped = true;
  private readonly running = new Set<Promise<void>>();
  private readonly unsubscribe: () => void;
  private readonly unsettled = new Map<string, () => void>();

  constructor(private readonly o: PoolOptions) {
    this.slots = Array.from({ length: o.concurrency }, (_, i) => ({
      id: `host-${i + 1}`,
      kind: 'local' as const,
      status: 'idle' as const,
      task_id: null,
      task_title: null,
      owner: null,
      engine: null,
      model: null,
      session_cost_usd: 0,
      tokens_used: 0,
      origin_ip: '127.0.0.1',
      abort: null,
      cancelReason: null,
    }));
    this.unsubscribe = o.service.store.subscribe((events) => {
      if (events.some((e) => e.kind === 'task.state' && e.data['to'] === 'ready')) this.kick();
    });
  }

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => {
      this.retryUnsettled();
      try {
        this.o.service.expireWaits();
      } catch {
        /* reported by the store; retried next tick */
      }
      this.kick();
    }, 500);
    this.timer.unref();
    this.kick();
  }

  /** Stops dispatching; running tasks finish unless cancelled. Resolves when they have. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe();
    await Promise.allSettled([...this.running]);
  }

  workers(): SlotView[] {
    return this.slots.map(({ abort: _a, cancelReason: _c, ...view }) => view);
  }

  busy(): number {
    return this.slots.filter((s) => s.status === 'running').length;
  }

  /** Cancels a running task (SIGTERM → grace → SIGKILL of its process group via the engine). */
  cancel(taskId: string, reason: string): boolean {
    const slot = this.slots.find((s) => s.task_id === taskId);
    if (!slot?.abort) return false;
    slot.cancelReason = reason;
    slot.abort.abort();
    return true;
  }

  cancelAll(reason: string): number {
    let n = 0;
    for (const s of this.slots) if (s.task_id && this.cancel(s.task_id, reason)) n++;
    return n;
  }

  /** Resolves when every task accepted by `accept` has ended (for `colony run`). */
  idle(): Promise<void> {
    return Promise.allSettled([...this.running]).then(() => undefined);
  }

  kick(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    if (this.stopped || (this.o.canDispatch && !this.o.canDispatch())) return;
    const free = this.slots.filter((s) => s.status === 'idle');
    if (free.length === 0) return;
    const { service } = this.o;
    let claimed: Transition[];
    try {
      claimed = service.persist(service.scheduler.claim('host', free.length, this.o.accept), SYSTEM);
    } catch {
      return; // store refused; the scheduler was rebuilt and the next tick retries
    }
    claimed.forEach((tr, i) => {
      const slot = free[i] as Slot;
      const p = this.runOne(slot, tr.id).finally(() => this.running.delete(p));
      this.running.add(p);
    });
  }

  private async runOne(slot: Slot, taskId: string): Promise<void> {
    const { service } = this.o;
    const task = service.requireTask(taskId);
    slot.status = 'running';
    slot.task_id = task.id;
    slot.task_title = task.title;
    slot.owner = task.submitted_by;
    slot.cancelReason = null;
    slot.abort = new AbortController();
    try {
      await this.attempt(slot, task);
    } catch (e) {
      // Anything unexpected ends the task as failed rather than leaving it assigned forever;
      // a task that never started because the store refused a write goes back to the queue.
      const err = toColonyError(e);
      const release = (): void => {
        const sched = service.scheduler;
        const st = sched.state(task.id);
        if (st === 'assigned' && err.code === 'E_STORE') service.persist(sched.requeue(task.id, `requeued: ${err.message}`), SYSTEM);
        else if (st === 'assigned' || st === 'running') service.persist(sched.finish(task.id, 'failed', `${err.code}: ${err.message}`), SYSTEM);
      };
      try {
        release();
      } catch {
        this.settleLater(task.id, release); // store unavailable: retried every tick
      }
    } finally {
      slot.status = 'idle';
      slot.task_id = null;
      slot.task_title = null;
      slot.owner = null;
      slot.abort = null;
      this.publishSlot(slot);
      this.kick();
    }
  }

  private async attempt(slot: Slot, task: StoredTask): Promise<void> {
    const { service } = this.o;
    const sched = service.scheduler;
    const verdict = this.o.gate ? await this.o.gate(task) : ({ verdict: 'allow' } as GateVerdict);
    if (verdict.verdict === 'defer') {
      service.persist(sched.requeue(task.id, verdict.reason), SYSTEM);
      return;
    }
    if (verdict.verdict === 'deny') {
      service.persist(sched.finish(task.id, 'failed', `safety: ${verdict.reason}`), SYSTEM);
      return;
    }
    // The gate decides whether an approval covers what it found now (runner/safety-gate.ts);
    // a task's earlier approval alone never waives a later finding.
    if (verdict.verdict === 'needs_approval') {
      service.persist(sched.hold(task.id, `needs approval: ${verdict.reason}`), SYSTEM);
      return;
    }
    const allowed = verdict.verdict === 'allow' ? verdict : { prompt: undefined, workspace: undefined };
    const previous = task.attempt === 0
      ? [] // first attempt: no history to read
      : service.store
        .attemptsOf(task.id)
        .filter((a) => a.finished_at !== null)
        .map((a) => ({ engine: a.engine ?? '', model: a.model, error_code: a.error_code, lost: a.state === 'lost' }));
    const remaining = Math.max(0, task.budget_usd - task.cost_usd);
    let choice: RouteChoice;
    let prepared: PreparedWorkspace | undefined;
    try {
      choice = this.o.route(task, { previous, remaining_usd: remaining });
      prepared = await this.o.prepare?.(task, choice.engine.name, allowed.workspace ?? task.workspace);
    } catch (e) {
      const err = toColonyError(e);
      service.persist(sched.finish(task.id, 'failed', `${err.code}: ${err.message}`), SYSTEM);
      return;
    }
    const attempt = await this.startAttempt(slot, task, choice);
    let outcome = await this.drive(slot, task, attempt, choice, prepared?.workspace ?? allowed.workspace ?? task.workspace, remaining, allowed.prompt);
    let hold = false;
    if (prepared) {
      try {
        const checked = await prepared.complete(outcome.ok);
        hold = checked.hold === true;
        if (!checked.ok && outcome.ok) outcome = { ...outcome, ok: false, error_code: 'E_SAFETY_DENIED', summary: checked.reason ?? 'workspace check failed' };
      } catch (e) {
        const err = toColonyError(e);
        outcome = { ...outcome, ok: false, error_code: err.code, summary: err.message };
      }
    }
    await this.finish(task, attempt, outcome, slot.cancelReason, hold);
  }

  /** assigned → running with its attempt row and the slot's card, in the next group commit; the engine starts after it committed. */
  private async startAttempt(slot: Slot, task: StoredTask, choice: RouteChoice): Promise<number> {
    const { service } = this.o;
    const trs = service.scheduler.start(task.id);
    try {
      return await service.store.grouped(() => {
        const attempt = service.store.startAttempt(
          task.id,
          { engine: choice.engine.name, model: choice.model, worker_id: slot.id, route_rule: choice.rule, route_explanation: choice.explanation },
          trs,
          SYSTEM,
        );
        slot.engine = choice.engine.name;
        slot.model = choice.model;
        this.publishSlotNow(slot);
        return attempt;
      });
    } catch (e) {
      service.resync();
      throw e;
    }
  }

  private async drive(slot: Slot, task: StoredTask, attempt: number, choice: RouteChoice, workspace: string, budget: number, cleanPrompt: string | undefined): Promise<AttemptOutcome> {
    const { service } = this.o;
    const signal = (slot.abort as AbortController).signal;
    const out: AttemptOutcome = { ok: false, summary: 'engine ended without a result', error_code: 'E_ENGINE', engine: choice.engine.name, model: choice.model, usage: ZERO_USAGE, cost_usd: 0, cost_source: 'none' };
    let outputBytes = 0;
    let truncated = false;
    const maxOut = this.o.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    const costBefore = slot.session_cost_usd;
    const tokensBefore = slot.tokens_used;
    const events: AsyncIterable<EngineEvent> = choice.engine.run({
      task_id: task.id,
      attempt,
      prompt: cleanPrompt ?? task.prompt,
      model: choice.model,
      workspace,
      budget_usd: budget,
      env: this.o.envFor ? this.o.envFor(task, choice.engine.name) : (process.env as Record<string, string>),
      run_timeout_ms: task.run_timeout_s === null ? null : task.run_timeout_s * 1000,
      silence_timeout_ms: this.o.silenceTimeoutMs ?? null,
      signal,
      onProcess: this.o.recordProcess ? (info) => this.o.recordProcess?.(task.id, attempt, info) : undefined,
      sandbox: this.o.sandboxFor?.(task, choice.engine.name, workspace) ?? null,
      ...(this.o.toolGateFor ? { tool_gate: this.o.toolGateFor(task, attempt, workspace) } : {}),
    });
    for await (const ev of events) {
      switch (ev.type) {
        case 'output':
          if (outputBytes < maxOut) {
            const text = ev.text.slice(0, maxOut - outputBytes);
            outputBytes += text.length;
            service.store.appendOutput(task.id, attempt, ev.stream, text);
          } else if (!truncated) {
            truncated = true;
            service.store.appendOutput(task.id, attempt, 'stderr', `\n[colony: output truncated at ${maxOut} bytes]\n`);
          }
          break;
        case 'usage':
          out.usage = ev.usage;
          slot.tokens_used = tokensBefore + ev.usage.input + ev.usage.output;
          break;
        case 'cost':
          out.cost_usd = ev.usd;
          out.cost_source = ev.source;
          slot.session_cost_usd = costBefore + (ev.usd ?? 0);
          this.publishSlot(slot);
          if (ev.usd !== null && budget > 0 && ev.usd >= budget && !signal.aborted) {
            slot.cancelReason = `budget: spent $${ev.usd.toFixed(4)} ≥ $${budget.toFixed(4)}`;
            (slot.abort as AbortController).abort();
          }
          break;
        case 'info':
          out.engine = ev.engine;
          out.model = ev.model ?? out.model;
          slot.model = out.model;
          break;
        case 'done':
          out.ok = ev.ok;
          out.summary = ev.summary;
          out.error_code = ev.ok ? null : (ev.error_code ?? 'E_ENGINE');
          break;
      }
    }
    return out;
  }

  private async finish(task: StoredTask, attempt: number, outcome: AttemptOutcome, cancelReason: string | null, hold = false): Promise<void> {
    const { service } = this.o;
    const sched = service.scheduler;
    const budgetStop = cancelReason?.startsWith('budget') ?? false;
    type End = 'succeeded' | 'failed' | 'timed_out' | 'cancelled';
    // Decides (and applies to the scheduler) the task's next state; called again if the write is retried.
    const decide = (): { state: End; trs: Transition[] } => {
      let trs: Transition[];
      let state: End;
      if (outcome.ok) {
        state = 'succeeded';
        trs = hold ? sched.holdAfterRun(task.id, 'change pending approval') : sched.finish(task.id, 'succeeded', outcome.summary);
      } else if (cancelReason && !budgetStop) {
        state = 'cancelled';
        trs = sched.finish(task.id, 'cancelled', cancelReason);
      } else {
        state = outcome.error_code === 'E_TIMEOUT' ? 'timed_out' : 'failed';
        const reason = budgetStop ? (cancelReason as string) : `${outcome.error_code ?? 'E_ENGINE'}: ${outcome.summary}`;
        const retryable = !budgetStop && outcome.error_code !== 'E_BUDGET';
        // An auto-routed task gets one fallback attempt on a stronger engine even with max_attempts 1 (DESIGN §3).
        const allowed = task.engine === 'auto' && outcome.engine !== 'exec' ? Math.max(task.max_attempts, 2) : task.max_attempts;
        // Attempts lost to a host crash (recovery) are not charged to the task.
        const charged = attempt - service.store.attemptsOf(task.id).filter((a) => a.state === 'lost').length;
        trs = charged < allowed && retryable
          ? sched.requeue(task.id, `retry after attempt ${attempt}/${task.max_attempts}: ${reason}`)
          : sched.finish(task.id, state, reason);
      }
      return { state, trs };
    };
    const write = (d: { state: End; trs: Transition[] }): void =>
      service.store.finishAttempt(
        task.id,
        attempt,
        { state: d.state, engine: outcome.engine, model: outcome.model, cost_usd: outcome.cost_usd, cost_source: outcome.cost_source, usage: outcome.usage, error_code: outcome.error_code, summary: outcome.summary },
        d.trs,
        SYSTEM,
      );
    const first = decide();
    try {
      await service.store.grouped(() => write(first));
    } catch (e) {
      service.resync(); // memory back to what the store has: the task is still running there
      if (!isStoreRefusal(e)) throw e;
      // The result is known but the store refused it (e.g. disk full): keep it and write it once writes go through again.
      this.settleLater(task.id, () => {
        if (service.scheduler.state(task.id) !== 'running') return; // ended by someone else meanwhile (admin, kill switch)
        try {
          write(decide());
        } catch (e2) {
          service.resync();
          throw e2;
        }
      });
    }
  }

  /**
   * A task this pool holds (assigned or running in the store) whose closing
   * write the store refused: `write` is retried on every tick until it goes
   * through, so the task neither stays assigned/running forever nor needs a
   * restart once the disk has space again.
   */
  private settleLater(taskId: string, write: () => void): void {
    this.unsettled.set(taskId, write);
  }

  private retryUnsettled(): void {
    for (const [id, write] of this.unsettled) {
      try {
        write();
        this.unsettled.delete(id);
      } catch {
        return; // the store still refuses; next tick
      }
    }
  }

  /** The slot's dashboard card, in the next group commit (a failed publish is only a stale card). */
  private publishSlot(slot: Slot): void {
    const { abort: _a, cancelReason: _c, ...view } = slot;
    const { store } = this.o.service;
    store.grouped(() => store.publish('worker', view.owner, { ...view })).catch(() => undefined);
  }

  private publishSlotNow(slot: Slot): void {
    const { abort: _a, cancelReason: _c, ...view } = slot;
    this.o.service.store.publish('worker', slot.owner, { ...view });
  }
}

/** The store refused a write (disk full, read-only, I/O): worth retrying later, unlike a logic error. */
function isStoreRefusal(e: unknown): boolean {
  return isColonyError(e) && e.code === 'E_STORE';
}
