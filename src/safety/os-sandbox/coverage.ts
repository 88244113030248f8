/**
 * Which host paths an attempt's bubblewrap mounts make unwritable for the task
 * (issue 24: with the OS sandbox on, the colony home and the config file are
 * protected by the sandbox, not by walking them before and after every attempt).
 *
 * A host path p is covered when no writable bind lets the task change it:
 * - a writable bind of a folder inside p (except `except`: the task's own
 *   agent-state folder, which the guard does not guard either) uncovers it;
 * - a writable bind of a folder that holds p (the workspace holding
 *   `./.colony`) uncovers it unless, at p's place inside the sandbox, a deeper
 *   mount made after that bind, and not a writable bind (the tmpfs or
 *   /dev/null that hides it, a read-only bind), lies over it;
 * - otherwise the task cannot reach p at all (not bound: it does not exist
 *   inside) or only read-only.
 * What the task can still do to such a p from inside a writable folder is move
 * a parent of its mount (the mount moves with it); the guard checks the
 * identity of every covered path after the attempt for that (guard.ts).
 */
import path from 'node:path';
import { isInside } from '../protected.js';
import type { Mount } from './linux-bwrap.js';

/** Index of the mount that decides what the task sees at `q` (the last one at or above it: mounts are in mount order), or -1. */
function topMountAt(mounts: readonly Mount[], q: string): number {
  let top = -1;
  mounts.forEach((m, i) => {
    if (isInside(m.dest, q)) top = i;
  });
  return top;
}

export function sandboxCovers(mounts: readonly Mount[], p: string, except: readonly string[] = []): boolean {
  for (const [i, m] of mounts.entries()) {
    if (!m.writable || m.src === undefined) continue;
    if (m.src !== p && isInside(p, m.src)) {
      if (!except.some((x) => isInside(x, m.src as string))) return false;
      continue;
    }
    if (!isInside(m.src, p)) continue;
    const at = path.join(m.dest, path.relative(m.src, p));
    const top = topMountAt(mounts, at);
    if (top <= i || mounts[top]?.writable) return false; // nothing mounted over it after this writable bind
  }
  return true;
}
