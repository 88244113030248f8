/**
 * The task model shared by every layer: states, the spec a user writes, and the
 * persisted task. Pure types and constants; validation schemas live in graph-schema.ts.
 */
export const TASK_STATES = [
  'waiting', // dependencies not done yet
  'ready', // may be dispatched
  'assigned', // leased to a worker (local slot or remote worker), not started
  'running',
  'succeeded',
  'failed',
  'cancelled',
  'timed_out',
  'upstream_failed',
  'skipped',
  'awaiting_approval', // a LAN task asking for the host, or a safety needs_approval verdict
  'paused',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set(['succeeded', 'failed', 'cancelled', 'timed_out', 'upstream_failed', 'skipped']);

export function isTerminal(state: TaskState): boolean {
  return TERMINAL_STATES.has(state);
}

export type Trigger = 'all_success' | 'all_done';

/** 'host' runs on the host's local pool; 'own-worker' on a paired worker of the submitter; otherwise a worker id. */
export type Target = string;

/** What a user writes (graph file, API body) after defaults are filled. Ids here are global. */
export interface TaskSpec {
  id: string;
  title: string;
  prompt: string;
  engine: string; // 'auto' | 'claude' | 'exec' | an OpenAI-compatible provider name ('groq', 'ollama', ...)
  model: string | null;
  budget_usd: number;
  depends_on: string[];
  workspace: string;
  target: Target;
  wait_timeout_s: number | null;
  run_timeout_s: number | null;
  max_attempts: number;
  trigger: Trigger;
}

export interface Task extends TaskSpec {
  graph_id: string;
  state: TaskState;
  state_reason: string | null;
  attempt: number; // number of attempts started so far
  submitted_by: string; // 'admin' or a user session id
  created_at: number; // ms since epoch
  updated_at: number;
  cost_usd: number;
  tokens_in: number;
  tokens_out: number;
}

export interface TokenUsage {
  input: number;
  output: number;
  cache_read: number;
  cache_write: number;
}

export const ZERO_USAGE: TokenUsage = Object.freeze({ input: 0, output: 0, cache_read: 0, cache_write: 0 });

export function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  return {
    input: a.input + b.input,
    output: a.output + b.output,
    cache_read: a.cache_read + b.cache_read,
    cache_write: a.cache_write + b.cache_write,
  };
}
