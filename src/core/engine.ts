/**
 * The one result shape every engine produces (DESIGN §11: two engines that
 * disagreed on field names made every Groq call look like a zero-cost failure).
 * Engines live in src/engines; this file is the contract they share with the
 * runner, the remote worker and the router.
 */
import type { ErrorCode } from './errors.js';
import type { TokenUsage } from './task.js';

export type EngineEvent =
  | { type: 'output'; stream: 'stdout' | 'stderr' | 'text'; text: string }
  | { type: 'usage'; usage: TokenUsage } // cumulative for the attempt so far
  | { type: 'cost'; usd: number | null; source: 'reported' | 'priced' | 'unknown' } // cumulative; null = unknown price
  | { type: 'info'; engine: string; model: string | null; session_id?: string }
  | { type: 'done'; ok: boolean; summary: string; error_code?: string }; // a catalogue code; folded through knownCode

/** What an engine needs to run one attempt of a task. */
export interface EngineRequest {
  task_id: string;
  attempt: number;
  prompt: string;
  model: string | null;
  workspace: string; // absolute, already checked by the sandbox
  budget_usd: number; // what is left for this attempt; the engine aborts when spent >= budget
  env: Record<string, string>; // scrubbed environment for child processes
  run_timeout_ms: number | null; // wall clock
  silence_timeout_ms: number | null; // no output for this long => timeout
  signal: AbortSignal;
}

export interface Engine {
  readonly name: string;
  run(req: EngineRequest): AsyncIterable<EngineEvent>;
}

/** Summary the runner folds from an engine's event stream. */
export interface AttemptOutcome {
  ok: boolean;
  summary: string;
  error_code: ErrorCode | null;
  engine: string;
  model: string | null;
  usage: TokenUsage;
  cost_usd: number | null; // null = unknown (flagged, never silently 0)
  cost_source: 'reported' | 'priced' | 'unknown' | 'none';
}
