/**
 * Which directories host tasks may run in (`safety.allowed_roots`), and the
 * check made when a graph is submitted, before anything is stored.
 *
 * Configured roots are the whole list: nothing is added per task (the old
 * gate added each admin task's own workspace, so the setting did nothing for
 * the admin). With no configured roots the defaults are the host's working
 * directory, colony's worktree area, `lan.host_workspace`, and — for graphs
 * the admin submits — the graph's own base directory (the graph file's
 * directory for `colony run`, the demo directory for `serve --demo`; for the
 * admin API it is the host's working directory again).
 *
 * The dispatch-time sandbox check (sandbox.ts checkWorkspace) uses the same
 * roots, so a symlink swapped in after submission is still refused there.
 */
import { realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ColonyError } from '../core/errors.js';
import { isInside } from './protected.js';

export interface RootsConfig {
  safety: { allowed_roots: readonly string[] };
  lan: { host_workspace: string | null };
}

/** The roots every host task may use (configured, else the defaults named above without a graph's base). */
export function baseRoots(config: RootsConfig, cwd: string = process.cwd()): string[] {
  const lan = config.lan.host_workspace ? [path.resolve(config.lan.host_workspace)] : [];
  const configured = config.safety.allowed_roots.map((r) => path.resolve(r));
  if (configured.length > 0) return [...configured, ...lan];
  return [cwd, path.resolve(tmpdir(), 'colony-worktrees'), ...lan];
}

/**
 * Roots for the tasks of one graph. `graphWorkspace` is the base directory the
 * graph was submitted with; it widens the defaults only for the admin's own
 * graphs and only while no roots are configured.
 */
export function rootsForGraph(config: RootsConfig, graphWorkspace: string | null, submittedBy: string, cwd?: string): string[] {
  const base = baseRoots(config, cwd);
  const widen = config.safety.allowed_roots.length === 0 && submittedBy === 'admin' && graphWorkspace !== null;
  return widen ? [...base, path.resolve(graphWorkspace)] : base;
}

/** Real path of `p`, resolving the longest existing prefix (a workspace may not exist yet at submit time). */
export function realpathLoose(p: string): string {
  let cur = path.resolve(p);
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(realpathSync.native(cur), ...rest.reverse());
    } catch {
      const parent = path.dirname(cur);
      if (parent === cur) return path.resolve(p);
      rest.push(path.basename(cur));
      cur = parent;
    }
  }
}

/** The roots, resolved; "/" and roots that resolve to a filesystem root are dropped (they would allow everything). */
function realRoots(roots: readonly string[]): string[] {
  return roots
    .filter((r) => path.isAbsolute(r))
    .map(realpathLoose)
    .filter((r) => r !== path.parse(r).root);
}

/** Null when `workspace` (symlinks resolved) lies inside one of `roots`, else the refusal. */
export function outsideRoots(workspace: string, roots: readonly string[]): ColonyError | null {
  const real = realpathLoose(workspace);
  const rr = realRoots(roots);
  if (rr.some((r) => isInside(r, real))) return null;
  const via = real === path.resolve(workspace) ? '' : ` (resolves to ${real})`;
  const list = rr.length ? rr.join(', ') : '(none usable)';
  return new ColonyError(
    'E_WORKSPACE_OUTSIDE_ROOTS',
    `workspace ${workspace}${via} is outside the allowed roots ${list}; add it to safety.allowed_roots in the config to allow it`,
    { path: workspace, resolved: real, roots: rr },
  );
}

/**
 * Throws E_WORKSPACE_OUTSIDE_ROOTS for the first host task whose workspace is
 * outside the roots. `redact`: for submitters who must not learn the host's
 * paths (LAN users), the message names neither the path nor the roots.
 */
export function assertWorkspacesInRoots(
  tasks: readonly { workspace: string; target: string }[],
  roots: readonly string[],
  opts: { redact?: boolean } = {},
): void {
  const seen = new Set<string>();
  for (const t of tasks) {
    if (t.target !== 'host' || seen.has(t.workspace)) continue; // remote workers confine workspaces to their own root
    seen.add(t.workspace);
    const err = outsideRoots(t.workspace, roots);
    if (err && opts.redact) {
      throw new ColonyError(
        'E_WORKSPACE_OUTSIDE_ROOTS',
        "this host's workspace for LAN tasks is outside its allowed roots (safety.allowed_roots); ask the admin",
      );
    }
    if (err) throw err;
  }
}
