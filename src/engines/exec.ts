/**
 * The exec engine: the task's prompt is a shell command run in the task's
 * workspace. Output is streamed; exit code 0 is success; cost is always 0.
 */
import type { Engine, EngineEvent, EngineRequest } from '../core/engine.js';
import { ZERO_USAGE } from '../core/task.js';
import { attemptChildOptions } from './attempt-start.js';
import { startChild, type StopReason } from './child.js';

export interface ExecEngineOptions {
  shell?: string;
  killGraceMs?: number;
}

const STOP_MESSAGES: Record<StopReason, { code: string; text: string }> = {
  aborted: { code: 'E_CANCELLED', text: 'cancelled' },
  wall_timeout: { code: 'E_TIMEOUT', text: 'run timeout reached' },
  silence_timeout: { code: 'E_TIMEOUT', text: 'no output for too long (silence timeout)' },
  budget: { code: 'E_BUDGET', text: 'budget spent' },
  requested: { code: 'E_CANCELLED', text: 'stopped' },
  limit: { code: 'E_SANDBOX_LIMIT', text: 'a sandbox limit was reached' },
};

export function createExecEngine(opts: ExecEngineOptions = {}): Engine {
  const shell = opts.shell ?? '/bin/sh';
  return {
    name: 'exec',
    async *run(req: EngineRequest): AsyncGenerator<EngineEvent> {
      yield { type: 'info', engine: 'exec', model: null };
      const child = startChild({
        command: shell,
        args: ['-c', req.prompt],
        ...attemptChildOptions(req),
        env: req.env,
        killGraceMs: opts.killGraceMs ?? 3000,
      });
      for await (const c of child.chunks) {
        if (c.kind === 'stdout') {
          yield { type: 'output', stream: 'stdout', text: c.text };
        } else if (c.kind === 'stderr') {
          yield { type: 'output', stream: 'stderr', text: c.text };
        } else if (c.kind === 'spawn_error') {
          yield { type: 'usage', usage: ZERO_USAGE };
          yield { type: 'cost', usd: 0, source: 'reported' };
          yield { type: 'done', ok: false, summary: `cannot start ${shell}: ${c.error.message}`, error_code: 'E_ENGINE_MISSING' };
        } else {
          yield { type: 'usage', usage: ZERO_USAGE };
          yield { type: 'cost', usd: 0, source: 'reported' };
          if (c.limit) {
            yield { type: 'done', ok: false, summary: c.limit, error_code: 'E_SANDBOX_LIMIT' };
          } else if (c.reason) {
            const m = STOP_MESSAGES[c.reason];
            yield { type: 'done', ok: false, summary: m.text, error_code: m.code };
          } else if (c.code === 0) {
            yield { type: 'done', ok: true, summary: 'exit 0' };
          } else {
            yield { type: 'done', ok: false, summary: c.signal ? `killed by ${c.signal}` : `exit ${c.code}`, error_code: 'E_ENGINE' };
          }
        }
      }
    },
  };
}
