/** Row shapes and their mapping to domain types; kept apart so store.ts stays about behaviour. */
import type { ErrorCode } from '../core/errors.js';
import type { Task, TaskState, Trigger } from '../core/task.js';

export interface TaskRow {
  id: string;
  seq: number;
  graph_id: string;
  title: string;
  prompt: string;
  engine: string;
  model: string | null;
  budget_usd: number;
  workspace: string;
  target: string;
  lane: string;
  wait_timeout_s: number | null;
  run_timeout_s: number | null;
  max_attempts: number;
  trigger: string;
  state: string;
  state_reason: string | null;
  attempt: number;
  approved: number;
  submitted_by: string;
  created_at: number;
  updated_at: number;
  cost_usd: number;
  cost_unknown: number;
  tokens_in: number;
  tokens_out: number;
  tokens_cache_read: number;
  tokens_cache_write: number;
}

export interface StoredTask extends Task {
  lane: string;
  approved: boolean;
  cost_unknown: boolean;
  tokens_cache_read: number;
  tokens_cache_write: number;
}

export function taskFromRow(r: TaskRow, deps: string[]): StoredTask {
  return {
    id: r.id,
    graph_id: r.graph_id,
    title: r.title,
    prompt: r.prompt,
    engine: r.engine,
    model: r.model,
    budget_usd: r.budget_usd,
    depends_on: deps,
    workspace: r.workspace,
    target: r.target,
    lane: r.lane,
    wait_timeout_s: r.wait_timeout_s,
    run_timeout_s: r.run_timeout_s,
    max_attempts: r.max_attempts,
    trigger: r.trigger as Trigger,
    state: r.state as TaskState,
    state_reason: r.state_reason,
    attempt: r.attempt,
    approved: r.approved === 1,
    submitted_by: r.submitted_by,
    created_at: r.created_at,
    updated_at: r.updated_at,
    cost_usd: r.cost_usd,
    cost_unknown: r.cost_unknown === 1,
    tokens_in: r.tokens_in,
    tokens_out: r.tokens_out,
    tokens_cache_read: r.tokens_cache_read,
    tokens_cache_write: r.tokens_cache_write,
  };
}

export interface AttemptRow {
  task_id: string;
  attempt: number;
  state: string;
  engine: string | null;
  model: string | null;
  worker_id: string;
  route_rule: string | null;
  route_explanation: string | null;
  started_at: number;
  finished_at: number | null;
  cost_usd: number | null;
  cost_source: string | null;
  tokens_in: number;
  tokens_out: number;
  tokens_cache_read: number;
  tokens_cache_write: number;
  error_code: ErrorCode | null;
  summary: string | null;
}

export interface GraphRow {
  id: string;
  name: string;
  budget_usd: number | null;
  submitted_by: string;
  workspace: string;
  source: string | null;
  created_at: number;
  /** Several hosts on one PostgreSQL: the host running this graph (null on SQLite). */
  owner_host: string | null;
}

export type { EventRecord } from '../core/live-types.js';

export interface OutputRow {
  id: number;
  task_id: string;
  attempt: number;
  stream: string;
  text: string;
  at: number;
}
