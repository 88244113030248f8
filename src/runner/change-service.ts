/**
 * Deciding pending changes: approve merges the task's branch into its target
 * (nothing half-applied on conflict), reject removes worktree and branch. A
 * task held for its change is settled in the same step.
 */
import { remainingBudget } from '../core/budget.js';
import { ColonyError, isColonyError } from '../core/errors.js';
import { ChangeStore, type ChangeRecord } from '../store/changes.js';
import { FollowUpStore, type FollowUp } from '../store/follow-ups.js';
import type { Actor } from '../store/store.js';
import { removeAgentState } from './agent-state.js';
import { approveChange, rejectChange } from './changes.js';
import { RESUMABLE_ENGINES } from './follow-up.js';
import type { TaskService } from './service.js';

export class ChangeService {
  readonly changes: ChangeStore;
  readonly followUps: FollowUpStore;

  /** `home`: the colony home, whose per-task agent state goes with the change's worktree. */
  constructor(
    private readonly service: TaskService,
    private readonly home: string | null = null,
  ) {
    this.changes = new ChangeStore(service.store);
    this.followUps = new FollowUpStore(service.store);
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
      if (this.home) await removeAgentState(this.home, taskId);
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
    if (this.home) await removeAgentState(this.home, taskId);
    this.changes.decide(taskId, 'rejected', who);
    if (c.hold) this.service.settleHeld(taskId, false, `change rejected by ${who.actor}`, who);
    return this.require(taskId, true);
  }

  /**
   * The reviewer asks for changes: the change is superseded and the task runs
   * again in its worktree (runner/follow-up.ts), continuing the agent's session
   * with `comment` where the engine can resume it. Its result is the updated
   * pending change; a failed follow-up leaves this one pending again.
   */
  requestChanges(taskId: string, comment: string, who: Actor): { change: ChangeRecord; follow_up: FollowUp } {
    const c = this.require(taskId);
    const task = this.service.requireTask(taskId);
    const last = this.service.attemptsOf(taskId).at(-1);
    const session = this.followUps.lastSession(taskId);
    const engine = session?.engine ?? last?.engine ?? null;
    if (!engine || engine === 'exec') {
      throw new ColonyError('E_BAD_INPUT', `task ${taskId} was not run by an agent (${engine ?? 'no engine'}); approve or reject its change instead`);
    }
    if (remainingBudget(task.budget_usd, task.cost_usd) <= 0) {
      throw new ColonyError('E_BUDGET', `task ${taskId} has no budget left for a follow-up (budget ${task.budget_usd} USD, spent ${task.cost_usd} USD)`);
    }
    const made: FollowUp[] = [];
    this.service.reopen(taskId, `changes requested by ${who.actor}`, who, () => {
      this.changes.decide(taskId, 'superseded', who, { error: `changes requested: ${comment.slice(0, 500)}` });
      made.push(
        this.followUps.add(
          {
            task_id: taskId,
            comment,
            engine,
            model: last?.engine === engine ? last.model : null,
            resume_session: session && RESUMABLE_ENGINES.has(session.engine) ? session.session_id : null,
            previous_head: c.head_commit,
            previous_status: task.state,
            requested_by: who.actor,
            requested_at: Date.now(),
          },
          who,
        ),
      );
    });
    return { change: this.require(taskId, true), follow_up: made[0] as FollowUp };
  }

  private require(taskId: string, anyStatus = false): ChangeRecord {
    const c = anyStatus ? this.changes.get(taskId) : this.pendingFor(taskId);
    if (!c) throw new ColonyError('E_NOT_FOUND', `no pending change for task ${taskId}`);
    return c;
  }
}
