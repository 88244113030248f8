/**
 * The shared body of the agent-CLI engines (codex, gemini, opencode): each
 * engine says how to prepare its private state folder (its own config files,
 * never the user's real HOME), which argv and environment to use, and how
 * to read its output lines; this file runs the process and turns what the
 * parser saw into EngineEvents with the same rules for all of them:
 *
 * - tokens are cumulative; cost is the CLI's own when it reports one, else
 *   priced from pricing.json by model ('priced'), unknown → null, never 0;
 * - the run is stopped once the cost reaches the budget (E_BUDGET);
 * - an API error is shown in the output; 401/403 stop the run at once
 *   (E_ENGINE_AUTH, with the API's message); a failed run after retries is
 *   named by its last status (429 E_ENGINE_RATE_LIMITED, 5xx E_ENGINE_OVERLOADED);
 * - wall-clock and silence timeouts name the last API error;
 * - cancel, timeouts and budget stops kill the whole process group (child.ts).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { budgetExceededError, budgetExhausted } from '../core/budget.js';
import type { EngineEvent, EngineRequest } from '../core/engine.js';
import { formatUsd, priceUsage, type PriceTable } from '../core/pricing.js';
import type { TokenUsage } from '../core/task.js';
import { ensureStateDir } from './agent-home.js';
import { installRootOf } from './agent-paths.js';
import type { SandboxAccess } from '../safety/os-sandbox/types.js';
import { attemptChildOptions, startRefusal } from './attempt-start.js';
import { startChild, type StopReason } from './child.js';
import { lineSplitter, spawnFailed, tailKeeper, truncate } from './stream-util.js';

/** What a parser saw in one line of the CLI's output. */
export type AgentSignal =
  | { kind: 'output'; stream: 'stdout' | 'stderr' | 'text'; text: string }
  | { kind: 'usage'; usage: TokenUsage; cost_usd?: number | null } // cumulative for the run
  | { kind: 'api_error'; status: number | null; message: string }
  | { kind: 'session'; id: string; model?: string | null }
  | { kind: 'result'; ok: boolean; text: string };

export interface AgentParser {
  stdout(line: string): AgentSignal[];
  stderr?(line: string): AgentSignal[];
  /** Called on every chunk: reads side channels (e.g. codex's rollout file for usage mid-run). */
  poll?(): AgentSignal[];
}

export interface AgentLaunch {
  args: string[];
  env: Record<string, string>;
  parser: AgentParser;
  stdin?: string; // written then closed; default: no stdin (/dev/null)
}

export interface CliAgentSpec {
  name: string;
  bin: string;
  model: string;
  pricing: PriceTable;
  killGraceMs: number;
  stateRoot?: string;
  /** Writes the engine's config into `stateDir` and returns how to start it. */
  prepare(stateDir: string, req: EngineRequest, model: string): Promise<AgentLaunch>;
  missingHint: string; // what to do when the binary is not found
  /** The model API it talks to (from colony's config for it, not the environment): reachable from the sandbox. */
  endpoint: string;
  /** The CLI itself when `bin` is its interpreter (gemini: node + gemini.js): its install folder is bound read-only. */
  program?: string;
}

const AUTH = new Set([401, 403]);

type Json = Record<string, unknown>;

/** One line of a CLI's JSON event stream as an object; a line that is not JSON is shown as stderr output. */
export function parseEventLine(line: string): { rec: Json } | { signals: AgentSignal[] } {
  let rec: unknown;
  try {
    rec = JSON.parse(line);
  } catch {
    return { signals: line.trim() ? [{ kind: 'output', stream: 'stderr', text: truncate(line, 2000) }] : [] };
  }
  return typeof rec === 'object' && rec !== null && !Array.isArray(rec) ? { rec: rec as Json } : { signals: [] };
}

/** A usage signal only when the counts changed since the last one (CLIs repeat their totals). */
export function usageOnChange(): (u: TokenUsage) => AgentSignal[] {
  let last = '';
  return (u) => {
    const key = `${u.input}/${u.output}/${u.cache_read}/${u.cache_write}`;
    if (key === last) return [];
    last = key;
    return [{ kind: 'usage', usage: u }];
  };
}

export function errorCodeForStatus(status: number | null): string {
  if (status === null) return 'E_ENGINE';
  if (AUTH.has(status)) return 'E_ENGINE_AUTH';
  if (status === 429) return 'E_ENGINE_RATE_LIMITED';
  if (status >= 500) return 'E_ENGINE_OVERLOADED';
  return 'E_ENGINE';
}

type Done = Extract<EngineEvent, { type: 'done' }>;

export async function* runCliAgent(spec: CliAgentSpec, req: EngineRequest): AsyncGenerator<EngineEvent> {
  const model = spec.model;
  yield { type: 'info', engine: spec.name, model };
  const refusal = await startRefusal(req);
  if (refusal) {
    yield refusal;
    return;
  }
  // The task's own folder persists across its attempts (a follow-up resumes the session kept there); else a throwaway one.
  const persistent = req.state_dir ?? null;
  let stateDir: string;
  if (persistent) {
    stateDir = join(persistent, spec.name);
    await ensureStateDir(persistent);
    await ensureStateDir(stateDir);
  } else {
    const root = spec.stateRoot ?? tmpdir();
    await mkdir(root, { recursive: true, mode: 0o700 });
    stateDir = await mkdtemp(join(root, `colony-${spec.name}-`));
  }
  let finished = false;
  let stopChild: (() => void) | null = null;
  try {
    const launch = await spec.prepare(stateDir, req, model);
    const child = startChild({
      command: spec.bin,
      args: launch.args,
      ...attemptChildOptions(req),
      env: launch.env,
      // Inside the OS sandbox like every attempt: the CLI's install folder read-only, its state folder writable, its endpoint reachable.
      sandboxAccess: sandboxAccessOf(spec, launch.env, stateDir),
      killGraceMs: spec.killGraceMs,
      ...(launch.stdin !== undefined ? { stdin: launch.stdin } : {}),
    });
    stopChild = () => child.stop('requested');
    const pending: EngineEvent[] = [];
    const stderrTail = tailKeeper();
    let lastError: { status: number | null; message: string } | null = null;
    let authStop: string | null = null;
    let budgetStop: string | null = null;
    let result: { ok: boolean; text: string } | null = null;
    let cost: { usd: number | null; source: 'reported' | 'priced' | 'unknown' } | null = null;

    const apply = (signals: AgentSignal[]): void => {
      for (const s of signals) {
        switch (s.kind) {
          case 'output':
            pending.push({ type: 'output', stream: s.stream, text: s.text });
            break;
          case 'session':
            pending.push({ type: 'info', engine: spec.name, model: s.model ?? model, session_id: s.id });
            break;
          case 'usage': {
            pending.push({ type: 'usage', usage: s.usage });
            const priced = priceUsage(spec.pricing, model, s.usage).usd;
            cost =
              typeof s.cost_usd === 'number' && s.cost_usd > 0
                ? { usd: s.cost_usd, source: 'reported' }
                : priced !== null
                  ? { usd: priced, source: 'priced' }
                  : { usd: null, source: 'unknown' };
            pending.push({ type: 'cost', usd: cost.usd, source: cost.source });
            if (cost.usd !== null && !budgetStop && budgetExhausted(cost.usd, req.budget_usd)) {
              budgetStop = budgetExceededError(cost.usd, req.budget_usd).message;
              child.stop('budget');
            }
            break;
          }
          case 'api_error':
            lastError = { status: s.status, message: s.message };
            pending.push({
              type: 'output',
              stream: 'stderr',
              text: `[${spec.name}] API error ${s.status ?? ''}: ${truncate(s.message, 500)}`.replace(' :', ':'),
            });
            if (s.status !== null && AUTH.has(s.status) && !authStop) {
              // A refused key does not get better with retries: end now with what the API said.
              authStop = `the API refused the credentials (HTTP ${s.status}): ${truncate(s.message, 800)}`;
              child.stop('requested');
            }
            break;
          case 'result':
            result = { ok: s.ok, text: s.text };
            break;
        }
      }
    };
    const out = lineSplitter((line) => apply(launch.parser.stdout(line)));
    const err = lineSplitter((line) => {
      stderrTail.add(line);
      const sig = launch.parser.stderr?.(line);
      if (sig) apply(sig);
      else if (line.trim()) pending.push({ type: 'output', stream: 'stderr', text: line });
    });

    for await (const c of child.chunks) {
      if (c.kind === 'stdout') out.push(c.text);
      else if (c.kind === 'stderr') err.push(c.text);
      else if (c.kind === 'spawn_error') {
        finished = true;
        yield spawnFailed(spec.bin, c.error, `${spec.name} CLI not found: '${spec.bin}'. ${spec.missingHint}`);
        return;
      } else {
        finished = true;
        out.flush();
        err.flush();
        if (launch.parser.poll) apply(launch.parser.poll());
        yield* pending.splice(0);
        yield finish(c.code, c.signal, c.reason);
        return;
      }
      if (launch.parser.poll) apply(launch.parser.poll());
      yield* pending.splice(0);
    }

    function finish(code: number | null, signal: NodeJS.Signals | null, reason: StopReason | null): Done {
      const why = lastError ? `; last API error: HTTP ${lastError.status ?? '?'}: ${truncate(lastError.message, 500)}` : '';
      if (authStop) return { type: 'done', ok: false, summary: authStop, error_code: 'E_ENGINE_AUTH' };
      if (reason === 'budget') return { type: 'done', ok: false, summary: budgetStop ?? 'budget used up', error_code: 'E_BUDGET' };
      if (reason === 'wall_timeout')
        return { type: 'done', ok: false, summary: `still running after ${req.run_timeout_ms} ms (run timeout)${why}`, error_code: 'E_TIMEOUT' };
      if (reason === 'silence_timeout')
        return { type: 'done', ok: false, summary: `no output for ${req.silence_timeout_ms} ms (silence timeout)${why}`, error_code: 'E_TIMEOUT' };
      if (reason) return { type: 'done', ok: false, summary: 'cancelled', error_code: 'E_CANCELLED' };
      const c = cost as { usd: number | null } | null;
      if (c?.usd !== null && c?.usd !== undefined && budgetExhausted(c.usd, req.budget_usd)) {
        return { type: 'done', ok: false, summary: `${budgetExceededError(c.usd, req.budget_usd).message} (${spec.name} finished)`, error_code: 'E_BUDGET' };
      }
      const r = result as { ok: boolean; text: string } | null;
      if (r?.ok && code === 0) {
        const spent = c?.usd !== null && c?.usd !== undefined ? ` (${formatUsd(c.usd)})` : '';
        return { type: 'done', ok: true, summary: truncate(r.text || `${spec.name} finished`, 2000) + spent };
      }
      const le = lastError as { status: number | null; message: string } | null;
      if (le)
        return {
          type: 'done',
          ok: false,
          summary: `${spec.name} failed: HTTP ${le.status ?? '?'}: ${truncate(le.message, 1000)}`,
          error_code: errorCodeForStatus(le.status),
        };
      const tail = stderrTail.text();
      const how = signal
        ? `was killed by ${signal}`
        : code
          ? `exited with code ${code}`
          : r
            ? `reported a failure: ${truncate(r.text, 1000)}`
            : 'exited without a result';
      return { type: 'done', ok: false, summary: `${spec.name} ${how}${tail ? `: ${truncate(tail, 1500)}` : ''}`, error_code: 'E_ENGINE' };
    }
  } finally {
    // The consumer stopped early: nothing of this attempt may outlive it.
    if (!finished) stopChild?.();
    if (!persistent) await rm(stateDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

function sandboxAccessOf(spec: CliAgentSpec, env: Record<string, string>, stateDir: string): SandboxAccess {
  const root = installRootOf(spec.program ?? spec.bin, env);
  return { ro: root ? [root] : [], rw: [stateDir], endpoints: [spec.endpoint] };
}
