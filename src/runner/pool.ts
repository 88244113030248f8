/**
 * The local worker pool: N slots that take ready host tasks, pass them through
 * the safety gate and the router, run the chosen engine, and record every
 * transition through the TaskService (its PoolPort). What an attempt's events
 * amount to and what follows it is core/attempt-policy's to decide. Each slot
 * is a "worker" on the dashboard (id, engine/model, status, current task, cost, tokens).
 *
 * Starting and finishing an attempt go through the store's group commit: the
 * slots that start or finish in the same event-loop turn share one SQLite
 * transaction, and a slot acts (runs the engine, frees itself) only after its
 * write committed (or, for a result the store refused, once the service holds
 * it for a retry).
 */
import { beginOutcome, capOutput, decideAttempt, foldEvent, unchargedAttempts, type Interruption } from '../core/attempt-policy.js';
import { remainingBudget } from '../core/budget.js';
import type { AttemptOutcome, AttemptProcess, Engine, ToolGate } from '../core/engine.js';
import { toColonyError } from '../core/errors.js';
import { SYSTEM } from '../store/store.js';
import type { StoredTask } from '../store/rows.js';
import type { PoolPort, TaskStep } from './task-port.js';
import type { PreparedWorkspace } from './task-workspace.js';
import type { WorkerCard } from '../core/live-types.js';
import type { SandboxPlan } from '../safety/os-sandbox/types.js';
import { tracePhase } from '../engines/attempt-trace.js';
import type { FollowUp } from '../store/follow-ups.js';
import { followUpStep, followUpTask } from './follow-up.js';
import type { CostScope } from './budget-inflight.js';

export interface RouteChoice {
  engine: Engine;
  model: string | null;
  rule: string;
  explanation: string;
}

export interface RouteContext {
  previous: { engine: string; model: string | null; error_code: string | null; lost?: boolean }[];
  remaining_usd: number;
  /** Engines the executor can run (a remote worker's); default: those ready on the host. */
  available?: readonly string[];
}

/** What the router needs to know of a task's earlier attempts (its fallback reads the last one). */
export function routeContextOf(
  task: StoredTask,
  attempts: () => ReadonlyArray<{ engine: string | null; model: string | null; error_code: string | null; finished_at: number | null; state: string }>,
): RouteContext {
  const history = task.attempt === 0 ? [] : attempts(); // first attempt: no history to read
  const previous = history
    .filter((a) => a.finished_at !== null)
    .map((a) => ({ engine: a.engine ?? '', model: a.model, error_code: a.error_code, lost: a.state === 'lost' }));
  return { previous, remaining_usd: remainingBudget(task.budget_usd, task.cost_usd) };
}

export type RouteFn = (task: StoredTask, ctx: RouteContext) => RouteChoice;

export type GateVerdict =
  | { verdict: 'allow'; prompt?: string; workspace?: string } // use these (screened text, checked real path)
  | { verdict: 'deny'; reason: string }
  | { verdict: 'needs_approval'; reason: string }
  | { verdict: 'defer'; reason: string }; // not now (kill switch): back to the queue
export type GateFn = (task: StoredTask) => GateVerdict | Promise<GateVerdict>;

export interface PoolOptions {
  service: PoolPort;
  route: RouteFn;
  gate?: GateFn;
  envFor?: (task: StoredTask, engine: string) => Record<string, string>;
  /** The attempt's OS sandbox, given to the engine (runner/sandbox-plan.ts). */
  sandboxFor?: (task: StoredTask, engine: string, workspace: string, covered?: readonly string[]) => SandboxPlan | null;
  /** The task's private agent-state folder (runner/agent-state.ts), the same for all its attempts; absent: engines use throwaway ones. */
  stateDirFor?: (task: StoredTask) => string | null;
  concurrency: number;
  canDispatch?: () => boolean;
  silenceTimeoutMs?: number | null;
  maxOutputBytes?: number;
  /** Only tasks accepted here are dispatched (e.g. `colony run` runs its own graph). */
  accept?: (taskId: string) => boolean;
  /** Records what identifies an attempt's processes (the sweep after a crash finds them by it). */
  recordProcess?: (taskId: string, attempt: number, info: AttemptProcess) => void;
  /** A slot is done with its task (its processes ended or were killed): the fence watch forgets them. */
  attemptEnded?: (taskId: string) => void;
  /** Sets up where the attempt runs (worktree, protected-file guard) and checks it afterwards. */
  prepare?: (task: StoredTask, engine: string, workspace: string, followUp: FollowUp | null) => Promise<PreparedWorkspace>;
  /** Follow-ups ("request changes" on a pending change): the open one of a task, and where agent session ids are kept. */
  followUps?: FollowUpPort;
  /** A running attempt's cost so far (cumulative), as its engine reports it: graph and user budgets are checked in flight. */
  onCost?: (taskId: string, attempt: number, scope: CostScope, usd: number) => void;
  /** Decides each tool call of an agent (claude's permission requests) through the safety gateway; may hold one for the admin. */
  toolGateFor?: (task: StoredTask, attempt: number, workspace: string) => ToolGate;
}

export interface FollowUpPort {
  openFor(taskId: string): FollowUp | null;
  recordSession(taskId: string, attempt: number, engine: string, sessionId: string): void;
  /** The follow-up cannot run (the gate refused its comment): the change it revised is pending again. */
  abandon(followUp: FollowUp, reason: string): void;
}

interface Slot extends WorkerCard {
  status: 'idle' | 'running';
  abort: AbortController | null;
  interruption: Interruption | null;
}

const DEFAULT_MAX_OUTPUT = 1024 * 1024;

export class LocalPool {
  private readonly slots: Slot[];
  private timer: NodeJS.Timeout | null = null;
  private scheduled = false;
  private stopped = true;
  private readonly running = new Set<Promise<void>>();
  private readonly unsubscribe: () => void;

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
      interruption: null,
    }));
    this.unsubscribe = o.service.onReady(() => this.kick());
  }

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => {
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

  workers(): WorkerCard[] {
    return this.slots.map(cardOf);
  }

  busy(): number {
    return this.slots.filter((s) => s.status === 'running').length;
  }

  /** Cancels a running task (SIGTERM → grace → SIGKILL of its process group via the engine). */
  cancel(taskId: string, reason: string): boolean {
    const slot = this.slots.find((s) => s.task_id === taskId);
    if (!slot?.abort) return false;
    slot.interruption = { kind: 'cancelled', reason };
    slot.abort.abort();
    return true;
  }

  /** Stops a running attempt because its graph's or user's budget was reached: its task goes back to the queue, paused. */
  stopForBudget(taskId: string, reason: string): boolean {
    const slot = this.slots.find((s) => s.task_id === taskId);
    if (!slot?.abort || slot.abort.signal.aborted) return false;
    slot.interruption = { kind: 'paused', reason };
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
    let claimed: string[];
    try {
      claimed = this.o.service.claim('host', free.length, this.o.accept);
    } catch {
      return; // store refused; the scheduler was rebuilt and the next tick retries
    }
    let tasks = new Map<string, StoredTask>();
    try {
      tasks = this.o.service.tasksOf(claimed);
    } catch {
      // each run reads its own task
    }
    claimed.forEach((id, i) => {
      const slot = free[i] as Slot;
      const p = this.runOne(slot, id, tasks.get(id)).finally(() => this.running.delete(p));
      this.running.add(p);
    });
  }

  private async runOne(slot: Slot, taskId: string, read?: StoredTask): Promise<void> {
    const { service } = this.o;
    const task = read ?? service.requireTask(taskId);
    slot.status = 'running';
    slot.task_id = task.id;
    slot.task_title = task.title;
    slot.owner = task.submitted_by;
    slot.interruption = null;
    slot.abort = new AbortController();
    try {
      await this.attempt(slot, task);
    } catch (e) {
      // Anything unexpected ends the task as failed rather than leaving it assigned forever;
      // a task that never started because the store refused a write goes back to the queue.
      const err = toColonyError(e);
      const st = service.stateOf(task.id);
      // With memory stale (the store unreadable), 'running' may be a start the store never took: requeue too.
      if (err.code === 'E_STORE' && (st === 'assigned' || service.memoryStale))
        service.stepDurably(task.id, { kind: 'requeue', reason: `requeued: ${err.message}` }, SYSTEM);
      else if (st === 'assigned' || st === 'running')
        service.stepDurably(task.id, { kind: 'finish', state: 'failed', reason: `${err.code}: ${err.message}` }, SYSTEM);
    } finally {
      this.o.attemptEnded?.(task.id);
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
    let phase = tracePhase('screen');
    // A follow-up runs the reviewer's comment (screened like any prompt) on the engine whose session it resumes.
    const followUp = this.o.followUps?.openFor(task.id) ?? null;
    const run = followUp ? followUpTask(task, followUp) : task;
    const verdict = this.o.gate ? await this.o.gate(run) : ({ verdict: 'allow' } as GateVerdict);
    phase();
    const refusal = gateStep(verdict);
    if (refusal) {
      if (followUp && refusal.kind === 'finish') {
        this.o.followUps?.abandon(followUp, refusal.reason);
        service.stepDurably(task.id, followUpStep(followUp, refusal.reason), SYSTEM);
        return;
      }
      service.stepDurably(task.id, refusal, SYSTEM);
      return;
    }
    if (this.heldByPause(task)) return;
    const allowed = verdict.verdict === 'allow' ? verdict : { prompt: undefined, workspace: undefined };
    const ctx = routeContextOf(task, () => service.attemptsOf(task.id));
    const remaining = ctx.remaining_usd;
    let choice: RouteChoice;
    let prepared: PreparedWorkspace | undefined;
    try {
      phase = tracePhase('prepare');
      choice = this.o.route(run, followUp ? { ...ctx, previous: [] } : ctx);
      prepared = await this.o.prepare?.(task, choice.engine.name, allowed.workspace ?? task.workspace, followUp);
      phase();
    } catch (e) {
      const err = toColonyError(e);
      const reason = `${err.code}: ${err.message}`;
      if (followUp) this.o.followUps?.abandon(followUp, reason);
      service.stepDurably(task.id, followUp ? followUpStep(followUp, reason) : { kind: 'finish', state: 'failed', reason }, SYSTEM);
      return;
    }
    if (this.heldByPause(task)) {
      // Not started: a fresh worktree goes (the next attempt makes its own); a follow-up's stays open for when it resumes.
      if (prepared && !followUp) await prepared.complete(false).catch(() => undefined);
      return;
    }
    phase = tracePhase('start');
    const attempt = await this.startAttempt(slot, task, choice);
    phase();
    phase = tracePhase('run');
    const resume = followUp && followUp.engine === choice.engine.name ? followUp.resume_session : null;
    const workspace = prepared?.workspace ?? allowed.workspace ?? task.workspace;
    let outcome = await this.drive(slot, run, attempt, choice, workspace, remaining, allowed.prompt, resume, prepared?.covered);
    phase();
    phase = tracePhase('collect');
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
    phase();
    phase = tracePhase('settle');
    await this.finish(task, attempt, outcome, slot.interruption, hold, followUp);
    phase();
  }

  /**
   * Its graph or submitter was paused at its budget after the claim (a sibling's cost reached it while this one
   * was screened or prepared): back to the queue, held there by the pause, without an attempt or a process.
   */
  private heldByPause(task: StoredTask): boolean {
    const why = this.o.service.pausedReason(task);
    if (!why) return false;
    this.o.service.stepDurably(task.id, { kind: 'requeue', reason: why }, SYSTEM);
    return true;
  }

  /** assigned → running with its attempt row, in the next group commit (the slot's card shortly after: card-fold.ts); the engine starts after it committed. */
  private startAttempt(slot: Slot, task: StoredTask, choice: RouteChoice): Promise<number> {
    const start = { engine: choice.engine.name, model: choice.model, worker_id: slot.id, route_rule: choice.rule, route_explanation: choice.explanation };
    return this.o.service.beginAttempt(task.id, start, () => {
      slot.engine = choice.engine.name;
      slot.model = choice.model;
      this.o.service.publishWorker(cardOf(slot));
    });
  }

  private async drive(
    slot: Slot,
    task: StoredTask,
    attempt: number,
    choice: RouteChoice,
    workspace: string,
    budget: number,
    cleanPrompt: string | undefined,
    resumeSession: string | null,
    covered?: readonly string[],
  ): Promise<AttemptOutcome> {
    const { service } = this.o;
    const abort = slot.abort as AbortController;
    let out = beginOutcome(choice.engine.name, choice.model);
    const cap = { used: 0, truncated: false };
    const maxOut = this.o.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    const costBefore = slot.session_cost_usd;
    const tokensBefore = slot.tokens_used;
    const events = choice.engine.run({
      task_id: task.id,
      attempt,
      prompt: cleanPrompt ?? task.prompt,
      model: choice.model,
      workspace,
      budget_usd: budget,
      env: this.o.envFor ? this.o.envFor(task, choice.engine.name) : (process.env as Record<string, string>),
      run_timeout_ms: task.run_timeout_s === null ? null : task.run_timeout_s * 1000,
      silence_timeout_ms: this.o.silenceTimeoutMs ?? null,
      signal: abort.signal,
      onProcess: this.o.recordProcess ? (info) => this.o.recordProcess?.(task.id, attempt, info) : undefined,
      sandbox: this.o.sandboxFor?.(task, choice.engine.name, workspace, covered) ?? null,
      ...(this.o.toolGateFor ? { tool_gate: this.o.toolGateFor(task, attempt, workspace) } : {}),
      ...(resumeSession ? { resume_session: resumeSession } : {}),
      ...(this.o.stateDirFor ? { state_dir: this.o.stateDirFor(task) } : {}),
    });
    for await (const ev of events) {
      if (ev.type === 'output') {
        const c = capOutput(cap, ev.text, maxOut);
        if (c.keep) service.appendOutput(task.id, attempt, ev.stream, c.keep);
        if (c.notice) service.appendOutput(task.id, attempt, 'stderr', `\n[colony: output truncated at ${maxOut} bytes]\n`);
        continue;
      }
      const f = foldEvent(out, ev, budget);
      out = f.outcome;
      if (ev.type === 'usage') slot.tokens_used = tokensBefore + ev.usage.input + ev.usage.output;
      if (ev.type === 'info') slot.model = out.model;
      if (ev.type === 'info' && ev.session_id) this.o.followUps?.recordSession(task.id, attempt, choice.engine.name, ev.session_id);
      if (ev.type === 'cost') {
        slot.session_cost_usd = costBefore + (ev.usd ?? 0);
        this.publishSlot(slot);
        if (ev.usd !== null) this.o.onCost?.(task.id, attempt, task, ev.usd); // may stop this attempt (stopForBudget)
      }
      if (f.budgetStop && !abort.signal.aborted) {
        slot.interruption = { kind: 'budget', reason: f.budgetStop };
        abort.abort();
      }
    }
    return out;
  }

  /** Records the attempt's end and the task's next step, as the attempt policy decides them. */
  private async finish(
    task: StoredTask,
    attempt: number,
    outcome: AttemptOutcome,
    interruption: Interruption | null,
    hold: boolean,
    followUp: FollowUp | null,
  ): Promise<void> {
    const { service } = this.o;
    const earlier = attempt > 1 ? service.attemptsOf(task.id).filter((a) => a.attempt < attempt) : [];
    const d = decideAttempt({ task, attempt, uncharged_before: unchargedAttempts(earlier), outcome, interruption, hold });
    // A failed follow-up is not retried: the change it revised is pending again and the task is back where it was.
    if (followUp && !outcome.ok) d.next = followUpStep(followUp, `follow-up failed (${outcome.summary.slice(0, 200)}); the previous change stands`);
    const end = {
      state: d.state,
      engine: outcome.engine,
      model: outcome.model,
      cost_usd: outcome.cost_usd,
      cost_source: outcome.cost_source,
      usage: outcome.usage,
      error_code: d.error_code,
      summary: outcome.summary,
    };
    await service.endAttempt(task.id, attempt, end, d.next, SYSTEM);
  }

  /** The slot's dashboard card, in the next group commit (a failed publish is only a stale card). */
  private publishSlot(slot: Slot): void {
    this.o.service.publishWorker(cardOf(slot));
  }
}

/** What the gate's verdict means for the task when it does not run now; null: run it. */
/**
 * The task's next step on a gate verdict that does not let it run now. The gate
 * decides whether an approval covers what it found (runner/safety-gate.ts); a
 * task's earlier approval alone never waives a later finding.
 */
export function gateStep(v: GateVerdict): TaskStep | null {
  if (v.verdict === 'defer') return { kind: 'requeue', reason: v.reason };
  if (v.verdict === 'deny') return { kind: 'finish', state: 'failed', reason: `safety: ${v.reason}` };
  if (v.verdict === 'needs_approval') return { kind: 'hold', reason: `needs approval: ${v.reason}` };
  return null;
}

function cardOf(slot: Slot): WorkerCard {
  const { abort: _a, interruption: _i, ...view } = slot;
  return view;
}
