/**
 * Runs one verified assignment on the worker, with the worker's own rules:
 * its engines (and only those it enabled), its workspace root, its safety
 * gateway, and its budget cap (the engine gets min(host budget, cap) and is
 * stopped when the reported cost reaches it, whatever the host asked for).
 * Output is batched into TASK_PROGRESS chunks; the agent signs and sends.
 */
import type { AttemptProcess, Engine, EngineEvent } from '../core/engine.js';
import type { MessageOf, TokenCounts } from '../core/protocol.js';
import { resolveWorkerWorkspace } from './workspace.js';
import type { SandboxPlan } from '../safety/os-sandbox/types.js';

export type WorkerGate = (t: { id: string; prompt: string; engine: string; workspace: string }) =>
  | { allow: true; prompt: string; workspace: string }
  | { allow: false; reason: string };

export interface RunnerOptions {
  /** Enabled engines by name (exactly what `--engines` allowed). */
  engines: ReadonlyMap<string, Engine>;
  workspaceRoot: string;
  /** Per-task cap in USD; null: the host's budget alone. */
  budgetCap: number | null;
  gate?: WorkerGate;
  env: Record<string, string>;
  /** The attempt's OS sandbox (safety/os-sandbox), given to the engine. */
  sandboxFor?: (t: { task_id: string; engine: string; workspace: string }) => SandboxPlan | null;
  silenceTimeoutMs?: number | null;
  flushMs?: number;
  maxOutputBytes?: number;
}

export interface Prepared {
  msg: MessageOf<'TASK_ASSIGNED'>;
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

export type Final =
  | (Omit<Progress, 'output'> & { ok: true; summary: string })
  | (Omit<Progress, 'output'> & { ok: false; error: string; error_code: string });

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
  async prepare(msg: MessageOf<'TASK_ASSIGNED'>): Promise<{ ok: true; prepared: Prepared } | { ok: false; reason: string }> {
    const engine = this.pickEngine(msg.engine);
    if (!engine) {
      const have = this.engineNames.join(', ') || 'none';
      return { ok: false, reason: msg.engine === 'auto' ? `engine auto needs an AI engine; this worker runs only: ${have}` : `engine ${msg.engine} is not enabled on this worker (enabled: ${have})` };
    }
    const ws = await resolveWorkerWorkspace(this.o.workspaceRoot, msg.workspace);
    if (!ws.ok) return { ok: false, reason: ws.reason };
    let prompt = msg.task.prompt;
    let workspace = ws.path;
    if (this.o.gate) {
      const g = this.o.gate({ id: msg.task_id, prompt, engine: engine.name, workspace });
      if (!g.allow) return { ok: false, reason: `safety: ${g.reason}` };
      prompt = g.prompt;
      workspace = g.workspace;
    }
    const budget = this.o.budgetCap === null ? msg.budget : Math.min(msg.budget, this.o.budgetCap);
    return { ok: true, prepared: { msg, engine, prompt, workspace, budget } };
  }

  async run(p: Prepared, ctl: RunControl, progress: (p: Progress) => void): Promise<Final> {
    const st: Omit<Progress, 'output'> = { cost: 0, engine_used: p.engine.name, model_used: p.msg.model ?? null, tokens: { input: 0, output: 0, cache_read: 0, cache_write: 0 } };
    let pending = '';
    let sentBytes = 0;
    let truncated = false;
    let dirty = false;
    let timer: NodeJS.Timeout | null = null;
    const maxOut = this.o.maxOutputBytes ?? 1024 * 1024;
    const flush = (final = false): void => {
      if (timer) clearTimeout(timer);
      timer = null;
      if (final) dirty = false; // the final message carries cost and tokens itself
      while (pending.length > 0 || dirty) {
        const chunk = pending.slice(0, CHUNK_CHARS);
        pending = pending.slice(chunk.length);
        dirty = false;
        progress({ ...st, output: chunk });
      }
    };
    const later = (): void => {
      if (!timer) timer = setTimeout(() => flush(), this.o.flushMs ?? 50);
    };
    const budgetStop = new AbortController();
    const signal = AbortSignal.any([ctl.signal, budgetStop.signal]);
    let done: Extract<EngineEvent, { type: 'done' }> | null = null;
    try {
      for await (const ev of p.engine.run({
        task_id: p.msg.task_id,
        attempt: p.msg.attempt,
        prompt: p.prompt,
        model: p.msg.model ?? null,
        workspace: p.workspace,
        budget_usd: p.budget,
        env: this.o.env,
        sandbox: this.o.sandboxFor?.({ task_id: p.msg.task_id, engine: p.engine.name, workspace: p.workspace }) ?? null,
        run_timeout_ms: null,
        silence_timeout_ms: this.o.silenceTimeoutMs ?? null,
        signal,
        onProcess: ctl.onProcess,
      })) {
        if (ev.type === 'output') {
          if (sentBytes < maxOut) {
            const text = ev.text.slice(0, maxOut - sentBytes);
            sentBytes += text.length;
            pending += text;
          } else if (!truncated) {
            truncated = true;
            pending += `\n[colony worker: output truncated at ${maxOut} bytes]\n`;
          }
          if (pending.length >= CHUNK_CHARS) flush();
          else later();
        } else if (ev.type === 'usage') {
          st.tokens = { ...ev.usage };
        } else if (ev.type === 'cost') {
          if (ev.usd !== null && ev.usd !== st.cost) {
            st.cost = ev.usd;
            dirty = true;
            later();
          }
          if (ev.usd !== null && ev.usd > 0 && ev.usd >= p.budget && !budgetStop.signal.aborted) budgetStop.abort();
        } else if (ev.type === 'info') {
          st.engine_used = ev.engine;
          st.model_used = ev.model ?? st.model_used;
        } else if (ev.type === 'done') {
          done = ev;
        }
      }
    } catch (e) {
      done = { type: 'done', ok: false, summary: `engine error: ${e instanceof Error ? e.message : String(e)}`, error_code: 'E_ENGINE' };
    }
    flush(true);
    const why = ctl.stopReason();
    if (why === 'stopping') return { ...st, ok: false, error: 'the worker was stopped while the task ran', error_code: 'E_WORKER_STOPPED' };
    if (budgetStop.signal.aborted) {
      return { ...st, ok: false, error: `budget cap reached: spent $${st.cost.toFixed(4)} of $${p.budget.toFixed(4)}`, error_code: 'E_BUDGET' };
    }
    if (!done) return { ...st, ok: false, error: 'engine ended without a result', error_code: 'E_ENGINE' };
    if (done.ok) return { ...st, ok: true, summary: done.summary };
    return { ...st, ok: false, error: done.summary, error_code: done.error_code ?? 'E_ENGINE' };
  }

  private pickEngine(name: string): Engine | null {
    if (name !== 'auto') return this.o.engines.get(name) ?? null;
    for (const [n, e] of this.o.engines) if (n !== 'exec') return e;
    return null;
  }
}
