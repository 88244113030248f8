/**
 * Where a remote task may run on the worker: inside its --workspace-root, by
 * real path. The host names the workspace relative to that root ('.' = the
 * root itself); an absolute path is accepted only when it lies inside the root.
 * Refused: any `..` segment (even one that would stay inside), NUL, and any
 * path whose existing part resolves outside the root through a symlink. A
 * missing directory is created inside the root, and the result is checked
 * again after creation, so a symlink planted meanwhile is caught too.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { isInside } from '../../safety/protected.js';

export type WorkspaceResult = { ok: true; path: string } | { ok: false; reason: string };

export async function resolveWorkerWorkspace(root: string, requested: string): Promise<WorkspaceResult> {
  let rootReal: string;
  try {
    rootReal = await fs.realpath(root);
  } catch {
    return { ok: false, reason: `the workspace root ${root} does not exist on this worker` };
  }
  if (requested === '.' || requested === './') return { ok: true, path: rootReal }; // the root itself: nothing to create or escape through
  if (requested.includes('\u0000')) return { ok: false, reason: 'workspace contains NUL' };
  if (requested.split(/[/\\]+/).includes('..'))
    return { ok: false, reason: `workspace "${requested}" contains ".." (paths must stay inside the workspace root)` };
  const target = path.isAbsolute(requested) ? path.normalize(requested) : path.resolve(rootReal, requested);
  if (path.isAbsolute(requested) && !isInside(rootReal, target) && !isInside(path.resolve(root), target)) {
    return { ok: false, reason: `workspace ${requested} is outside this worker's workspace root ${rootReal}` };
  }
  // The longest part that exists decides where the path really points.
  let existing = target;
  const missing: string[] = [];
  for (;;) {
    try {
      await fs.lstat(existing);
      break;
    } catch {
      const parent = path.dirname(existing);
      if (parent === existing) return { ok: false, reason: `workspace ${requested} cannot be resolved` };
      missing.unshift(path.basename(existing));
      existing = parent;
    }
  }
  let real: string;
  try {
    real = await fs.realpath(existing);
  } catch {
    return { ok: false, reason: `workspace ${requested} cannot be resolved (dangling symlink?)` };
  }
  if (!isInside(rootReal, real)) {
    return { ok: false, reason: `workspace ${requested} resolves to ${real}, outside the workspace root ${rootReal} (symlink escape)` };
  }
  const final = path.join(real, ...missing);
  try {
    await fs.mkdir(final, { recursive: true, mode: 0o755 });
    const finalReal = await fs.realpath(final);
    if (!isInside(rootReal, finalReal)) return { ok: false, reason: `workspace ${requested} resolves outside the workspace root (symlink escape)` };
    const st = await fs.stat(finalReal);
    if (!st.isDirectory()) return { ok: false, reason: `workspace ${requested} is not a directory` };
    return { ok: true, path: finalReal };
  } catch (e) {
    return { ok: false, reason: `cannot create workspace ${requested}: ${e instanceof Error ? e.message : String(e)}` };
  }
}
