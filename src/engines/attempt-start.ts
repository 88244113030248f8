/**
 * What the engines that start a process share at the start of an attempt: the
 * checks before anything runs, and the child-process options that come from
 * the attempt itself.
 */
import { stat } from 'node:fs/promises';
import type { EngineEvent, EngineRequest } from '../core/engine.js';
import type { ChildOptions } from './child.js';

type Done = Extract<EngineEvent, { type: 'done' }>;

/** The `done` event that ends the attempt before it starts (already cancelled, no workspace), or null to go on. */
export async function startRefusal(req: EngineRequest): Promise<Done | null> {
  if (req.signal.aborted) return { type: 'done', ok: false, summary: 'cancelled before start', error_code: 'E_CANCELLED' };
  const ws = await stat(req.workspace).catch(() => null);
  if (!ws?.isDirectory()) return { type: 'done', ok: false, summary: `workspace ${req.workspace} is not a directory`, error_code: 'E_ENGINE' };
  return null;
}

/** Where the attempt's process runs, its limits, its OS sandbox and the record of its process. */
export function attemptChildOptions(
  req: EngineRequest,
): Pick<ChildOptions, 'cwd' | 'signal' | 'onProcess' | 'label' | 'sandbox' | 'wallTimeoutMs' | 'silenceTimeoutMs'> {
  return {
    cwd: req.workspace,
    signal: req.signal,
    onProcess: req.onProcess,
    label: `${req.task_id}.${req.attempt}`,
    sandbox: req.sandbox,
    wallTimeoutMs: req.run_timeout_ms,
    silenceTimeoutMs: req.silence_timeout_ms,
  };
}
