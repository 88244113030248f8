/** Persistence of pending changes (a host-run task's diff awaiting the admin's decision). */
import type { Actor, Store } from './store.js';
import { dbOf } from './internal.js';

// superseded: the reviewer requested changes; an agent follow-up is revising it (it comes back as pending).
export type ChangeStatus = 'pending' | 'approved' | 'rejected' | 'conflict' | 'superseded';

export interface ChangeRecord {
  task_id: string;
  repo_dir: string;
  worktree_path: string;
  branch: string;
  base_commit: string;
  head_commit: string;
  target_branch: string;
  files: { path: string; status: string; additions: number | null; deletions: number | null }[];
  stat: { files_changed: number; insertions: number; deletions: number; text: string };
  patch: string;
  status: ChangeStatus;
  hold: boolean; // the task waits in awaiting_approval until the change is decided
  created_at: number;
  decided_at: number | null;
  decided_by: string | null;
  merge_commit: string | null;
  error: string | null;
}

type Row = Omit<ChangeRecord, 'files' | 'stat' | 'hold'> & { files: string; stat: string; hold: number };

const fromRow = (r: Row): ChangeRecord => ({
  ...r,
  files: JSON.parse(r.files) as ChangeRecord['files'],
  stat: JSON.parse(r.stat) as ChangeRecord['stat'],
  hold: r.hold === 1,
});

export class ChangeStore {
  constructor(private readonly store: Store) {}

  add(c: Omit<ChangeRecord, 'status' | 'decided_at' | 'decided_by' | 'merge_commit' | 'error'>, who: Actor): void {
    this.store.transaction(() => {
      dbOf(this.store)
        .prepare(
          `INSERT OR REPLACE INTO pending_changes (task_id, repo_dir, worktree_path, branch, base_commit, head_commit, target_branch, files, stat, patch, status, hold, created_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
        )
        .run(
          c.task_id,
          c.repo_dir,
          c.worktree_path,
          c.branch,
          c.base_commit,
          c.head_commit,
          c.target_branch,
          JSON.stringify(c.files),
          JSON.stringify(c.stat),
          c.patch,
          c.hold ? 1 : 0,
          c.created_at,
        );
      this.store.appendAudit({
        ...who,
        action: 'change.pending',
        target: c.task_id,
        detail: { branch: c.branch, files_changed: c.stat.files_changed, head_commit: c.head_commit },
      });
      this.store.publish('change', this.ownerOf(c.task_id), { task_id: c.task_id, status: 'pending', files_changed: c.stat.files_changed }, c.task_id);
    });
  }

  /** Change events belong to the task's submitter, so per-viewer streams redact them for everyone else. */
  private ownerOf(taskId: string): string | null {
    return this.store.getTask(taskId)?.submitted_by ?? null;
  }

  get(taskId: string): ChangeRecord | null {
    const r = dbOf(this.store).prepare('SELECT * FROM pending_changes WHERE task_id = ?').get(taskId) as Row | undefined;
    return r ? fromRow(r) : null;
  }

  list(status?: ChangeStatus): ChangeRecord[] {
    const rows = status
      ? dbOf(this.store).prepare('SELECT * FROM pending_changes WHERE status = ? ORDER BY created_at').all(status)
      : dbOf(this.store).prepare('SELECT * FROM pending_changes ORDER BY created_at DESC LIMIT 500').all();
    return (rows as Row[]).map(fromRow);
  }

  /** Tasks waiting in awaiting_approval for their change to be decided (rebuilt into the scheduler at start). */
  heldTaskIds(): string[] {
    return (
      dbOf(this.store).prepare("SELECT task_id FROM pending_changes WHERE hold = 1 AND status IN ('pending', 'conflict')").all() as { task_id: string }[]
    ).map((r) => r.task_id);
  }

  /** Back to pending (a follow-up failed: the change it revised stands as it was), in the caller's transaction or its own. */
  restore(taskId: string, who: Actor, reason: string): void {
    this.store.transaction(() => {
      dbOf(this.store)
        .prepare("UPDATE pending_changes SET status = 'pending', decided_at = NULL, decided_by = NULL, error = NULL WHERE task_id = ?")
        .run(taskId);
      this.store.appendAudit({ ...who, action: 'change.restored', target: taskId, detail: { reason } });
      this.store.publish('change', this.ownerOf(taskId), { task_id: taskId, status: 'pending' }, taskId);
    });
  }

  decide(taskId: string, status: Exclude<ChangeStatus, 'pending'>, who: Actor, extra: { merge_commit?: string; error?: string } = {}): void {
    this.store.transaction(() => {
      dbOf(this.store)
        .prepare('UPDATE pending_changes SET status = ?, decided_at = ?, decided_by = ?, merge_commit = ?, error = ? WHERE task_id = ?')
        .run(status, Date.now(), who.actor, extra.merge_commit ?? null, extra.error ?? null, taskId);
      this.store.appendAudit({ ...who, action: `change.${status}`, target: taskId, detail: extra });
      this.store.publish('change', this.ownerOf(taskId), { task_id: taskId, status }, taskId);
    });
  }
}
