/**
 * What the dashboard reads from the APIs. Task shapes come from src/core;
 * the rest mirrors the JSON the servers send (the client never imports the
 * server or store layers).
 */
import type { Task, TaskState } from '../core/task.js';
import type { Permission, UserSession } from '../core/permissions.js';

export type { Task, TaskState, Permission };
export type Capability = 'admin' | 'user';
export type SwitchState = 'running' | 'paused' | 'halted';

/** A task as listed by the APIs; the user API may leave out or redact fields of other users' tasks. */
export type TaskView = Partial<Task> & {
  id: string;
  state: TaskState;
  redacted?: boolean;
  /** Several hosts on PostgreSQL: the host owning the task's graph (admin task detail only). */
  owner_host?: string | null;
};

export type { WorkerCard } from '../core/live-types.js';

export interface AttemptView {
  task_id: string;
  attempt: number;
  state: string;
  engine: string | null;
  model: string | null;
  worker_id: string | null;
  route_rule: string | null;
  route_explanation: string | null;
  started_at: number;
  finished_at: number | null;
  cost_usd: number | null;
  cost_source?: string | null;
  tokens_in: number;
  tokens_out: number;
  error_code: string | null;
  summary: string | null;
}

export interface OutputChunk {
  id?: number;
  attempt: number;
  stream: string;
  text: string;
  at?: number;
}

export interface TaskDetail {
  task: TaskView;
  attempts: AttemptView[];
  output: OutputChunk[];
}

export interface GraphSummary {
  id: string;
  name: string;
  submitted_by: string;
  created_at: number;
  counts: Record<string, number>;
  cost_usd: number;
  /** Several hosts on PostgreSQL: the host running this graph (null on SQLite). */
  owner_host?: string | null;
}

export interface Status {
  ok: boolean;
  version: string;
  killswitch: SwitchState;
  uptime_s: number;
  tasks: Record<string, number>;
  workers: { total: number; busy: number };
  /** How the LAN app is served: its TLS certificate fingerprint, or plain HTTP (--insecure-http); null without --lan. */
  lan?: { tls_fingerprint: string | null; insecure_http: boolean } | null;
  /** The OS sandbox tasks run in: off (safety.sandbox false) or unavailable shows a red badge. */
  sandbox?: { on: boolean; available: boolean; problem: string | null };
}

export interface CostRow {
  key: string | null;
  cost_usd: number;
  tokens: number | null;
  attempts: number;
}

export interface Costs {
  by_engine: CostRow[];
  by_model: CostRow[];
  by_user: CostRow[];
  by_graph?: CostRow[];
  by_worker?: CostRow[];
}

export interface AuditView {
  id: number;
  at: number;
  actor: string;
  origin: string;
  action: string;
  target: string | null;
  detail: unknown;
  hash: string;
}

export type ChainCheck = { ok: true; count: number; last_hash: string } | { ok: false; count: number; broken_id: number; reason: string };

/** A session as the apps send it: the stored session and, in the admin's list, what its tasks cost. */
export interface SessionView extends UserSession {
  cost_usd?: number;
}

export interface ChangedFileView {
  path: string;
  status: string;
  additions: number | null;
  deletions: number | null;
}

export interface PendingChangeView {
  id?: string;
  task_id: string;
  task_title?: string | null;
  branch?: string;
  target_branch?: string;
  status?: string;
  stat?: { files_changed: number; insertions: number; deletions: number; text?: string };
  files?: ChangedFileView[];
  patch?: string;
  diff?: string;
  created_at?: number;
}

/** A live event from GET /events: `kind` is the SSE event name, `data` its JSON payload. */
export interface LiveEvent {
  kind: string;
  data: Record<string, unknown>;
}

/** A colony host sharing the PostgreSQL store (GET /admin/hosts). */
export interface HostView {
  id: string;
  hostname: string;
  pid: number;
  started_at: number;
  claimed_by: string | null;
  lease: 'live' | 'expired' | 'claimed';
  lease_left_ms: number;
  graphs: number;
  this_host: boolean;
}

export interface HostsInfo {
  backend: 'sqlite' | 'postgres';
  this_host: string | null;
  hosts: HostView[];
}
