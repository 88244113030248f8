/**
 * Deciding pending changes: approve merges the task's branch into its target
 * (nothing half-applied on conflict), reject removes worktree and branch. A
 * task held for its change is settled in the same step.
 */
import { ColonyError, isColonyError } from '../core/errors.js';
import { ChangeStore, type ChangeRecord } from '../store/changes.js';
import type { Actor } from '../store/store.js';
import { approveChange, rejectChange } from './changes.js';
import type { TaskService } from './service.js';

export class ChangeService {
  readonly changes: ChangeStore;

  constructor(private readonly service: TaskService) {
    this.changes = new ChangeStore(service.store);
  }

  pendingFor(taskId: string): ChangeRecord | null {
    const c = this.changes.get(taskId);
    return c && (c.status === 'pending' || c.status === 'conflict') ? c : null;
  }

  async approve(taskId: string, who: Actor): Promise<ChangeRecord> {
    const c = this.require(taskId);
    try {
      const r = await approveChange(c.repo_dir, c, c.target_branch);
      this.changes.decide(taskId, 'approved', who, { merge_commit: r.merge_commit });
    } catch (e) {
      if (isColonyError(e) && e.code === 'E_CONFLICT') this.changes.decide(taskId, 'conflict', who, { error: e.message });
      throw e;
    }
    if (c.hold) this.service.settleHeld(taskId, true, `change approved by ${who.actor}`, who);
    return this.require(taskId, true);
  }

  async reject(taskId: string, who: Actor): Promise<ChangeRecord> {
    const c = this.require(taskId);
    await rejectChange(c.repo_dir, c);
    this.changes.decide(taskId, 'rejected', who);
    if (c.hold) this.service.settleHeld(taskId, false, `change rejected by ${who.actor}`, who);
    return this.require(taskId, true);
  }

  private require(taskId: string, anyStatus = false): ChangeRecord {
    const c = anyStatus ? this.changes.get(taskId) : this.pendingFor(taskId);
    if (!c) throw new ColonyError('E_NOT_FOUND', `no pending change for task ${taskId}`);
    return c;
  }
}
