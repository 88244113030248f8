/**
 * Agent sessions and follow-ups. An agent attempt's CLI session id (recorded
 * as the stream reports it) lets a reviewer's "request changes" continue the
 * same conversation; a follow-up is that request: the comment, the session
 * to resume, and the change head it revises. At most one is open per task.
 */
import type { Actor, Store } from './store.js';
import { dbOf } from './internal.js';

export type FollowUpStatus = 'open' | 'done' | 'failed';

export interface FollowUp {
  task_id: string;
  seq: number;
  comment: string;
  engine: string;
  model: string | null;
  resume_session: string | null; // null: the engine cannot resume; the attempt gets the original prompt + the comment
  previous_head: string; // the reviewed change's head: a failed follow-up puts the worktree back here
  previous_status: string; // the task's state before (succeeded, or awaiting_approval when held)
  requested_by: string;
  requested_at: number;
  status: FollowUpStatus;
  attempt: number | null;
}

export interface AgentSession {
  task_id: string;
  attempt: number;
  engine: string;
  session_id: string;
}

export class FollowUpStore {
  constructor(private readonly store: Store) {}

  /** The session id an attempt's CLI reported (the last one wins: a resumed CLI may report a new one). */
  recordSession(taskId: string, attempt: number, engine: string, sessionId: string, now = Date.now()): void {
    dbOf(this.store)
      .prepare(
        `INSERT INTO agent_sessions (task_id, attempt, engine, session_id, recorded_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (task_id, attempt) DO UPDATE SET engine = excluded.engine, session_id = excluded.session_id, recorded_at = excluded.recorded_at`,
      )
      .run(taskId, attempt, engine, sessionId, now);
  }

  /** The session of the task's latest attempt that reported one. */
  lastSession(taskId: string): AgentSession | null {
    const r = dbOf(this.store)
      .prepare('SELECT task_id, attempt, engine, session_id FROM agent_sessions WHERE task_id = ? ORDER BY attempt DESC LIMIT 1')
      .get(taskId) as AgentSession | undefined;
    return r ?? null;
  }

  open(taskId: string): FollowUp | null {
    const r = dbOf(this.store).prepare("SELECT * FROM follow_ups WHERE task_id = ? AND status = 'open' ORDER BY seq DESC LIMIT 1").get(taskId) as
      FollowUp | undefined;
    return r ?? null;
  }

  list(taskId: string): FollowUp[] {
    return dbOf(this.store).prepare('SELECT * FROM follow_ups WHERE task_id = ? ORDER BY seq').all(taskId) as FollowUp[];
  }

  /** Inside the caller's transaction (with the change superseded and the task re-opened). */
  add(f: Omit<FollowUp, 'seq' | 'status' | 'attempt'>, who: Actor): FollowUp {
    const db = dbOf(this.store);
    const seq = ((db.prepare('SELECT MAX(seq) AS n FROM follow_ups WHERE task_id = ?').get(f.task_id) as { n: number | null }).n ?? 0) + 1;
    db.prepare(
      `INSERT INTO follow_ups (task_id, seq, comment, engine, model, resume_session, previous_head, previous_status, requested_by, requested_at, status)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open')`,
    ).run(f.task_id, seq, f.comment, f.engine, f.model, f.resume_session, f.previous_head, f.previous_status, f.requested_by, f.requested_at);
    this.store.appendAudit({
      ...who,
      action: 'change.changes_requested',
      target: f.task_id,
      detail: { seq, comment: f.comment, engine: f.engine, resume_session: f.resume_session !== null, previous_head: f.previous_head },
    });
    return { ...f, seq, status: 'open', attempt: null };
  }

  /** The follow-up ran: its attempt produced the updated change (done) or not (failed: the previous change stands). */
  close(taskId: string, seq: number, status: Exclude<FollowUpStatus, 'open'>, attempt: number | null, who: Actor, detail: Record<string, unknown> = {}): void {
    this.store.transaction(() => {
      dbOf(this.store).prepare('UPDATE follow_ups SET status = ?, attempt = ? WHERE task_id = ? AND seq = ?').run(status, attempt, taskId, seq);
      this.store.appendAudit({ ...who, action: `change.follow_up_${status}`, target: taskId, detail: { seq, attempt, ...detail } });
    });
  }
}
