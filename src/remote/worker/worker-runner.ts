/**
 * Runs one verified assignment on the worker, with the worker's own rules:
 * its engines (and only those it enabled), its workspace root, its safety
 * gateway (required: worker-gate.ts), and its budget cap (the engine gets
 * min(host budget, cap) and is stopped by the attempt policy's budget rule
 * when the reported cost reaches it, whatever the host asked for).
 * Output is batched into TASK_PROGRESS chunks; the agent signs and sends.
 */
import { beginOutcome, capOutput, foldEvent, LOST_CODE } from '../../core/attempt-policy.js';
import type { AttemptProcess, Engine } from '../../core/engine.js';
import type { BatchItemOf, TokenCounts } from '../../core/protocol.js';
import { resolveWorkerWorkspace } from './workspace.js';
import type { SandboxPlan } from '../../safety/os-sandbox/types.js';

export type WorkerGate = (t: {
  id: string;
  prompt: string;
  engine: string;
  workspace: string;
}) => { allow: true; prompt: string; workspace: string } | { allow: false; reason: string };

export interface RunnerOptions {
  /** Enabled engines by name (exactly what `--engines` allowed). */
  engines: ReadonlyMap<string, Engine>;
  workspaceRoot: string;
  /** Per-task cap in USD; null: the host's budget alone. */
  budgetCap: number | null;
  /** The worker's own safety gate (createWorkerGate); there is no runner without one. */
  gate: WorkerGate;
  /**
   * The environment of an engine's child processes: a fixed one, or per engine
   * (`colony worker`: each engine gets only its own provider variables, as on the host).
   */
  env: Record<string, string> | ((engine: string) => Record<string, string>);
  /** The attempt's OS sandbox (safety/os-sandbox), given to the engine; `state_dir` is bound into it (that task's only). */
  sandboxFor?: (t: { task_id: string; engine: string; workspace: string; state_dir: string | null }) => SandboxPlan | null;
  /** The task's agent-state folder on this worker (agent-state.ts), the engine's `state_dir`; none: the CLI's own home. */
  stateDirFor?: (taskId: string) => string;
  silenceTimeoutMs?: number | null;
  flushMs?: number;
  maxOutputBytes?: number;
}

export interface Prepared {
  msg: BatchItemOf<'TASK_ASSIGNED'>;
  engine: Engine;
  prompt: string;
  workspace: string;
  budget: number;
}

export interface Progress {
  output: string;
  cost: number;
  engine_used: string;
  model_used: string | null;
  tokens: TokenCounts;
}

export type Final = (Omit<Progress, 'output'> & { ok: true; summary: string }) | (Omit<Progress, 'output'> & { ok: false; error: string; error_code: string });

export interface RunControl {
  signal: AbortSignal;
  /** Why the run was stopped from outside: 'cancelled' (host said so: no final message) or 'stopping' (worker shutdown). */
  stopReason(): 'cancelled' | 'stopping' | null;
  /** Told what identifies the attempt's processes (the worker records it for the sweep after a crash). */
  onProcess?: (info: AttemptProcess) => void;
}

const CHUNK_CHARS = 16 * 1024;

export class TaskRunner {
  constructor(private readonly o: RunnerOptions) {}

  get engineNames(): string[] {
    return [...this.o.engines.keys()];
  }

  /** Checks engine, workspace and safety; returns what to run or the reason to refuse. */
  async prepare(msg: BatchItemOf<'TASK_ASSIGNED'>): Promise<{ ok: true; prepared: Prepared } | { ok: false; reason: string }> {
    // The host's router chooses the engine (and model) of every task; 'auto' here would be a guess.
    const engine = msg.engine === 'auto' ? null : (this.o.engines.get(msg.engine) ?? null);
    if (!engine) {
      const have = this.engineNames.join(', ') || 'none';
      return {
        ok: false,
        reason:
          msg.engine === 'auto'
            ? `engine auto was not routed by the host; it must name an AI engine this worker runs (${have})`
            : `engine ${msg.engine} is not enabled on this worker (enabled: ${have})`,
      };
    }
    const ws = await resolveWorkerWorkspace(this.o.workspaceRoot, msg.workspace);
    if (!ws.ok) return { ok: false, reason: ws.reason };
    const g = this.o.gate({ id: msg.task_id, prompt: msg.task.prompt, engine: engine.name, workspace: ws.path });
    if (!g.allow) return { ok: false, reason: `safety: ${g.reason}` };
    const { prompt, workspace } = g;
    const budget = this.o.budgetCap === null ? msg.budget : Math.min(msg.budget, this.o.budgetCap);
    return { ok: true, prepared: { msg, engine, prompt, workspace, budget } };
  }

  async run(p: Prepared, ctl: RunControl, progress: (p: Progress) => void): Promise<Final> {
    let out = beginOutcome(p.engine.name, p.msg.model ?? null);
    const st = (): Omit<Progress, 'output'> => ({ cost: out.cost_usd ?? 0, engine_used: out.engine, model_used: out.model, tokens: { ...out.usage } });
    let pending = '';
    let dirty = false;
    let timer: NodeJS.Timeout | null = null;
    const maxOut = this.o.maxOutputBytes ?? 1024 * 1024;
    const cap = { used: 0, truncated: false };
    const flush = (final = false): void => {
      if (timer) clearTimeout(timer);
      timer = null;
      if (final) dirty = false; // the final message carries cost and tokens itself
      while (pending.length > 0 || dirty) {
        const chunk = pending.slice(0, CHUNK_CHARS);
        pending = pending.slice(chunk.length);
        dirty = false;
        progress({ ...st(), output: chunk });
      }
    };
    const later = (): void => {
      if (!timer) timer = setTimeout(() => flush(), this.o.flushMs ?? 50);
    };
    const budgetStop = new AbortController();
    const signal = AbortSignal.any([ctl.signal, budgetStop.signal]);
    let ended = false;
    const stateDir = this.o.stateDirFor?.(p.msg.task_id) ?? null;
    try {
      for await (const ev of p.engine.run({
        task_id: p.msg.task_id,
        attempt: p.msg.attempt,
        prompt: p.prompt,
        model: p.msg.model ?? null,
        workspace: p.workspace,
        budget_usd: p.budget,
        env: typeof this.o.env === 'function' ? this.o.env(p.engine.name) : this.o.env,
        ...(stateDir ? { state_dir: stateDir } : {}),
        sandbox: this.o.sandboxFor?.({ task_id: p.msg.task_id, engine: p.engine.name, workspace: p.workspace, state_dir: stateDir }) ?? null,
        run_timeout_ms: null,
        silence_timeout_ms: this.o.silenceTimeoutMs ?? null,
        signal,
        onProcess: ctl.onProcess,
      })) {
        if (ev.type === 'output') {
          const c = capOutput(cap, ev.text, maxOut);
          pending += c.keep;
          if (c.notice) pending += `\n[colony worker: output truncated at ${maxOut} bytes]\n`;
          if (pending.length >= CHUNK_CHARS) flush();
          else later();
          continue;
        }
        const before = out.cost_usd;
        const f = foldEvent(out, ev, p.budget);
        out = f.outcome;
        if (ev.type === 'done') ended = true;
        if (ev.type === 'cost' && ev.usd !== null && ev.usd !== before) {
          dirty = true;
          later();
        }
        if (f.budgetStop && !budgetStop.signal.aborted) budgetStop.abort();
      }
    } catch (e) {
      out = { ...out, ok: false, summary: `engine error: ${e instanceof Error ? e.message : String(e)}`, error_code: 'E_ENGINE' };
      ended = true;
    }
    flush(true);
    const why = ctl.stopReason();
    if (why === 'stopping') return { ...st(), ok: false, error: 'worker lost: the worker was stopped while the task ran', error_code: LOST_CODE };
    if (budgetStop.signal.aborted) {
      return { ...st(), ok: false, error: `budget cap reached: spent $${(out.cost_usd ?? 0).toFixed(4)} of $${p.budget.toFixed(4)}`, error_code: 'E_BUDGET' };
    }
    if (!ended) return { ...st(), ok: false, error: 'engine ended without a result', error_code: 'E_ENGINE' };
    if (out.ok) return { ...st(), ok: true, summary: out.summary };
    return { ...st(), ok: false, error: out.summary, error_code: out.error_code ?? 'E_ENGINE' };
  }
}
