/**
 * The protected files of a fresh task worktree, without walking it: a new
 * worktree holds exactly the files tracked at its base commit, so its
 * protected candidates are the tracked paths that are protected — listed once
 * per commit with `git ls-tree` (the index of a 200,000-file repository is
 * read in C, once) and reused by every later attempt on that commit.
 */
import path from 'node:path';
import { git } from './git.js';
import { protectedReason, type ProtectedOptions } from '../safety/protected.js';

const byCommit = new Map<string, string[]>(); // repo\0commit\0globs → relative paths of protected tracked files
const MAX_COMMITS = 64;

/** Protected tracked files of `commit`, as absolute paths under `worktree`, with their reasons. */
export async function trackedProtected(repo: string, commit: string, worktree: string, opts: ProtectedOptions): Promise<Map<string, string> | null> {
  const key = `${repo}\0${commit}\0${(opts.globs ?? []).join('\n')}`;
  let rel = byCommit.get(key);
  if (!rel) {
    const r = await git(repo, ['ls-tree', '-r', '-z', '--name-only', commit], { allowFail: true }).catch(() => null);
    if (!r || r.code !== 0) return null; // unknown: the guard walks the worktree instead
    rel = r.stdout.split('\0').filter((p) => p !== '' && protectedReason(path.join(worktree, p), { ...opts, root: worktree }) !== null);
    if (byCommit.size >= MAX_COMMITS) byCommit.delete(byCommit.keys().next().value as string);
    byCommit.set(key, rel);
  }
  const out = new Map<string, string>();
  for (const p of rel) {
    const abs = path.join(worktree, p);
    out.set(abs, protectedReason(abs, { ...opts, root: worktree }) ?? 'protected');
  }
  return out;
}
