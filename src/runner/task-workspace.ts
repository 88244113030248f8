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
import { createTaskWorktree, removeTaskWorktree, type TaskWorktree } from './worktree.js';
import { snapshotProtected, verifyProtected } from '../safety/sandbox.js';
import { trackedProtected } from './protected-tracked.js';
import type { ColonyConfig } from '../core/config.js';
import type { ChangeStore } from '../store/changes.js';
import { SYSTEM } from '../store/store.js';
import type { StoredTask } from '../store/rows.js';

export interface PreparedWorkspace {
  workspace: string;
  /** Called once the engine ended; may turn a success into a failure, or ask to hold the task for review. */
  complete(ok: boolean): Promise<{ ok: boolean; reason?: string; hold?: boolean }>;
}

export interface WorkspaceDeps {
  config: ColonyConfig;
  changes: ChangeStore;
  home: string;
  configFile: string | null;
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
  return async function prepare(task: StoredTask, engine: string): Promise<PreparedWorkspace> {
    const useWorktree = mode === 'all' || (mode === 'agents' && engine !== 'exec');
    const repo = useWorktree ? await gitTopLevel(task.workspace) : null;
    let wt: TaskWorktree | null = null;
    let target = '';
    let workspace = task.workspace;
    if (repo) {
      target = await currentBranch(repo);
      await removeTaskWorktree(repo, `colony/${task.id}`).catch(() => undefined);
      wt = await createTaskWorktree(repo, task.id);
      const rel = task.workspace.slice(repo.length).replace(/^\/+/, '');
      workspace = rel ? `${wt.path}/${rel}` : wt.path;
    }
    const popts = { home: d.home, configFile: d.configFile, globs: d.config.safety.protected_globs };
    // A fresh worktree holds what its commit tracks: its protected files come from git, not from a walk.
    const candidates = wt ? await trackedProtected(wt.repo_dir, wt.base_commit, wt.path, popts) : null;
    const guard = d.config.safety.sandbox
      ? await snapshotProtected(wt ? wt.path : workspace, { ...popts, ...(candidates ? { candidates } : {}) }) // the whole worktree, its .git file included
      : null;
    return {
      workspace,
      async complete(ok) {
        if (guard) {
          const v = await verifyProtected(guard, { restore: true });
          if (!v.ok) {
            if (wt) await removeTaskWorktree(wt.repo_dir, wt.branch).catch(() => undefined);
            const files = v.touched.map((t) => `${t.path} (${t.reason}, ${t.restored ? 'restored' : 'NOT restored'})`).join(', ');
            return { ok: false, reason: `sandbox: protected file(s) changed by the task: ${files}` };
          }
        }
        if (!wt) return { ok };
        if (!ok) {
          await removeTaskWorktree(wt.repo_dir, wt.branch).catch(() => undefined);
          return { ok };
        }
        const change = await collectChange(wt, { message: `colony: ${task.title}` });
        if (!change) {
          await removeTaskWorktree(wt.repo_dir, wt.branch).catch(() => undefined);
          return { ok };
        }
        const hold = d.config.safety.require_approval_of_changes;
        d.changes.add({ ...change, target_branch: target, hold, created_at: Date.now() }, SYSTEM);
        return { ok, hold };
      },
    };
  };
}
