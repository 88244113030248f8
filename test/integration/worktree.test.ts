import { execFileSync } from 'node:child_process';
import { promises as fs, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isColonyError, type ErrorCode } from '../../src/core/errors.js';
import { approveChange, collectChange, rejectChange } from '../../src/runner/changes.js';
import { cleanupStaleWorktrees, createTaskWorktree, defaultWorktreeRoot, listWorktrees, taskBranchName } from '../../src/runner/worktree.js';

let tmp: string;
let repo: string;
let root: string;

const IDENT = { GIT_AUTHOR_NAME: 'User', GIT_AUTHOR_EMAIL: 'u@example.com', GIT_COMMITTER_NAME: 'User', GIT_COMMITTER_EMAIL: 'u@example.com' };
function g(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, ...IDENT } }).trim();
}
const write = (dir: string, file: string, text: string): Promise<void> => fs.writeFile(path.join(dir, file), text);
const read = (dir: string, file: string): Promise<string> => fs.readFile(path.join(dir, file), 'utf8');
const exists = (p: string): Promise<boolean> =>
  fs.access(p).then(
    () => true,
    () => false,
  );

async function expectCode(p: Promise<unknown>, code: ErrorCode): Promise<Error> {
  try {
    await p;
  } catch (e) {
    expect(isColonyError(e) && e.code).toBe(code);
    return e as Error;
  }
  throw new Error(`expected ${code}`);
}

beforeEach(async () => {
  tmp = realpathSync(await fs.mkdtemp(path.join(os.tmpdir(), 'colony-git-')));
  repo = path.join(tmp, 'repo');
  root = path.join(tmp, 'worktrees');
  await fs.mkdir(repo);
  g(repo, 'init', '-q', '-b', 'main');
  await write(repo, 'a.txt', 'line 1\nline 2\nline 3\n');
  await write(repo, 'b.txt', 'bye\n');
  g(repo, 'add', '-A');
  g(repo, 'commit', '-q', '-m', 'init');
});

afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('taskBranchName', () => {
  it('keeps simple ids and sanitises others with a disambiguating hash', () => {
    expect(taskBranchName('fix-auth.2')).toBe('colony/fix-auth.2');
    expect(taskBranchName('graph/build')).toMatch(/^colony\/graph-build-[0-9a-f]{8}$/);
    expect(taskBranchName('graph/build')).not.toBe(taskBranchName('graph-build'));
    expect(taskBranchName('..')).toMatch(/^colony\/task-[0-9a-f]{8}$/);
    expect(taskBranchName('x.lock')).toMatch(/^colony\/x-lock-/);
    for (const id of ['a b', 'ü', '-x', 'a..b', 'a~^:?*[\\', 'x'.repeat(300), '@{u}']) {
      const b = taskBranchName(id);
      expect(() => g(repo, 'check-ref-format', '--branch', b), id).not.toThrow();
    }
  });
});

describe('task worktree and pending change', () => {
  it('creates a worktree on colony/<id> from the base commit, outside the repo by default', async () => {
    const base = g(repo, 'rev-parse', 'HEAD');
    const wt = await createTaskWorktree(repo, 't1');
    expect(wt).toMatchObject({ task_id: 't1', branch: 'colony/t1', base_commit: base, repo_dir: repo });
    expect(wt.path.startsWith(await defaultWorktreeRoot(repo))).toBe(true);
    expect(wt.path.startsWith(repo)).toBe(false);
    expect(await read(wt.path, 'a.txt')).toBe('line 1\nline 2\nline 3\n');
    expect(g(repo, 'status', '--porcelain')).toBe('');
    await rejectChange(repo, wt);
    await fs.rm(await defaultWorktreeRoot(repo), { recursive: true, force: true });
    await expectCode(createTaskWorktree(repo, 't2', 'no-such-ref', { root }), 'E_BAD_INPUT');
    await expectCode(createTaskWorktree(tmp, 't3', 'HEAD', { root }), 'E_BAD_INPUT'); // not a repository
  });

  it('collects what the task left, then approve merges it into the checked-out branch', async () => {
    const before = g(repo, 'rev-parse', 'main');
    const wt = await createTaskWorktree(repo, 't1', 'HEAD', { root });
    await expectCode(createTaskWorktree(repo, 't1', 'HEAD', { root }), 'E_CONFLICT'); // one worktree per task
    expect(await collectChange(wt)).toBeNull(); // nothing changed yet

    await write(wt.path, 'a.txt', 'line 1\nline 2 changed\nline 3\n');
    await write(wt.path, 'c.txt', 'new\nfile\n');
    await fs.rm(path.join(wt.path, 'b.txt'));
    const change = await collectChange(wt);
    if (!change) throw new Error('expected a change');
    expect(change).toMatchObject({ task_id: 't1', branch: 'colony/t1', base_commit: before, worktree_path: wt.path });
    expect(change.files).toEqual([
      { path: 'a.txt', status: 'M', additions: 1, deletions: 1 },
      { path: 'b.txt', status: 'D', additions: 0, deletions: 1 },
      { path: 'c.txt', status: 'A', additions: 2, deletions: 0 },
    ]);
    expect(change.stat).toMatchObject({ files_changed: 3, insertions: 3, deletions: 2 });
    expect(change.stat.text).toContain('3 files changed');
    expect(change.patch).toContain('diff --git a/a.txt b/a.txt');
    expect(change.patch).toContain('+line 2 changed');
    expect(g(repo, 'log', '-1', '--format=%an <%ae>', change.head_commit)).toBe('colony <colony@localhost>');
    expect(g(repo, 'rev-parse', 'main')).toBe(before); // nothing applied before approval
    expect(await exists(path.join(repo, 'c.txt'))).toBe(false);

    const r = await approveChange(repo, change, 'main', { root });
    expect(r).toMatchObject({ target_branch: 'main', previous_commit: before, updated_checkout: repo });
    expect(g(repo, 'rev-parse', 'main')).toBe(r.merge_commit);
    expect(g(repo, 'log', '-1', '--format=%P', 'main')).toBe(`${before} ${change.head_commit}`); // a real --no-ff merge
    // The merged files are in the target branch and in the user's checkout.
    expect(g(repo, 'show', 'main:c.txt')).toBe('new\nfile');
    expect(await read(repo, 'a.txt')).toBe('line 1\nline 2 changed\nline 3\n');
    expect(await exists(path.join(repo, 'b.txt'))).toBe(false);
    expect(g(repo, 'status', '--porcelain')).toBe('');
    // The task's worktree and branch are gone; no temporary merge worktree is left.
    expect(await exists(wt.path)).toBe(false);
    expect(g(repo, 'branch', '--list', 'colony/*')).toBe('');
    expect((await listWorktrees(repo)).map((w) => w.path)).toEqual([repo]);
  });

  it('approves into a branch that is not checked out without touching the working tree', async () => {
    g(repo, 'branch', 'release');
    const mainBefore = g(repo, 'rev-parse', 'main');
    const wt = await createTaskWorktree(repo, 'rel', 'release', { root });
    await write(wt.path, 'notes.md', 'release notes\n');
    const change = await collectChange(wt);
    if (!change) throw new Error('expected a change');
    const r = await approveChange(repo, change, 'release', { root });
    expect(r.updated_checkout).toBeNull();
    expect(g(repo, 'rev-parse', 'release')).toBe(r.merge_commit);
    expect(g(repo, 'show', 'release:notes.md')).toBe('release notes');
    expect(g(repo, 'rev-parse', 'main')).toBe(mainBefore);
    expect(await exists(path.join(repo, 'notes.md'))).toBe(false);
    expect(g(repo, 'status', '--porcelain')).toBe('');
  });

  it('reject removes the worktree and the branch, and is idempotent', async () => {
    const wt = await createTaskWorktree(repo, 't1', 'HEAD', { root });
    await write(wt.path, 'x.txt', 'x\n');
    const change = await collectChange(wt);
    if (!change) throw new Error('expected a change');
    expect(await rejectChange(repo, change)).toEqual({ worktree: wt.path, branch_deleted: true });
    expect(await exists(wt.path)).toBe(false);
    expect(g(repo, 'branch', '--list', 'colony/t1')).toBe('');
    expect(await rejectChange(repo, change)).toEqual({ worktree: null, branch_deleted: false });
    await expectCode(rejectChange(repo, { branch: 'main' }), 'E_BAD_INPUT'); // never deletes a user branch
    expect(g(repo, 'rev-parse', '--verify', 'main')).toMatch(/^[0-9a-f]{40}$/);
  });
});

describe('approve never leaves a half-applied state', () => {
  async function conflicting(): Promise<Awaited<ReturnType<typeof collectChange>>> {
    const wt = await createTaskWorktree(repo, 'clash', 'HEAD', { root });
    await write(wt.path, 'a.txt', 'line 1 from the task\nline 2\nline 3\n');
    await write(wt.path, 'd.txt', 'task-only file\n');
    await write(repo, 'a.txt', 'line 1 from the user\nline 2\nline 3\n');
    g(repo, 'commit', '-q', '-am', 'user edit');
    return collectChange(wt);
  }

  it('reports E_CONFLICT with the files, and leaves the target commit and working tree untouched', async () => {
    const change = await conflicting();
    if (!change) throw new Error('expected a change');
    const head = g(repo, 'rev-parse', 'main');
    const err = await expectCode(approveChange(repo, change, 'main', { root }), 'E_CONFLICT');
    expect(err.message).toContain('a.txt');
    expect((err as { details?: unknown }).details).toEqual({ files: ['a.txt'] });
    expect(g(repo, 'rev-parse', 'main')).toBe(head);
    expect(g(repo, 'status', '--porcelain', '--untracked-files=all')).toBe('');
    expect(await read(repo, 'a.txt')).toBe('line 1 from the user\nline 2\nline 3\n');
    expect(await exists(path.join(repo, 'd.txt'))).toBe(false);
    expect(await exists(path.join(repo, '.git', 'MERGE_HEAD'))).toBe(false);
    // No temporary merge worktree survives; the change can still be rejected.
    expect((await listWorktrees(repo)).map((w) => w.branch)).toEqual(['refs/heads/main', 'refs/heads/colony/clash']);
    await rejectChange(repo, change);
  });

  it('refuses to merge into a checkout with uncommitted changes, keeping them', async () => {
    const wt = await createTaskWorktree(repo, 't1', 'HEAD', { root });
    await write(wt.path, 'c.txt', 'c\n');
    const change = await collectChange(wt);
    if (!change) throw new Error('expected a change');
    await write(repo, 'b.txt', 'my unsaved work\n');
    const head = g(repo, 'rev-parse', 'main');
    const err = await expectCode(approveChange(repo, change, 'main', { root }), 'E_CONFLICT');
    expect(err.message).toContain('uncommitted changes');
    expect(g(repo, 'rev-parse', 'main')).toBe(head);
    expect(await read(repo, 'b.txt')).toBe('my unsaved work\n');
    expect(await exists(path.join(repo, 'c.txt'))).toBe(false);
  });

  it('refuses when the task branch moved after review, or the target does not exist', async () => {
    const wt = await createTaskWorktree(repo, 't1', 'HEAD', { root });
    await write(wt.path, 'c.txt', 'reviewed\n');
    const change = await collectChange(wt);
    if (!change) throw new Error('expected a change');
    await write(wt.path, 'c.txt', 'sneaked in after review\n');
    await collectChange(wt);
    const head = g(repo, 'rev-parse', 'main');
    await expectCode(approveChange(repo, change, 'main', { root }), 'E_CONFLICT');
    await expectCode(approveChange(repo, change, 'nope', { root }), 'E_NOT_FOUND');
    await expectCode(approveChange(repo, change, '-x', { root }), 'E_BAD_INPUT');
    await expectCode(approveChange(repo, { ...change, head_commit: '--upload-pack=touch /tmp/x' }, 'main', { root }), 'E_BAD_INPUT');
    expect(g(repo, 'rev-parse', 'main')).toBe(head);
  });

  it('never runs repository hooks while committing or merging', async () => {
    const marker = path.join(tmp, 'hook-ran');
    for (const hook of ['pre-commit', 'post-commit', 'post-merge', 'post-checkout', 'prepare-commit-msg']) {
      await fs.writeFile(path.join(repo, '.git', 'hooks', hook), `#!/bin/sh\necho ${hook} >> ${marker}\n`, { mode: 0o755 });
    }
    const wt = await createTaskWorktree(repo, 't1', 'HEAD', { root });
    await write(wt.path, 'c.txt', 'c\n');
    const change = await collectChange(wt);
    if (!change) throw new Error('expected a change');
    await approveChange(repo, change, 'main', { root });
    expect(await exists(marker)).toBe(false);
    g(repo, 'commit', '-q', '--allow-empty', '-m', 'user commit'); // the same hooks do run for the user's own git
    expect(await read(tmp, 'hook-ran')).toContain('pre-commit');
  });

  it('refuses to collect when the task moved its worktree off the task branch', async () => {
    const wt = await createTaskWorktree(repo, 't1', 'HEAD', { root });
    g(wt.path, 'checkout', '-q', '--detach');
    await expectCode(collectChange(wt), 'E_CONFLICT');
  });
});

describe('cleanupStaleWorktrees', () => {
  it('removes worktrees and branches of tasks that are not live, plus crash leftovers', async () => {
    const live = await createTaskWorktree(repo, 'live', 'HEAD', { root });
    const pending = await createTaskWorktree(repo, 'pending', 'HEAD', { root });
    await write(pending.path, 'p.txt', 'p\n');
    await collectChange(pending);
    const dead = await createTaskWorktree(repo, 'dead', 'HEAD', { root });
    const crashed = await createTaskWorktree(repo, 'crashed', 'HEAD', { root });
    await fs.rm(crashed.path, { recursive: true, force: true }); // process died and the directory went with it
    await fs.mkdir(path.join(root, 'half-made')); // crash during `git worktree add`
    g(repo, 'branch', 'colony/orphan'); // branch without a worktree
    const manual = path.join(tmp, 'manual');
    g(repo, 'worktree', 'add', '-q', '-b', 'colony/manual', manual); // the user's own, outside our root

    const report = await cleanupStaleWorktrees(repo, ['live', 'pending'], { root });
    expect(report.removed_worktrees).toEqual([dead.path]);
    expect(report.deleted_branches.sort()).toEqual(['colony/crashed', 'colony/dead', 'colony/orphan']);
    expect(report.removed_dirs).toEqual([path.join(root, 'half-made')]);
    expect(await exists(live.path)).toBe(true);
    expect(await exists(pending.path)).toBe(true);
    expect(await exists(manual)).toBe(true);
    expect(g(repo, 'branch', '--list', 'colony/*', '--format=%(refname:short)').split('\n').sort()).toEqual(['colony/live', 'colony/manual', 'colony/pending']);
    expect(await cleanupStaleWorktrees(repo, ['live', 'pending'], { root })).toEqual({ removed_worktrees: [], deleted_branches: [], removed_dirs: [] });
  });
});
