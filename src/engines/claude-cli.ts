/**
 * The `claude` engine: runs the Claude Code CLI in the task's workspace and
 * turns its stream-json output into EngineEvents (parsing in claude-stream.ts).
 *
 * Cost: the CLI's own `total_cost_usd` wins (source 'reported'); without it
 * the usage is priced from pricing.json ('priced'), and an unknown model gives
 * null ('unknown'), never 0. During the run, usage of each assistant message
 * is priced as it arrives, and the run is stopped once that reaches the budget.
 *
 * The child runs in its own process group (child.ts) so stopping it also
 * stops whatever it started: SIGTERM to the group, SIGKILL after a grace.
 * Wall-clock and silence timeouts are separate timers (DESIGN §11).
 */
import { stat } from 'node:fs/promises';
import { budgetExceededError, budgetExhausted } from '../core/budget.js';
import type { Engine, EngineEvent, EngineRequest } from '../core/engine.js';
import { formatUsd, priceUsage, type PriceTable } from '../core/pricing.js';
import { ZERO_USAGE, type TokenUsage } from '../core/task.js';
import {
  describeFailedResult,
  newClaudeStreamState,
  parseClaudeLine,
  streamUsage,
  type ClaudeStreamState,
} from './claude-stream.js';
import { startChild, type StopReason } from './child.js';
import { lineSplitter, tailKeeper, truncate } from './stream-util.js';

export interface ClaudeEngineOptions {
  bin?: string;
  defaultModel: string;
  permissionMode: string;
  allowedTools: string[];
  extraArgs: string[];
  pricing: PriceTable;
  killGraceMs?: number; // SIGTERM → SIGKILL, default 3000
}

type Done = Extract<EngineEvent, { type: 'done' }>;

/** Prompts longer than this go through stdin: one argv string is limited to 128 KiB on Linux. */
const MAX_ARGV_PROMPT_BYTES = 100_000;

export function buildClaudeArgs(opts: ClaudeEngineOptions, model: string, promptInArgv: string | null): string[] {
  const args = ['-p', '--output-format', 'stream-json', '--verbose', '--model', model];
  if (opts.permissionMode) args.push('--permission-mode', opts.permissionMode);
  if (opts.allowedTools.length) args.push('--allowedTools', ...opts.allowedTools);
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

async function* runClaude(opts: ClaudeEngineOptions, req: EngineRequest): AsyncGenerator<EngineEvent> {
  const bin = opts.bin ?? process.env.CLAUDE_BIN ?? 'claude';
  const model = req.model ?? opts.defaultModel;
  yield { type: 'info', engine: 'claude', model };
  if (req.signal.aborted) {
    yield { type: 'done', ok: false, summary: 'cancelled before start', error_code: 'E_CANCELLED' };
    return;
  }
  const ws = await stat(req.workspace).catch(() => null);
  if (!ws?.isDirectory()) {
    yield { type: 'done', ok: false, summary: `workspace ${req.workspace} is not a directory`, error_code: 'E_ENGINE' };
    return;
  }

  const viaStdin = Buffer.byteLength(req.prompt) > MAX_ARGV_PROMPT_BYTES;
  const child = startChild({
    command: bin,
    args: buildClaudeArgs(opts, model, viaStdin ? null : req.prompt),
    cwd: req.workspace,
    env: req.env,
    signal: req.signal,
    onProcess: req.onProcess,
    label: `${req.task_id}.${req.attempt}`,
    sandbox: req.sandbox,
    wallTimeoutMs: req.run_timeout_ms,
    silenceTimeoutMs: req.silence_timeout_ms,
    killGraceMs: opts.killGraceMs ?? 3_000,
    ...(viaStdin ? { stdin: req.prompt } : {}),
  });
  const state = newClaudeStreamState();
  const stderrTail = tailKeeper();
  const pending: EngineEvent[] = [];
  let budgetStop: string | null = null;
  let finished = false;

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
  const stdoutLines = lineSplitter((line) => {
    const parsed = parseClaudeLine(line, state);
    pending.push(...parsed.events);
    if (parsed.usage_changed) onUsageChanged();
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
        const missing = c.error.code === 'ENOENT';
        yield {
          type: 'done',
          ok: false,
          summary: missing
            ? `Claude CLI not found: '${bin}' is not on PATH. Install Claude Code or set CLAUDE_BIN (or engines.claude.bin in colony.config.json) to its path.`
            : `could not start '${bin}': ${c.error.message}`,
          error_code: missing ? 'E_ENGINE_MISSING' : 'E_ENGINE',
        };
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
  }

  function* finish(code: number | null, signal: NodeJS.Signals | null, reason: StopReason | null, limit: string | null): Generator<EngineEvent> {
    const final = finalCost(state, opts.pricing, model);
    if (state.result?.usage) yield { type: 'usage', usage: state.result.usage };
    if (final) yield { type: 'cost', usd: final.usd, source: final.source };
    if (limit) {
      yield { type: 'done', ok: false, summary: limit, error_code: 'E_SANDBOX_LIMIT' };
      return;
    }
    if (reason) {
      yield stopDone(reason, req, budgetStop);
      return;
    }
    const r = state.result;
    if (!r) {
      const tail = stderrTail.text();
      const how = signal ? `was killed by ${signal}` : code ? `exited with code ${code}` : 'exited without a result record';
      yield { type: 'done', ok: false, summary: `claude ${how}${tail ? `: ${truncate(tail, 1500)}` : ''}`, error_code: 'E_ENGINE' };
      return;
    }
    if (final?.usd !== null && final?.usd !== undefined && budgetExhausted(final.usd, req.budget_usd)) {
      yield { type: 'done', ok: false, summary: `${budgetExceededError(final.usd, req.budget_usd).message} (claude finished: ${r.subtype})`, error_code: 'E_BUDGET' };
      return;
    }
    if (r.subtype === 'success' && !r.is_error) {
      const cost = final?.usd !== null && final?.usd !== undefined ? ` (${formatUsd(final.usd)})` : '';
      yield { type: 'done', ok: true, summary: truncate(r.text || 'claude finished', 2000) + cost };
      return;
    }
    yield { type: 'done', ok: false, summary: describeFailedResult(r), error_code: 'E_ENGINE' };
  }
}

function stopDone(reason: StopReason, req: EngineRequest, budgetStop: string | null): Done {
  switch (reason) {
    case 'budget':
      return { type: 'done', ok: false, summary: budgetStop ?? 'budget used up', error_code: 'E_BUDGET' };
    case 'wall_timeout':
      return { type: 'done', ok: false, summary: `still running after ${req.run_timeout_ms} ms (run timeout)`, error_code: 'E_TIMEOUT' };
    case 'silence_timeout':
      return { type: 'done', ok: false, summary: `no output for ${req.silence_timeout_ms} ms (silence timeout)`, error_code: 'E_TIMEOUT' };
    default:
      return { type: 'done', ok: false, summary: 'cancelled', error_code: 'E_CANCELLED' };
  }
}

/** Reported cost if the CLI gave one, else the priced result usage (or the streamed usage). */
function finalCost(
  state: ClaudeStreamState,
  pricing: PriceTable,
  requested: string,
): { usd: number | null; source: 'reported' | 'priced' | 'unknown' } | null {
  const r = state.result;
  if (r && r.total_cost_usd !== null) return { usd: r.total_cost_usd, source: 'reported' };
  const usage = r?.usage ?? (state.usage_by_message.size || state.anonymous_usage !== ZERO_USAGE ? streamUsage(state) : null);
  if (!usage) return null;
  const usd = priceClaude(pricing, state.model, requested, usage);
  return usd === null ? { usd: null, source: 'unknown' } : { usd, source: 'priced' };
}

/** Prices by the model the CLI reported (a full id), else by the alias we asked for. */
function priceClaude(pricing: PriceTable, reported: string | null, requested: string, usage: TokenUsage): number | null {
  return priceUsage(pricing, reported, usage).usd ?? priceUsage(pricing, requested, usage).usd;
}
