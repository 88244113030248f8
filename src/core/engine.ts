/**
 * The one result shape every engine produces (DESIGN §11: two engines that
 * disagreed on field names made every Groq call look like a zero-cost failure).
 * Engines live in src/engines; this file is the contract they share with the
 * runner, the remote worker and the router.
 */
import type { TokenUsage } from './task.js';
import type { SandboxPlan } from '../safety/os-sandbox/types.js';

export type EngineEvent =
  | { type: 'output'; stream: 'stdout' | 'stderr' | 'text'; text: string }
  | { type: 'usage'; usage: TokenUsage } // cumulative for the attempt so far
  | { type: 'cost'; usd: number | null; source: 'reported' | 'priced' | 'unknown' } // cumulative; null = unknown price
  | { type: 'info'; engine: string; model: string | null; session_id?: string }
  | { type: 'done'; ok: boolean; summary: string; error_code?: string };

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
  /** Called once the attempt's leader process runs, with what identifies its tree (for the crash sweep). */
  onProcess?: (info: AttemptProcess) => void;
  /** OS sandbox of this attempt, applied by the engine's child process (null/absent: none; only when safety.sandbox is off or in engine unit tests). */
  sandbox?: SandboxPlan | null;
}

/**
 * What identifies an attempt's processes after the process that started them
 * died: the leader (pid = process group id, detached), its start time in clock
 * ticks since boot (/proc/<pid>/stat field 22) with the boot it belongs to (a
 * reboot ends every process anyway), the attempt's own cgroup (v2) when one
 * could be made, and a random tag put in the children's environment.
 */
export interface AttemptProcess {
  pid: number;
  pgid: number;
  start_ticks: number;
  boot_id: string;
  cgroup: string | null;
  tag: string;
}

export interface Engine {
  readonly name: string;
  run(req: EngineRequest): AsyncIterable<EngineEvent>;
}

/** Summary the runner folds from an engine's event stream. */
export interface AttemptOutcome {
  ok: boolean;
  summary: string;
  error_code: string | null;
  engine: string;
  model: string | null;
  usage: TokenUsage;
  cost_usd: number | null; // null = unknown (flagged, never silently 0)
  cost_source: 'reported' | 'priced' | 'unknown' | 'none';
}
