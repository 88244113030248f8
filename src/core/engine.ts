/**
 * The one result shape every engine produces (DESIGN §11: two engines that
 * disagreed on field names made every Groq call look like a zero-cost failure).
 * Engines live in src/engines; this file is the contract they share with the
 * runner, the remote worker and the router.
 */
import type { ErrorCode } from './errors.js';
import type { TokenUsage } from './task.js';
import type { SandboxPlan } from '../safety/os-sandbox/types.js';

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
  /** Called once the attempt's leader process runs, with what identifies its tree (for the crash sweep). */
  onProcess?: (info: AttemptProcess) => void;
  /** OS sandbox of this attempt, applied by the engine's child process (null/absent: none; only when safety.sandbox is off or in engine unit tests). */
  sandbox?: SandboxPlan | null;
  /**
   * Decides each tool call the agent wants to make (engines that support it:
   * claude via its stdio permission protocol). Absent: the engine's own
   * default (see the engine).
   */
  tool_gate?: ToolGate;
  /** Continue this earlier session of the same engine (claude `--resume`) instead of starting a new one. */
  resume_session?: string | null;
  /**
   * The task's private agent-state folder (absolute, on this machine): the
   * CLI's own home for every attempt of the task, so a resumed session is
   * found there and no other task sees it. Absent: a throwaway folder per attempt.
   */
  state_dir?: string | null;
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

/** One tool use an agent asks to make, as colony's safety gateway sees it. */
export interface ToolCall {
  tool: string; // the CLI's tool name: Bash, Write, Edit, WebFetch, …
  input: Record<string, unknown>; // the tool's arguments as the CLI sent them
  command?: string; // Bash: the command line
  path?: string; // Write/Edit/Read…: the file path
  url?: string; // WebFetch: the URL
  tool_use_id?: string;
}

/** allow: run it as asked; deny: refuse, and `message` reaches the model as the tool's error. */
export type ToolDecision = { behavior: 'allow' } | { behavior: 'deny'; message: string };

export type ToolGate = (call: ToolCall, signal: AbortSignal) => Promise<ToolDecision>;

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
