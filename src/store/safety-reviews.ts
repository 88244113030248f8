/**
 * Safety reviews of held tasks: the findings the screens produced on the exact
 * command (shown to the admin with the pending task) and the digest of what
 * the admin approved. Approval covers that digest only: when the screens find
 * something else at dispatch, the task is held again (runner/routing.ts).
 */
import { dbOf } from './internal.js';
import type { Actor, Store } from './store.js';

export interface SafetyFinding {
  check: string;
  verdict: 'deny' | 'needs_approval';
  rule: string | null;
  reason: string | null;
}

export interface SafetyReview {
  task_id: string;
  digest: string; // of the command, engine, workspace and findings (safety/review.ts)
  findings: SafetyFinding[];
  screened_at: number;
  approved_digest: string | null;
  approved_by: string | null;
  approved_at: number | null;
}

type Row = Omit<SafetyReview, 'findings'> & { findings: string };

export class SafetyReviewStore {
  constructor(private readonly store: Store) {}

  /** Records what the screens found now; an earlier approval stays but only counts if its digest matches. */
  record(taskId: string, digest: string, findings: readonly SafetyFinding[], at: number): void {
    dbOf(this.store)
      .prepare(
        `INSERT INTO safety_reviews (task_id, digest, findings, screened_at) VALUES (?, ?, ?, ?)
        ON CONFLICT(task_id) DO UPDATE SET digest = excluded.digest, findings = excluded.findings, screened_at = excluded.screened_at`,
      )
      .run(taskId, digest, JSON.stringify(findings), at);
  }

  get(taskId: string): SafetyReview | null {
    const r = dbOf(this.store).prepare('SELECT * FROM safety_reviews WHERE task_id = ?').get(taskId) as Row | undefined;
    return r ? { ...r, findings: JSON.parse(r.findings) as SafetyFinding[] } : null;
  }

  /** Reviews of many tasks at once (the pending list). */
  getMany(taskIds: readonly string[]): Map<string, SafetyReview> {
    const out = new Map<string, SafetyReview>();
    const stmt = dbOf(this.store).prepare('SELECT * FROM safety_reviews WHERE task_id = ?');
    for (const id of taskIds) {
      const r = stmt.get(id) as Row | undefined;
      if (r) out.set(id, { ...r, findings: JSON.parse(r.findings) as SafetyFinding[] });
    }
    return out;
  }

  /** The admin approved the review as it stands (the digest that was shown). Audited. */
  approve(taskId: string, digest: string, who: Actor, at: number): void {
    this.store.transaction(() => {
      dbOf(this.store)
        .prepare('UPDATE safety_reviews SET approved_digest = ?, approved_by = ?, approved_at = ? WHERE task_id = ?')
        .run(digest, who.actor, at, taskId);
      this.store.appendAudit({ ...who, action: 'safety.approved', target: taskId, detail: { digest } });
    });
  }
}
