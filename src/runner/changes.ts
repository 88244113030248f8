/**
 * Pending changes: what a host-run task left in its worktree, turned into a
 * commit on its branch, reviewed, then merged or thrown away. Plain data in
 * and out; the store persists the records.
 *
 * Approve (DESIGN §11: the old approve button applied nothing) never leaves a
 * half-applied state and never disturbs the user's working tree:
 * 1. the merge (always --no-ff, so the task's work stays one revertable unit)
 *    is made in a temporary detached worktree started at the target's tip;
 *    on conflict it is aborted there and E_CONFLICT lists the files — the
 *    target branch and every checkout are untouched;
 * 2. the target branch is then moved to the merge commit:
 *    - not checked out anywhere → `git update-ref` with the old value as a
 *      compare-and-swap (fails if the branch moved meanwhile);
 *    - checked out in a worktree (usually the user's main one) → only if that
 *      worktree has no uncommitted changes to tracked files, and then with
 *      `git merge --ff-only`, which updates files and index together or, if an
 *      untracked file would be overwritten, refuses without touching anything.
 *      A dirty checkout gets E_CONFLICT asking to commit or stash first.
 * The merge commit is exactly the reviewed `head_commit`: if the task branch
 * moved after review, approval is refused.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ColonyError } from '../core/errors.js';
import { git, gitOut } from './git.js';
import { BRANCH_PREFIX, listWorktrees, removeTaskWorktree, repoRoot, worktreeRoot, type TaskWorktree, type WorktreeOptions } from './worktree.js';

export interface ChangedFile {
  path: string;
  status: 'A' | 'M' | 'D' | 'R' | 'C' | 'T';
  old_path?: string; // renames and copies
  additions: number | null; // null for binary files
  deletions: number | null;
}

export interface ChangeStat {
  files_changed: number;
  insertions: number;
  deletions: number;
  text: string; // `git diff --stat`, for humans
}

export interface PendingChange {
  task_id: string;
  repo_dir: string;
  worktree_path: string;
  branch: string;
  base_commit: string;
  head_commit: string;
  stat: ChangeStat;
  patch: string; // `git diff --binary base head`, applies with `git apply`
  files: ChangedFile[];
}

export interface ApproveResult {
  target_branch: string;
  previous_commit: string;
  merge_commit: string;
  updated_checkout: string | null; // worktree path fast-forwarded, when the target was checked out
}

/** Records come back from the store: make sure a commit id is an object id, never an option or a revision expression. */
function assertCommitId(id: string, what: string): void {
  if (!/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(id)) throw new ColonyError('E_BAD_INPUT', `${what} "${id.slice(0, 80)}" is not a commit id`);
}

const DIFF_OPTS = ['--no-color', '--no-ext-diff', '--no-textconv', '--src-prefix=a/', '--dst-prefix=b/', '-M'];

/**
 * Commits everything the task left in its worktree (git add -A, colony as
 * author, hooks off) and describes base..head. Null when nothing changed.
 * Ignored files (.gitignore) are not part of the change.
 */
export async function collectChange(wt: TaskWorktree, opts: { message?: string } = {}): Promise<PendingChange | null> {
  assertCommitId(wt.base_commit, 'base_commit');
  const cwd = wt.path;
  const onBranch = await git(cwd, ['symbolic-ref', '--quiet', 'HEAD'], { allowFail: true });
  if (onBranch.stdout.trim() !== `refs/heads/${wt.branch}`) {
    throw new ColonyError(
      'E_CONFLICT',
      `task ${wt.task_id} left its worktree on ${onBranch.stdout.trim() || 'a detached HEAD'} instead of ${wt.branch}; its change cannot be collected`,
    );
  }
  await git(cwd, ['add', '-A']);
  const staged = await git(cwd, ['diff', '--cached', '--quiet'], { allowFail: true });
  if (staged.code === 1) {
    await git(cwd, ['commit', '--quiet', '--no-verify', '-m', opts.message ?? `colony: task ${wt.task_id}`]);
  }
  const head = await gitOut(cwd, ['rev-parse', 'HEAD']);
  if (head === wt.base_commit) return null;
  const ancestor = await git(cwd, ['merge-base', '--is-ancestor', wt.base_commit, head], { allowFail: true });
  if (ancestor.code !== 0) {
    throw new ColonyError('E_CONFLICT', `task ${wt.task_id} rewrote history: ${wt.branch} no longer contains its base ${wt.base_commit.slice(0, 12)}`);
  }
  const d = await describe(cwd, wt.base_commit, head);
  if (d.files.length === 0) return null; // only empty commits: nothing to review
  return { task_id: wt.task_id, repo_dir: wt.repo_dir, worktree_path: wt.path, branch: wt.branch, base_commit: wt.base_commit, head_commit: head, ...d };
}

async function describe(cwd: string, base: string, head: string): Promise<Pick<PendingChange, 'stat' | 'patch' | 'files'>> {
  const [patch, statText, numstat, nameStatus] = await Promise.all([
    git(cwd, ['diff', '--binary', '--full-index', ...DIFF_OPTS, base, head]).then((r) => r.stdout),
    gitOut(cwd, ['diff', '--stat=200', ...DIFF_OPTS, base, head]),
    gitOut(cwd, ['diff', '--numstat', '-z', ...DIFF_OPTS, base, head]),
    gitOut(cwd, ['diff', '--name-status', '-z', ...DIFF_OPTS, base, head]),
  ]);
  const files = parseNameStatus(nameStatus);
  const counts = parseNumstat(numstat);
  for (const f of files) {
    const c = counts.get(f.path);
    f.additions = c ? c[0] : null;
    f.deletions = c ? c[1] : null;
  }
  const sum = (k: 'additions' | 'deletions'): number => files.reduce((a, f) => a + (f[k] ?? 0), 0);
  return { patch, files, stat: { files_changed: files.length, insertions: sum('additions'), deletions: sum('deletions'), text: statText } };
}

/** `-z --name-status`: STATUS\0path\0, or R100\0old\0new\0 for renames/copies. */
function parseNameStatus(out: string): ChangedFile[] {
  const parts = out.split('\0');
  const files: ChangedFile[] = [];
  for (let i = 0; i < parts.length;) {
    const status = (parts[i++] ?? '').charAt(0);
    if (!status) continue;
    if (status === 'R' || status === 'C') {
      files.push({ status, old_path: parts[i] ?? '', path: parts[i + 1] ?? '', additions: null, deletions: null });
      i += 2;
    } else {
      files.push({ status: status as ChangedFile['status'], path: parts[i++] ?? '', additions: null, deletions: null });
    }
  }
  return files;
}

/** `-z --numstat`: "a\td\tpath\0", or "a\td\t\0old\0new\0" for renames; "-" counts mean binary. */
function parseNumstat(out: string): Map<string, [number, number] | null> {
  const map = new Map<string, [number, number] | null>();
  const parts = out.split('\0');
  for (let i = 0; i < parts.length;) {
    const rec = parts[i++] ?? '';
    if (!rec) continue;
    const [a = '-', d = '-', p = ''] = rec.split('\t');
    let file = p;
    if (file === '') {
      file = parts[i + 1] ?? ''; // rename: old path, then new path
      i += 2;
    }
    map.set(file, a === '-' ? null : [Number(a), Number(d)]);
  }
  return map;
}

/** Merges the reviewed change into `targetBranch` (see the file comment for the guarantees). */
export async function approveChange(
  repoDir: string,
  change: Pick<PendingChange, 'task_id' | 'branch' | 'base_commit' | 'head_commit'>,
  targetBranch: string,
  opts: WorktreeOptions = {},
): Promise<ApproveResult> {
  const repo = await repoRoot(repoDir);
  assertCommitId(change.head_commit, 'head_commit');
  if (!change.branch.startsWith(BRANCH_PREFIX)) throw new ColonyError('E_BAD_INPUT', `${change.branch} is not a colony task branch`);
  const fmt = await git(repo, ['check-ref-format', '--branch', targetBranch], { allowFail: true });
  if (fmt.code !== 0) throw new ColonyError('E_BAD_INPUT', `"${targetBranch}" is not a valid branch name`);
  const targetRef = `refs/heads/${targetBranch}`;
  const tgt = await git(repo, ['rev-parse', '--verify', '--quiet', `${targetRef}^{commit}`], { allowFail: true });
  if (tgt.code !== 0) throw new ColonyError('E_NOT_FOUND', `target branch ${targetBranch} does not exist`);
  const previous = tgt.stdout.trim();
  const tip = await git(repo, ['rev-parse', '--verify', '--quiet', `refs/heads/${change.branch}`], { allowFail: true });
  if (tip.code !== 0) throw new ColonyError('E_NOT_FOUND', `task branch ${change.branch} no longer exists (rejected or cleaned up?)`);
  if (tip.stdout.trim() !== change.head_commit) {
    throw new ColonyError(
      'E_CONFLICT',
      `${change.branch} moved since the change was collected (${change.head_commit.slice(0, 12)} → ${tip.stdout.trim().slice(0, 12)}); collect and review it again`,
    );
  }

  const checkout = (await listWorktrees(repo)).find((w) => w.branch === targetRef) ?? null;
  if (checkout) {
    const dirty = await gitOut(checkout.path, ['status', '--porcelain', '--untracked-files=no']);
    if (dirty !== '') {
      throw new ColonyError(
        'E_CONFLICT',
        `${targetBranch} is checked out in ${checkout.path} with uncommitted changes; commit or stash them, then approve again (nothing was merged)`,
        { files: dirty.split('\n').map((l) => l.slice(3)) },
      );
    }
  }

  const merge = await mergeInTemporaryWorktree(repo, previous, change, targetBranch, opts);
  if (checkout) {
    const ff = await git(checkout.path, ['merge', '--ff-only', '--quiet', merge], { allowFail: true });
    if (ff.code !== 0) {
      throw new ColonyError(
        'E_CONFLICT',
        `could not fast-forward ${targetBranch} in ${checkout.path} (it moved, or an untracked file would be overwritten); nothing was changed: ${ff.stderr.trim()}`,
      );
    }
  } else {
    const upd = await git(repo, ['update-ref', '-m', `colony: approve ${change.branch}`, targetRef, merge, previous], { allowFail: true });
    if (upd.code !== 0) throw new ColonyError('E_CONFLICT', `${targetBranch} moved while merging; approve again`);
  }
  // The work is merged; a failure to tidy up must not make the approval look failed.
  await removeTaskWorktree(repo, change.branch).catch(() => undefined);
  return { target_branch: targetBranch, previous_commit: previous, merge_commit: merge, updated_checkout: checkout?.path ?? null };
}

async function mergeInTemporaryWorktree(
  repo: string,
  targetCommit: string,
  change: Pick<PendingChange, 'task_id' | 'branch' | 'head_commit'>,
  targetBranch: string,
  opts: WorktreeOptions,
): Promise<string> {
  const tmp = path.join(await worktreeRoot(repo, opts), `.merge-${randomBytes(6).toString('hex')}`);
  await git(repo, ['worktree', 'add', '--quiet', '--detach', tmp, targetCommit]);
  try {
    const msg = `colony: merge ${change.branch} into ${targetBranch} (task ${change.task_id})`;
    const m = await git(tmp, ['merge', '--no-ff', '--no-edit', '-m', msg, change.head_commit], { allowFail: true });
    if (m.code === 0) return await gitOut(tmp, ['rev-parse', 'HEAD']);
    const conflicted = (await gitOut(tmp, ['diff', '--name-only', '--diff-filter=U'])).split('\n').filter(Boolean);
    await git(tmp, ['merge', '--abort'], { allowFail: true });
    const what = conflicted.length ? `conflicts in ${conflicted.join(', ')}` : m.stderr.trim() || m.stdout.trim();
    throw new ColonyError('E_CONFLICT', `${change.branch} does not merge cleanly into ${targetBranch}: ${what}; ${targetBranch} is unchanged`, {
      files: conflicted,
    });
  } finally {
    await git(repo, ['worktree', 'remove', '--force', '--force', tmp], { allowFail: true });
    await git(repo, ['worktree', 'prune'], { allowFail: true });
  }
}

/** Throws the change away: its worktree and branch are removed (idempotent). */
export async function rejectChange(repoDir: string, change: Pick<PendingChange, 'branch'>): Promise<{ worktree: string | null; branch_deleted: boolean }> {
  return removeTaskWorktree(repoDir, change.branch);
}
