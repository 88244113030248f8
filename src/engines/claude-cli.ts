/**
 * The `claude` engine: runs the Claude Code CLI in the task's workspace and
 * turns its stream-json output into EngineEvents (parsing in claude-stream.ts).
 *
 * Tool calls: with `toolGate` (the default from config) the CLI is driven with
 * `--input-format stream-json --permission-prompt-tool stdio`, so every tool
 * use it wants arrives as a control request that colony's gateway answers
 * (claude-permissions.ts); without it, the CLI's own permission mode decides.
 *
 * Cost: the CLI's own `total_cost_usd` (and `modelUsage`) wins ('reported');
 * without it the usage is priced from pricing.json by the model id the CLI
 * reports ('priced'), an unknown model gives null ('unknown'), never 0. During
 * the run each assistant message is priced as it arrives and the run is
 * stopped once that reaches the budget; the remaining budget is also passed
 * as `--max-budget-usd`, the CLI's own guard.
 *
 * API errors: the CLI retries them (`api_retry` records). Each retry is shown
 * in the task's output with its status and the API's message (read from the
 * CLI's debug log, claude-debug-log.ts); 401/403 end the attempt at once
 * (E_ENGINE_AUTH); a timeout's reason names the last API error.
 *
 * The child runs in its own process group (child.ts): SIGTERM to the group,
 * SIGKILL after a grace. Wall-clock and silence timeouts are separate timers.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { budgetExceededError, budgetExhausted } from '../core/budget.js';
import type { Engine, EngineEvent, EngineRequest, ToolGate } from '../core/engine.js';
import { formatUsd, priceUsage, type PriceTable } from '../core/pricing.js';
import { ZERO_USAGE, type TokenUsage } from '../core/task.js';
import { ensureStateDir, linkClaudeLogin } from './agent-home.js';
import { lastLoggedApiError } from './claude-debug-log.js';
import { answerControl, userMessageLine } from './claude-permissions.js';
import { describeFailedResult, newClaudeStreamState, parseClaudeLine, streamUsage, type ApiRetry, type ClaudeStreamState } from './claude-stream.js';
import { attemptChildOptions, startRefusal } from './attempt-start.js';
import { startChild, type StopReason } from './child.js';
import { lineSplitter, spawnFailed, tailKeeper, truncate } from './stream-util.js';

export interface ClaudeEngineOptions {
  bin?: string;
  defaultModel: string;
  permissionMode: string;
  allowedTools: string[];
  extraArgs: string[];
  pricing: PriceTable;
  killGraceMs?: number; // SIGTERM → SIGKILL, default 3000
  /** Every tool call through colony's gateway (stdio permission protocol). Default false here; config turns it on. */
  toolGate?: boolean;
  /** Decides tool calls when the request brings no gate of its own (e.g. on a remote worker). Default: deny all. */
  defaultToolGate?: (req: EngineRequest) => ToolGate;
  /** Where per-attempt state (the CLI's debug log) goes; default the OS temp dir. */
  stateRoot?: string;
}

type Done = Extract<EngineEvent, { type: 'done' }>;

/** Prompts longer than this go through stdin: one argv string is limited to 128 KiB on Linux. */
const MAX_ARGV_PROMPT_BYTES = 100_000;
const AUTH_STATUSES = new Set([401, 403]);

export interface ClaudeArgsExtra {
  budgetUsd?: number;
  debugFile?: string;
  resume?: string | null;
}

export function buildClaudeArgs(opts: ClaudeEngineOptions, model: string, promptInArgv: string | null, extra: ClaudeArgsExtra = {}): string[] {
  const args = ['-p'];
  if (opts.toolGate) args.push('--input-format', 'stream-json');
  args.push('--output-format', 'stream-json', '--verbose', '--model', model);
  if (opts.toolGate) args.push('--permission-prompt-tool', 'stdio', '--permission-mode', 'default');
  else if (opts.permissionMode) args.push('--permission-mode', opts.permissionMode);
  if (opts.allowedTools.length) args.push('--allowedTools', ...opts.allowedTools);
  if (extra.budgetUsd !== undefined && extra.budgetUsd > 0) args.push('--max-budget-usd', String(extra.budgetUsd));
  if (extra.resume) args.push('--resume', extra.resume);
  if (extra.debugFile) args.push('--debug-file', extra.debugFile);
  args.push(...opts.extraArgs);
  // `--` ends option parsing: a prompt starting with "-" stays a prompt, and the
  // variadic --allowedTools cannot swallow it.
  if (promptInArgv !== null) args.push('--', promptInArgv);
  return args;
}

export function createClaudeEngine(opts: ClaudeEngineOptions): Engine {
  return {
    name: 'claude',
    run: (req) => runClaude(opts, req),
  };
}

const denyAll: ToolGate = async (call) => ({ behavior: 'deny', message: `colony: no gateway is attached to this run, so ${call.tool} is refused` });

/**
 * The CLI's quiet mode unless the user chose otherwise (no telemetry, update checks or other side traffic);
 * with a task state folder, that is its config dir (settings, sessions for --resume), not the shared ~/.claude.
 */
function claudeEnv(env: Record<string, string>, stateDir: string | null): Record<string, string> {
  return { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', ...env, ...(stateDir ? { CLAUDE_CONFIG_DIR: stateDir } : {}) };
}

function describeRetry(r: ApiRetry, message: string | null): string {
  const of = r.max_retries !== null ? `${r.attempt}/${r.max_retries}` : String(r.attempt);
  const delay = r.delay_ms !== null ? `; retrying in ${(r.delay_ms / 1000).toFixed(1)} s` : '';
  return `API error ${r.status ?? '?'} ${r.error}${message ? `: ${message}` : ''} (retry ${of}${delay})`;
}

async function* runClaude(opts: ClaudeEngineOptions, req: EngineRequest): AsyncGenerator<EngineEvent> {
  const bin = opts.bin ?? process.env.CLAUDE_BIN ?? 'claude';
  const model = req.model ?? opts.defaultModel;
  yield { type: 'info', engine: 'claude', model };
  const refusal = await startRefusal(req);
  if (refusal) {
    yield refusal;
    return;
  }

  const taskHome = req.state_dir ?? null;
  if (taskHome) {
    try {
      await ensureStateDir(taskHome);
      await linkClaudeLogin(taskHome, req.env);
    } catch (e) {
      yield { type: 'done', ok: false, summary: `cannot prepare the task's agent state folder ${taskHome}: ${(e as Error).message}`, error_code: 'E_ENGINE' };
      return;
    }
  }
  const stateDir = await mkdtemp(join(opts.stateRoot ?? tmpdir(), 'colony-claude-'));
  const debugFile = join(stateDir, 'debug.log');
  const gated = opts.toolGate === true;
  const viaStdin = gated || Buffer.byteLength(req.prompt) > MAX_ARGV_PROMPT_BYTES;
  const child = startChild({
    command: bin,
    args: buildClaudeArgs(opts, model, viaStdin ? null : req.prompt, { budgetUsd: req.budget_usd, debugFile, resume: req.resume_session ?? null }),
    ...attemptChildOptions(req),
    env: claudeEnv(req.env, taskHome),
    killGraceMs: opts.killGraceMs ?? 3_000,
    ...(viaStdin ? { stdin: gated ? userMessageLine(req.prompt) : req.prompt, keepStdinOpen: gated } : {}),
  });
  const state = newClaudeStreamState();
  const stderrTail = tailKeeper();
  const pending: EngineEvent[] = [];
  let budgetStop: string | null = null;
  let authStop: string | null = null;
  let lastApiError: string | null = null;
  let finished = false;
  const gate = req.tool_gate ?? opts.defaultToolGate?.(req) ?? denyAll;

  const onUsageChanged = (): void => {
    const usage = streamUsage(state);
    pending.push({ type: 'usage', usage });
    const spent = priceClaude(opts.pricing, state.model, model, usage);
    if (spent === null) return;
    pending.push({ type: 'cost', usd: spent, source: 'priced' });
    if (!budgetStop && budgetExhausted(spent, req.budget_usd)) {
      budgetStop = budgetExceededError(spent, req.budget_usd).message;
      child.stop('budget');
    }
  };
  const onRetry = (r: ApiRetry): void => {
    const logged = lastLoggedApiError(debugFile);
    const message = logged && (r.status === null || logged.status === r.status) ? logged.message : null;
    lastApiError = `HTTP ${r.status ?? '?'} ${r.error}${message ? `: ${message}` : ''}`;
    pending.push({ type: 'output', stream: 'stderr', text: `[claude] ${describeRetry(r, message)}` });
    if (r.status !== null && AUTH_STATUSES.has(r.status) && !authStop) {
      // A refused key does not get better in ten retries (~3.5 min): end now with what the API said.
      authStop = `the API refused the credentials (HTTP ${r.status} ${r.error})${message ? `: ${message}` : ''}`;
      child.stop('requested');
    }
  };
  const stdoutLines = lineSplitter((line) => {
    const parsed = parseClaudeLine(line, state);
    pending.push(...parsed.events);
    if (parsed.usage_changed) onUsageChanged();
    if (parsed.api_retry) onRetry(parsed.api_retry);
    if (parsed.control) {
      void answerControl(parsed.control, gate, {
        signal: req.signal,
        write: (l) => child.write(l),
        emit: (e) => pending.push(e),
        hold: () => child.holdSilence(),
      });
    }
    if (gated && state.result) child.endInput(); // the CLI exits only once its input ends
  });
  const stderrLines = lineSplitter((line) => {
    stderrTail.add(line);
    if (line.trim()) pending.push({ type: 'output', stream: 'stderr', text: line });
  });

  try {
    for await (const c of child.chunks) {
      if (c.kind === 'stdout') stdoutLines.push(c.text);
      else if (c.kind === 'stderr') stderrLines.push(c.text);
      else if (c.kind === 'spawn_error') {
        finished = true;
        yield spawnFailed(
          bin,
          c.error,
          `Claude CLI not found: '${bin}' is not on PATH. Install Claude Code or set CLAUDE_BIN (or engines.claude.bin in colony.config.json) to its path.`,
        );
        return;
      } else {
        finished = true;
        stdoutLines.flush();
        stderrLines.flush();
        yield* pending.splice(0);
        yield* finish(c.code, c.signal, c.reason, c.limit ?? null);
        return;
      }
      yield* pending.splice(0);
    }
  } finally {
    // The consumer stopped early: nothing of this attempt may outlive it.
    if (!finished) child.stop('requested');
    await rm(stateDir, { recursive: true, force: true }).catch(() => undefined);
  }

  function* finish(code: number | null, signal: NodeJS.Signals | null, reason: StopReason | null, limit: string | null): Generator<EngineEvent> {
    const final = finalCost(state, opts.pricing, model);
    const usage = resultUsage(state);
    if (usage) yield { type: 'usage', usage };
    if (final) yield { type: 'cost', usd: final.usd, source: final.source };
    if (limit) {
      yield { type: 'done', ok: false, summary: limit, error_code: 'E_SANDBOX_LIMIT' };
      return;
    }
    if (authStop) {
      yield { type: 'done', ok: false, summary: authStop, error_code: 'E_ENGINE_AUTH' };
      return;
    }
    if (reason) {
      yield stopDone(reason, req, budgetStop, lastErrorNow());
      return;
    }
    const r = state.result;
    if (!r) {
      const tail = stderrTail.text();
      const how = signal ? `was killed by ${signal}` : code ? `exited with code ${code}` : 'exited without a result record';
      yield { type: 'done', ok: false, summary: `claude ${how}${tail ? `: ${truncate(tail, 1500)}` : ''}`, error_code: 'E_ENGINE' };
      return;
    }
    if (r.subtype === 'error_max_budget_usd' || (final?.usd !== null && final?.usd !== undefined && budgetExhausted(final.usd, req.budget_usd))) {
      const spent = final?.usd ?? req.budget_usd;
      yield {
        type: 'done',
        ok: false,
        summary: `${budgetExceededError(spent, req.budget_usd).message} (claude finished: ${r.subtype})`,
        error_code: 'E_BUDGET',
      };
      return;
    }
    if (r.subtype === 'success' && !r.is_error) {
      const cost = final?.usd !== null && final?.usd !== undefined ? ` (${formatUsd(final.usd)})` : '';
      yield { type: 'done', ok: true, summary: truncate(r.text || 'claude finished', 2000) + cost };
      return;
    }
    yield { type: 'done', ok: false, summary: describeFailedResult(r), error_code: apiErrorCode(r.api_error_status) };
  }

  /** The last API error as the stream and the debug log know it (a stall leaves no retry record, but may follow one). */
  function lastErrorNow(): string | null {
    if (lastApiError) return lastApiError;
    const logged = lastLoggedApiError(debugFile);
    return logged ? `HTTP ${logged.status}: ${logged.message}` : null;
  }
}

function apiErrorCode(status: number | null): string {
  if (status === null) return 'E_ENGINE';
  if (AUTH_STATUSES.has(status)) return 'E_ENGINE_AUTH';
  if (status === 429) return 'E_ENGINE_RATE_LIMITED';
  if (status >= 500) return 'E_ENGINE_OVERLOADED';
  return 'E_ENGINE';
}

function stopDone(reason: StopReason, req: EngineRequest, budgetStop: string | null, lastError: string | null): Done {
  const why = lastError ? `; last API error: ${lastError}` : '';
  switch (reason) {
    case 'budget':
      return { type: 'done', ok: false, summary: budgetStop ?? 'budget used up', error_code: 'E_BUDGET' };
    case 'wall_timeout':
      return { type: 'done', ok: false, summary: `still running after ${req.run_timeout_ms} ms (run timeout)${why}`, error_code: 'E_TIMEOUT' };
    case 'silence_timeout':
      return { type: 'done', ok: false, summary: `no output for ${req.silence_timeout_ms} ms (silence timeout)${why}`, error_code: 'E_TIMEOUT' };
    default:
      return { type: 'done', ok: false, summary: 'cancelled', error_code: 'E_CANCELLED' };
  }
}

/** Tokens as the CLI totals them: `modelUsage` (per model), else `usage`. */
function resultUsage(state: ClaudeStreamState): TokenUsage | null {
  const r = state.result;
  if (!r) return null;
  if (r.model_usage.length) {
    return r.model_usage.reduce<TokenUsage>(
      (t, m) => ({
        input: t.input + m.usage.input,
        output: t.output + m.usage.output,
        cache_read: t.cache_read + m.usage.cache_read,
        cache_write: t.cache_write + m.usage.cache_write,
      }),
      ZERO_USAGE,
    );
  }
  return r.usage;
}

/** Reported cost if the CLI gave one (total, else the sum of modelUsage), else the priced usage. */
function finalCost(state: ClaudeStreamState, pricing: PriceTable, requested: string): { usd: number | null; source: 'reported' | 'priced' | 'unknown' } | null {
  const r = state.result;
  if (r && r.total_cost_usd !== null) return { usd: r.total_cost_usd, source: 'reported' };
  if (r && r.model_usage.length && r.model_usage.every((m) => m.cost_usd !== null)) {
    return { usd: r.model_usage.reduce((s, m) => s + (m.cost_usd ?? 0), 0), source: 'reported' };
  }
  const usage = resultUsage(state) ?? (state.usage_by_message.size || state.anonymous_usage !== ZERO_USAGE ? streamUsage(state) : null);
  if (!usage) return null;
  const usd = priceClaude(pricing, state.model, requested, usage);
  return usd === null ? { usd: null, source: 'unknown' } : { usd, source: 'priced' };
}

/** Prices by the model the CLI reported (a full id), else by the alias we asked for. */
function priceClaude(pricing: PriceTable, reported: string | null, requested: string, usage: TokenUsage): number | null {
  return priceUsage(pricing, reported, usage).usd ?? priceUsage(pricing, requested, usage).usd;
}
