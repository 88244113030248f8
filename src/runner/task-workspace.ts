/**
 * Where a host-run attempt really runs, and what is checked after it:
 * - tasks on a git repository run in their own worktree on `colony/<task-id>`
 *   (for agent engines by default; for exec too when runner.worktrees = 'all');
 *   a successful attempt's diff becomes a pending change for the admin;
 * - protected files (.env*, keys, .git/config, the colony home, the config
 *   file…) are hashed before the attempt and verified after it, whatever wrote
 *   them: a touched file is restored and the attempt fails naming it. Which
 *   files: in a task worktree, the protected paths tracked at its commit
 *   (protected-tracked.ts); elsewhere the guard's per-workspace index.
 */
import { git } from './git.js';
import { collectChange } from './changes.js';
import { removeAgentState } from './agent-state.js';
import { createTaskWorktree, removeTaskWorktree, type TaskWorktree } from './worktree.js';
import { snapshotProtected, verifyProtected } from '../safety/sandbox.js';
import { trackedProtected } from './protected-tracked.js';
import type { ColonyConfig } from '../core/config.js';
import type { ChangeStore } from '../store/changes.js';
import type { FollowUp, FollowUpStore } from '../store/follow-ups.js';
import { ColonyError } from '../core/errors.js';
import { SYSTEM } from '../store/store.js';
import type { StoredTask } from '../store/rows.js';

export interface PreparedWorkspace {
  workspace: string;
  /** Called once the engine ended; may turn a success into a failure, or ask to hold the task for review. */
  complete(ok: boolean): Promise<{ ok: boolean; reason?: string; hold?: boolean }>;
  /** Protected paths left to the attempt's OS sandbox (the guard checks only their identity): the plan must cover them. */
  covered?: readonly string[];
}

export interface WorkspaceDeps {
  config: ColonyConfig;
  changes: ChangeStore;
  /** Follow-ups close here once their attempt's change is collected (or not). */
  followUps?: FollowUpStore;
  home: string;
  configFile: string | null;
  /** Which protected paths the attempt's sandbox covers (runner/sandbox-plan.ts sandboxCoverage); absent: none. */
  coverage?: (task: StoredTask, engine: string, workspace: string, paths: readonly string[]) => string[];
}

async function gitTopLevel(dir: string): Promise<string | null> {
  const r = await git(dir, ['rev-parse', '--show-toplevel'], { allowFail: true }).catch(() => null);
  return r && r.code === 0 ? r.stdout.trim() : null;
}

async function currentBranch(repo: string): Promise<string> {
  const r = await git(repo, ['symbolic-ref', '--short', 'HEAD'], { allowFail: true });
  return r.code === 0 ? r.stdout.trim() : 'main';
}

export function createWorkspacePreparer(d: WorkspaceDeps) {
  const mode = d.config.runner.worktrees;
  return async function prepare(task: StoredTask, engine: string, followUp: FollowUp | null = null): Promise<PreparedWorkspace> {
    const useWorktree = followUp !== null || mode === 'all' || (mode === 'agents' && engine !== 'exec');
    const repo = useWorktree ? await gitTopLevel(task.workspace) : null;
    let wt: TaskWorktree | null = null;
    let target = '';
    let workspace = task.workspace;
    if (repo && followUp) {
      ({ wt, target } = await reopenWorktree(d.changes, task.id, followUp));
    } else if (repo) {
      target = await currentBranch(repo);
      await removeTaskWorktree(repo, `colony/${task.id}`).catch(() => undefined);
      wt = await createTaskWorktree(repo, task.id);
    }
    if (repo && wt) {
      const rel = task.workspace.slice(repo.length).replace(/^\/+/, '');
      workspace = rel ? `${wt.path}/${rel}` : wt.path;
    }
    if (followUp && !wt) throw new ColonyError('E_NOT_FOUND', `task ${task.id} has no worktree to revise`);
    /** The follow-up's work is dropped: the worktree goes back to the reviewed change, which is pending again. */
    const restorePrevious = async (reason: string): Promise<void> => {
      if (!followUp || !wt) return;
      await resetTo(wt.path, followUp.previous_head).catch(() => undefined);
      d.changes.restore(task.id, SYSTEM, reason);
      d.followUps?.close(task.id, followUp.seq, 'failed', null, SYSTEM, { reason });
    };
    /** The worktree goes, and with it the task's agent state (its sessions belong to that work). */
    const dropWorktree = async (w: TaskWorktree): Promise<void> => {
      await removeTaskWorktree(w.repo_dir, w.branch).catch(() => undefined);
      await removeAgentState(d.home, task.id);
    };
    const discard = async (reason: string): Promise<void> => {
      if (followUp) await restorePrevious(reason);
      else if (wt) await dropWorktree(wt);
    };
    const popts = { home: d.home, configFile: d.configFile, globs: d.config.safety.protected_globs };
    // A fresh worktree holds what its commit tracks: its protected files come from git, not from a walk.
    const candidates = wt ? await trackedProtected(wt.repo_dir, wt.base_commit, wt.path, popts) : null;
    // With the OS sandbox on, the colony home and the config file are protected by its mounts (read-only or hidden) where this attempt's plan covers them.
    const fixed = [d.home, ...(d.configFile ? [d.configFile] : [])];
    const covered = d.config.safety.sandbox ? (d.coverage?.(task, engine, workspace, fixed) ?? []) : [];
    const guard = d.config.safety.sandbox
      ? await snapshotProtected(wt ? wt.path : workspace, { ...popts, ...(candidates ? { candidates } : {}), ...(covered.length ? { covered } : {}) }) // the whole worktree, its .git file included
      : null;
    return {
      workspace,
      covered,
      async complete(ok) {
        if (guard) {
          const v = await verifyProtected(guard, { restore: true });
          if (!v.ok) {
            const files = v.touched.map((t) => `${t.path} (${t.reason}, ${t.restored ? 'restored' : 'NOT restored'})`).join(', ');
            const reason = `sandbox: protected file(s) changed by the task: ${files}`;
            await discard(reason);
            return { ok: false, reason };
          }
        }
        if (!wt) return { ok };
        if (!ok) {
          await discard('the attempt failed');
          return { ok };
        }
        const change = await collectChange(wt, { message: followUp ? `colony: ${task.title} (changes requested)` : `colony: ${task.title}` });
        if (!change) {
          if (followUp) {
            await restorePrevious('the follow-up left no change');
            return { ok: false, reason: 'the follow-up left no change; the previous change is pending again' };
          }
          await dropWorktree(wt);
          return { ok };
        }
        const hold = d.config.safety.require_approval_of_changes;
        d.changes.add({ ...change, target_branch: target, hold, created_at: Date.now() }, SYSTEM);
        if (followUp)
          d.followUps?.close(task.id, followUp.seq, 'done', null, SYSTEM, { head_commit: change.head_commit, previous_head: followUp.previous_head });
        return { ok, hold };
      },
    };
  };
}

/** The worktree of a task whose change is being revised, exactly at the reviewed head and clean. */
async function reopenWorktree(changes: ChangeStore, taskId: string, f: FollowUp): Promise<{ wt: TaskWorktree; target: string }> {
  const c = changes.get(taskId);
  if (!c) throw new ColonyError('E_NOT_FOUND', `task ${taskId} has no change to revise`);
  const head = await git(c.worktree_path, ['rev-parse', 'HEAD'], { allowFail: true }).catch(() => null);
  if (!head || head.code !== 0 || head.stdout.trim() !== f.previous_head) {
    throw new ColonyError(
      'E_CONFLICT',
      `the worktree of task ${taskId} (${c.worktree_path}) is gone or no longer at the reviewed commit ${f.previous_head.slice(0, 12)}`,
    );
  }
  await resetTo(c.worktree_path, f.previous_head); // anything an interrupted follow-up left goes
  return { wt: { task_id: taskId, repo_dir: c.repo_dir, path: c.worktree_path, branch: c.branch, base_commit: c.base_commit }, target: c.target_branch };
}

async function resetTo(dir: string, commit: string): Promise<void> {
  await git(dir, ['reset', '--quiet', '--hard', commit]);
  await git(dir, ['clean', '--quiet', '-fd']);
}
