/**
 * One git worktree and branch per host-run task, so concurrent tasks never
 * share a working tree and the user's checkout is never touched while agents
 * work. Branch: `colony/<sanitised task id>`.
 *
 * Location: by default `$TMPDIR/colony-worktrees/<repo-name>-<hash>/<id>`,
 * outside the repository (nothing shows up in the user's `git status`, and the
 * agent's cwd is not inside `.git`). Pass `root` to put them elsewhere; the
 * runner must add that root to the sandbox's allowed roots. Keep the root
 * outside the colony home: the sandbox refuses workspaces inside it.
 */
import { createHash } from 'node:crypto';
import { promises as fs, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ColonyError } from '../core/errors.js';
import { git, gitOut } from './git.js';

export interface TaskWorktree {
  task_id: string;
  repo_dir: string; // real path of the main repository
  path: string; // real path of the task's worktree (the task's workspace)
  branch: string; // colony/<sanitised id>
  base_commit: string;
}

export interface WorktreeOptions {
  root?: string; // directory that holds colony worktrees for this repository
}

export const BRANCH_PREFIX = 'colony/';

const shortHash = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 8);

/**
 * `colony/<id>` with the id reduced to [A-Za-z0-9._-] (valid for
 * git-check-ref-format). When anything had to change, a hash of the original
 * id is appended so `a/b` and `a-b` never share a branch.
 */
export function taskBranchName(taskId: string): string {
  const trim = (s: string): string => s.replace(/^[-.]+|[-.]+$/g, '');
  let s = trim(taskId.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/\.{2,}/g, '.'));
  s = trim(s.replace(/\.lock$/i, '-lock').slice(0, 80));
  if (s !== taskId || s === '') s = `${s || 'task'}-${shortHash(taskId)}`;
  return `${BRANCH_PREFIX}${s}`;
}

export async function repoRoot(repoDir: string): Promise<string> {
  const r = await git(repoDir, ['rev-parse', '--show-toplevel'], { allowFail: true }).catch(() => null);
  if (!r || r.code !== 0) throw new ColonyError('E_BAD_INPUT', `${repoDir} is not inside a git repository (run git init or pick the repository directory)`);
  return realpathSync.native(r.stdout.trim());
}

async function commonDir(repo: string): Promise<string> {
  return realpathSync.native(path.resolve(repo, await gitOut(repo, ['rev-parse', '--git-common-dir'])));
}

export async function defaultWorktreeRoot(repoDir: string): Promise<string> {
  const repo = await repoRoot(repoDir);
  return path.join(os.tmpdir(), 'colony-worktrees', `${path.basename(repo)}-${shortHash(await commonDir(repo))}`);
}

export async function worktreeRoot(repoDir: string, opts: WorktreeOptions = {}): Promise<string> {
  const root = opts.root ? path.resolve(opts.root) : await defaultWorktreeRoot(repoDir);
  await fs.mkdir(root, { recursive: true, mode: 0o700 });
  return realpathSync.native(root);
}

export async function createTaskWorktree(repoDir: string, taskId: string, baseRef = 'HEAD', opts: WorktreeOptions = {}): Promise<TaskWorktree> {
  const repo = await repoRoot(repoDir);
  const base = await git(repo, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${baseRef}^{commit}`], { allowFail: true });
  if (base.code !== 0) throw new ColonyError('E_BAD_INPUT', `base ref "${baseRef}" is not a commit in ${repo}`);
  const base_commit = base.stdout.trim();
  const branch = taskBranchName(taskId);
  const exists = await git(repo, ['show-ref', '--verify', '--quiet', `refs/heads/${branch}`], { allowFail: true });
  if (exists.code === 0) {
    throw new ColonyError(
      'E_CONFLICT',
      `branch ${branch} already exists (an earlier attempt's change?); reject or clean it up before starting task ${taskId} again`,
    );
  }
  const root = await worktreeRoot(repo, opts);
  const wtPath = path.join(root, branch.slice(BRANCH_PREFIX.length));
  if (await fs.lstat(wtPath).catch(() => null)) {
    throw new ColonyError('E_CONFLICT', `${wtPath} already exists; run worktree cleanup before starting task ${taskId} again`);
  }
  await git(repo, ['worktree', 'add', '--quiet', '-b', branch, wtPath, base_commit]);
  return { task_id: taskId, repo_dir: repo, path: realpathSync.native(wtPath), branch, base_commit };
}

export interface WorktreeInfo {
  path: string;
  head: string | null;
  branch: string | null; // refs/heads/... or null when detached
  main: boolean; // the repository's main worktree (never removed)
}

/** `git worktree list --porcelain -z`, parsed. */
export async function listWorktrees(repoDir: string): Promise<WorktreeInfo[]> {
  const out = (await git(repoDir, ['worktree', 'list', '--porcelain', '-z'])).stdout;
  const list: WorktreeInfo[] = [];
  let cur: WorktreeInfo | null = null;
  for (const field of out.split('\0')) {
    if (field === '') {
      if (cur) list.push(cur);
      cur = null;
      continue;
    }
    const sp = field.indexOf(' ');
    const key = sp < 0 ? field : field.slice(0, sp);
    const val = sp < 0 ? '' : field.slice(sp + 1);
    if (key === 'worktree') cur = { path: val, head: null, branch: null, main: list.length === 0 };
    else if (cur && key === 'HEAD') cur.head = val;
    else if (cur && key === 'branch') cur.branch = val;
  }
  if (cur) list.push(cur);
  return list;
}

/** Removes a colony worktree and its branch; missing pieces are fine (idempotent). */
export async function removeTaskWorktree(repoDir: string, branch: string): Promise<{ worktree: string | null; branch_deleted: boolean }> {
  if (!branch.startsWith(BRANCH_PREFIX)) {
    throw new ColonyError('E_BAD_INPUT', `refusing to remove ${branch}: only ${BRANCH_PREFIX}* branches are colony's`);
  }
  const repo = await repoRoot(repoDir);
  const wt = (await listWorktrees(repo)).find((w) => !w.main && w.branch === `refs/heads/${branch}`);
  if (wt) await git(repo, ['worktree', 'remove', '--force', '--force', wt.path]);
  await git(repo, ['worktree', 'prune']);
  const del = await git(repo, ['branch', '-D', '--', branch], { allowFail: true });
  return { worktree: wt?.path ?? null, branch_deleted: del.code === 0 };
}

export interface CleanupReport {
  removed_worktrees: string[];
  deleted_branches: string[];
  removed_dirs: string[];
}

/**
 * Crash recovery: prunes git's worktree records, then removes colony worktrees
 * (inside the colony root) and `colony/*` branches whose task is not live.
 * `liveTaskIds` must include tasks that are running AND tasks whose change is
 * still awaiting approval — their branch is the pending change.
 */
export async function cleanupStaleWorktrees(repoDir: string, liveTaskIds: Iterable<string>, opts: WorktreeOptions = {}): Promise<CleanupReport> {
  const repo = await repoRoot(repoDir);
  const root = await worktreeRoot(repo, opts);
  const live = new Set([...liveTaskIds].map(taskBranchName));
  const report: CleanupReport = { removed_worktrees: [], deleted_branches: [], removed_dirs: [] };
  await git(repo, ['worktree', 'prune']);

  const inRoot = (p: string): boolean => path.dirname(p) === root;
  for (const w of await listWorktrees(repo)) {
    if (w.main || !inRoot(w.path)) continue;
    const branch = w.branch?.replace(/^refs\/heads\//, '') ?? null;
    const stale = branch === null ? path.basename(w.path).startsWith('.merge-') : branch.startsWith(BRANCH_PREFIX) && !live.has(branch);
    if (!stale) continue;
    await git(repo, ['worktree', 'remove', '--force', '--force', w.path]);
    report.removed_worktrees.push(w.path);
  }
  await git(repo, ['worktree', 'prune']);

  const refs = (await gitOut(repo, ['for-each-ref', '--format=%(refname:short)', `refs/heads/${BRANCH_PREFIX}`])).split('\n').filter(Boolean);
  const checkedOut = new Set((await listWorktrees(repo)).map((w) => w.branch?.replace(/^refs\/heads\//, '')));
  for (const b of refs) {
    if (live.has(b) || checkedOut.has(b)) continue;
    if ((await git(repo, ['branch', '-D', '--', b], { allowFail: true })).code === 0) report.deleted_branches.push(b);
  }

  // Directories left by a crash during `git worktree add`, or already unregistered. A directory
  // whose .git points at another repository's worktree is not ours, even in a shared root.
  const registered = new Set((await listWorktrees(repo)).map((w) => w.path));
  const common = await commonDir(repo);
  for (const name of await fs.readdir(root)) {
    const p = path.join(root, name);
    if (registered.has(p) || live.has(`${BRANCH_PREFIX}${name}`)) continue;
    if ((await fs.lstat(path.join(p, '.git')).catch(() => null))?.isDirectory()) continue; // a clone, not a worktree
    const dotGit = await fs.readFile(path.join(p, '.git'), 'utf8').catch(() => null);
    const gitdir = dotGit === null ? null : /^gitdir:\s*(.+)$/m.exec(dotGit)?.[1]?.trim();
    if (gitdir && !path.resolve(p, gitdir).startsWith(`${common}${path.sep}`)) continue;
    await fs.rm(p, { recursive: true, force: true });
    report.removed_dirs.push(p);
  }
  return report;
}
