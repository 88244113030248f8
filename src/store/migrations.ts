/**
 * Append-only numbered migrations. Never edit or reorder one that has shipped;
 * add a new one. Each runs in its own transaction with its version row.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
  /** PostgreSQL DDL when the SQLite text does not translate as it is (store/pg/translate.ts translateDdl). */
  pg?: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'init',
    sql: `
CREATE TABLE graphs (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  budget_usd REAL,
  submitted_by TEXT NOT NULL,
  workspace TEXT NOT NULL,
  source TEXT,
  created_at INTEGER NOT NULL
);
CREATE TABLE tasks (
  id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  graph_id TEXT NOT NULL REFERENCES graphs(id),
  title TEXT NOT NULL,
  prompt TEXT NOT NULL,
  engine TEXT NOT NULL,
  model TEXT,
  budget_usd REAL NOT NULL,
  workspace TEXT NOT NULL,
  target TEXT NOT NULL,
  lane TEXT NOT NULL,
  wait_timeout_s REAL,
  run_timeout_s REAL,
  max_attempts INTEGER NOT NULL,
  trigger TEXT NOT NULL,
  state TEXT NOT NULL,
  state_reason TEXT,
  attempt INTEGER NOT NULL DEFAULT 0,
  approved INTEGER NOT NULL DEFAULT 0,
  submitted_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  cost_usd REAL NOT NULL DEFAULT 0,
  cost_unknown INTEGER NOT NULL DEFAULT 0,
  tokens_in INTEGER NOT NULL DEFAULT 0,
  tokens_out INTEGER NOT NULL DEFAULT 0,
  tokens_cache_read INTEGER NOT NULL DEFAULT 0,
  tokens_cache_write INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tasks_by_graph ON tasks(graph_id, seq);
CREATE INDEX tasks_by_state ON tasks(state);
CREATE INDEX tasks_by_submitter ON tasks(submitted_by, seq);
CREATE TABLE edges (
  task_id TEXT NOT NULL,
  depends_on TEXT NOT NULL,
  PRIMARY KEY (task_id, depends_on)
) WITHOUT ROWID;
CREATE INDEX edges_by_dep ON edges(depends_on);
CREATE TABLE attempts (
  task_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  state TEXT NOT NULL,
  engine TEXT,
  model TEXT,
  worker_id TEXT NOT NULL,
  route_rule TEXT,
  route_explanation TEXT,
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  cost_usd REAL,
  cost_source TEXT,
  tokens_in INTEGER NOT NULL DEFAULT 0,
  tokens_out INTEGER NOT NULL DEFAULT 0,
  tokens_cache_read INTEGER NOT NULL DEFAULT 0,
  tokens_cache_write INTEGER NOT NULL DEFAULT 0,
  error_code TEXT,
  summary TEXT,
  PRIMARY KEY (task_id, attempt)
) WITHOUT ROWID;
CREATE TABLE task_output (
  id INTEGER PRIMARY KEY,
  task_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  stream TEXT NOT NULL,
  text TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX task_output_by_task ON task_output(task_id, attempt, id);
CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  task_id TEXT,
  owner TEXT,
  data TEXT NOT NULL
);
CREATE TABLE audit (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  origin TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT,
  detail TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_by_action ON audit(action, id);
CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`,
  },
  {
    version: 2,
    name: 'sessions',
    sql: `
CREATE TABLE sessions (
  user_id TEXT PRIMARY KEY,
  display_name TEXT NOT NULL,
  origin_ip TEXT NOT NULL,
  is_local INTEGER NOT NULL,
  permissions TEXT NOT NULL,
  tasks_submitted INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0
);
`,
  },
  {
    version: 3,
    name: 'remote_workers',
    sql: `
CREATE TABLE workers (
  id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  name TEXT NOT NULL,
  public_key TEXT NOT NULL UNIQUE,
  fingerprint TEXT NOT NULL,
  engines TEXT NOT NULL,
  open_to_admin INTEGER NOT NULL,
  enrolled_at INTEGER NOT NULL,
  enrolled_from TEXT NOT NULL,
  last_seen_at INTEGER,
  last_ip TEXT,
  revoked_at INTEGER,
  revoked_by TEXT
);
CREATE INDEX workers_by_owner ON workers(owner);
CREATE TABLE pairing_codes (
  code_hash TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER,
  worker_id TEXT
);
CREATE INDEX pairing_codes_by_owner ON pairing_codes(owner, created_at);
`,
  },
  {
    version: 4,
    name: 'pending_changes',
    sql: `
CREATE TABLE pending_changes (
  task_id TEXT PRIMARY KEY,
  repo_dir TEXT NOT NULL,
  worktree_path TEXT NOT NULL,
  branch TEXT NOT NULL,
  base_commit TEXT NOT NULL,
  head_commit TEXT NOT NULL,
  target_branch TEXT NOT NULL,
  files TEXT NOT NULL,
  stat TEXT NOT NULL,
  patch TEXT NOT NULL,
  status TEXT NOT NULL,
  hold INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  decided_at INTEGER,
  decided_by TEXT,
  merge_commit TEXT,
  error TEXT
);
CREATE INDEX pending_changes_by_status ON pending_changes(status, created_at);
`,
  },
  {
    version: 6,
    name: 'attempt_processes',
    // What identifies an attempt's process tree, for the sweep after a crash
    // (runner/orphans.ts). A table of its own, not columns of attempts: the
    // attempt rows are served to LAN users as they are, and host pids, cgroup
    // paths and tags are none of their business.
    sql: `
CREATE TABLE attempt_processes (
  task_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  pid INTEGER NOT NULL,
  pgid INTEGER NOT NULL,
  start_ticks INTEGER NOT NULL,
  boot_id TEXT NOT NULL,
  cgroup TEXT,
  tag TEXT NOT NULL,
  recorded_at INTEGER NOT NULL,
  PRIMARY KEY (task_id, attempt)
) WITHOUT ROWID;
`,
  },
  {
    version: 7,
    name: 'lan_pairing_mac_and_bans',
    sql: `
ALTER TABLE pairing_codes ADD COLUMN secret TEXT;
ALTER TABLE sessions ADD COLUMN device_id TEXT;
CREATE TABLE bans (
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  session_id TEXT,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  PRIMARY KEY (kind, value)
);
`,
  },
  {
    version: 8,
    name: 'retention_and_audit_checkpoints',
    sql: `
CREATE INDEX events_by_at ON events(at);
CREATE INDEX task_output_by_at ON task_output(at);
CREATE TABLE audit_checkpoints (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  record_count INTEGER NOT NULL,
  head_id INTEGER NOT NULL,
  head_hash TEXT NOT NULL,
  key_fingerprint TEXT NOT NULL,
  signature TEXT NOT NULL
);
`,
  },
  {
    version: 9,
    name: 'router_stats',
    // The adaptive router's learning log (replayed at start into its discounted
    // statistics) and its recent decisions with their explanations (dashboard).
    sql: `
CREATE TABLE router_outcomes (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  task_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  cls TEXT NOT NULL,
  path TEXT NOT NULL,
  ok INTEGER NOT NULL,
  cost_usd REAL
);
CREATE TABLE router_decisions (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  task_id TEXT,
  cls TEXT NOT NULL,
  rule TEXT NOT NULL,
  engine TEXT NOT NULL,
  model TEXT,
  option TEXT NOT NULL,
  explanation TEXT NOT NULL
);
`,
  },
  {
    version: 10,
    name: 'safety_reviews',
    // What the admin is shown for a held task (the screens' findings on the exact
    // command) and what an approval covered (its digest); see store/safety-reviews.ts.
    sql: `
CREATE TABLE safety_reviews (
  task_id TEXT PRIMARY KEY,
  digest TEXT NOT NULL,
  findings TEXT NOT NULL,
  screened_at INTEGER NOT NULL,
  approved_digest TEXT,
  approved_by TEXT,
  approved_at INTEGER
);
`,
  },
  {
    version: 11,
    name: 'notifications_and_budgets',
    // Issue 18. notify_outbox: webhook deliveries, durable so a restart loses
    // none (state pending|delivered|failed, retried at next_at). budget_scopes:
    // per graph or user, the admin's budget override (NULL: the graph's own or
    // the config's), the last level announced, and whether its tasks are paused.
    sql: `
CREATE TABLE notify_outbox (
  id INTEGER PRIMARY KEY,
  hook TEXT NOT NULL,
  event TEXT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL,
  last_status INTEGER,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX notify_outbox_due ON notify_outbox(state, next_at);
CREATE TABLE budget_scopes (
  scope TEXT NOT NULL,
  scope_key TEXT NOT NULL,
  budget_usd REAL,
  level TEXT NOT NULL DEFAULT 'ok',
  paused INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (scope, scope_key)
);
`,
  },
  {
    version: 13,
    name: 'agent_sessions_follow_ups',
    // agent_sessions: the CLI's session id of an agent attempt (claude's
    // system/init and result records), so "request changes" can resume it. A
    // table of its own, not a column of attempts (rows served to LAN users).
    // follow_ups: a reviewer's "request changes" on a pending change; the task
    // runs again in its worktree, resuming that session with the comment.
    sql: `
CREATE TABLE agent_sessions (
  task_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  engine TEXT NOT NULL,
  session_id TEXT NOT NULL,
  recorded_at INTEGER NOT NULL,
  PRIMARY KEY (task_id, attempt)
);
CREATE TABLE follow_ups (
  task_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  comment TEXT NOT NULL,
  engine TEXT NOT NULL,
  model TEXT,
  resume_session TEXT,
  previous_head TEXT NOT NULL,
  previous_status TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  requested_at INTEGER NOT NULL,
  status TEXT NOT NULL,
  attempt INTEGER,
  PRIMARY KEY (task_id, seq)
);
`,
  },
  {
    version: 14,
    name: 'one_log',
    // One row per fact (issue 17): a transition used to write an events row and an audit row with the
    // same facts. `log` holds both: a row with `kind` is a live event (its id is the replay cursor), a
    // row with `audit_id` is a record of the hash chain (audit_id runs 1, 2, 3, … with no gaps; the
    // hash covers audit_id, at, actor, origin, action, target, detail). A transition is one row with
    // both. Retention deletes event-only rows and clears the event part of chain rows. `audit` and
    // `events` stay as read-only views with their old columns. `attempts` is rebuilt as a rowid table
    // (it was WITHOUT ROWID, keyed by task id): new attempt rows then append instead of landing on
    // random pages, ~15 % fewer WAL pages per task. Portable SQL (PostgreSQL mirrors it).
    sql: `
CREATE TABLE log (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  kind TEXT,
  task_id TEXT,
  owner TEXT,
  data TEXT,
  audit_id INTEGER,
  actor TEXT,
  origin TEXT,
  action TEXT,
  target TEXT,
  detail TEXT,
  prev_hash TEXT,
  hash TEXT
);
INSERT INTO log (id, at, kind, task_id, owner, data) SELECT id, at, kind, task_id, owner, data FROM events;
INSERT INTO log (id, at, audit_id, actor, origin, action, target, detail, prev_hash, hash)
  SELECT (SELECT COALESCE(MAX(id), 0) FROM events) + a.id, a.at, a.id, a.actor, a.origin, a.action, a.target, a.detail, a.prev_hash, a.hash FROM audit a;
DROP TABLE events;
DROP TABLE audit;
CREATE UNIQUE INDEX log_by_audit_id ON log(audit_id) WHERE audit_id IS NOT NULL;
CREATE INDEX log_by_action ON log(action, audit_id) WHERE audit_id IS NOT NULL;
CREATE INDEX log_by_at ON log(at);
CREATE VIEW audit AS SELECT audit_id AS id, at, actor, origin, action, target, detail, prev_hash, hash FROM log WHERE audit_id IS NOT NULL;
CREATE VIEW events AS SELECT id, at, kind, task_id, owner, data FROM log WHERE kind IS NOT NULL;
CREATE TABLE attempts_v14 (
  task_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  state TEXT NOT NULL,
  engine TEXT,
  model TEXT,
  worker_id TEXT NOT NULL,
  route_rule TEXT,
  route_explanation TEXT,
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  cost_usd REAL,
  cost_source TEXT,
  tokens_in INTEGER NOT NULL DEFAULT 0,
  tokens_out INTEGER NOT NULL DEFAULT 0,
  tokens_cache_read INTEGER NOT NULL DEFAULT 0,
  tokens_cache_write INTEGER NOT NULL DEFAULT 0,
  error_code TEXT,
  summary TEXT,
  PRIMARY KEY (task_id, attempt)
);
INSERT INTO attempts_v14 SELECT task_id, attempt, state, engine, model, worker_id, route_rule, route_explanation, started_at, finished_at, cost_usd,
  cost_source, tokens_in, tokens_out, tokens_cache_read, tokens_cache_write, error_code, summary FROM attempts;
DROP TABLE attempts;
ALTER TABLE attempts_v14 RENAME TO attempts;
`,
  },
  {
    // Several hosts on one PostgreSQL (issue 19): each host's lease row, the host owning each graph, and
    // an index for MAX(seq) (re-read under the write lock by every transaction on PostgreSQL).
    // On SQLite (one host) the table stays empty and owner_host NULL.
    version: 15,
    name: 'hosts',
    sql: `
CREATE TABLE hosts (
  id TEXT PRIMARY KEY,
  hostname TEXT NOT NULL,
  pid INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  lease_until INTEGER NOT NULL,
  claimed_by TEXT,
  claimed_at INTEGER
);
ALTER TABLE graphs ADD COLUMN owner_host TEXT;
CREATE INDEX graphs_by_owner_host ON graphs(owner_host);
CREATE INDEX tasks_by_seq ON tasks(seq);
`,
  },
  {
    // Issue 17: every transition moved the task's entry in tasks(state) from one state's run of the
    // index to another's, and the runs of 'waiting' and 'succeeded' span the whole graph, so each
    // transition dirtied a random index page (a quarter of the WAL bytes of a 100k-task DAG, and the
    // part that grows with the graph). No hot query needs it: status counts come from the scheduler,
    // the several-hosts queries go through the graph, the admin list's state filter scans in seq order.
    version: 18,
    name: 'drop_tasks_by_state',
    sql: `
DROP INDEX IF EXISTS tasks_by_state;
`,
  },
];
