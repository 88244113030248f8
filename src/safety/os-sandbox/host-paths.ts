/**
 * What the sandbox plan reads from the host's disk: how a path looks, real
 * paths, a git worktree's admin dirs, whether a command exists, an agent's
 * endpoint, and leftovers of dead colony processes to sweep.
 */
import { accessSync, constants, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PathKind } from './linux-bwrap.js';
import type { BindPath } from './types.js';

export const probePath = (p: string): PathKind => {
  try {
    const st = lstatSync(p);
    if (st.isSymbolicLink()) return { kind: 'link', target: readlinkSync(p) };
    return st.isDirectory() ? { kind: 'dir' } : { kind: 'file' };
  } catch {
    return null;
  }
};

/**
 * probePath with a short memory (ttlMs) for paths that belong to the machine,
 * not to a task (system and toolchain directories): every attempt used to
 * lstat the same dozen of them. Other paths are probed fresh every time.
 */
export function stableProbe(ttlMs: number, now: () => number = Date.now): { probe: (p: string) => PathKind; stable: Set<string> } {
  const stable = new Set<string>();
  const memo = new Map<string, { at: number; kind: PathKind }>();
  const probe = (p: string): PathKind => {
    if (!stable.has(p)) return probePath(p);
    const hit = memo.get(p);
    const t = now();
    if (hit && t - hit.at < ttlMs) return hit.kind;
    const kind = probePath(p);
    memo.set(p, { at: t, kind });
    return kind;
  };
  return { probe, stable };
}

export const real = (p: string): string => {
  try {
    return realpathSync.native(p);
  } catch {
    return path.resolve(p);
  }
};

/** Socket dirs left by colony processes that are gone. */
export function sweepRunDirs(): void {
  try {
    for (const n of readdirSync(os.tmpdir())) {
      const m = /^colony-sbx-run-(\d+)-/.exec(n);
      if (!m) continue;
      try {
        process.kill(Number(m[1]), 0);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ESRCH') rmSync(path.join(os.tmpdir(), n), { recursive: true, force: true });
      }
    }
  } catch {
    /* best effort */
  }
}

/** Where an agent CLI's API lives (allowed through the proxy for its task). */
export function agentEndpoint(engine: string, env: Record<string, string>): URL | null {
  if (engine !== 'claude') return null;
  try {
    return new URL(env['ANTHROPIC_BASE_URL'] || 'https://api.anthropic.com');
  } catch {
    return null;
  }
}

/**
 * A git worktree's `.git` is a file pointing into the main repository: its
 * own admin dir is bound writable (index, HEAD) and the main `.git` read-only,
 * so git's read commands work inside; objects and refs are written by colony
 * after the attempt (the pending change), not by the task.
 */
export function worktreeGitBinds(workspace: string): { ro: BindPath[]; rw: BindPath[] } {
  try {
    const m = /^gitdir:\s*(.+)$/m.exec(readFileSync(path.join(workspace, '.git'), 'utf8'));
    if (!m) return { ro: [], rw: [] };
    const admin = path.resolve(workspace, (m[1] as string).trim());
    const common = path.resolve(admin, readFileSync(path.join(admin, 'commondir'), 'utf8').trim());
    return { ro: [{ src: real(common) }], rw: [{ src: real(admin) }] };
  } catch {
    return { ro: [], rw: [] }; // not a worktree (a directory .git is inside the workspace anyway)
  }
}

/** The command must exist on the host (as spawn would find it), or the attempt fails like a spawn with ENOENT, before any sandbox is set up. */
export function assertCommand(command: string, envPath: string): void {
  const candidates = command.includes('/')
    ? [command]
    : envPath
        .split(':')
        .filter((d) => path.isAbsolute(d))
        .map((d) => path.join(d, command));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return;
    } catch {
      /* next */
    }
  }
  throw Object.assign(new Error(`spawn ${command} ENOENT`), { code: 'ENOENT', errno: -2, syscall: 'spawn', path: command });
}

export const isLoopbackHost = (h: string): boolean => h === 'localhost' || h === '[::1]' || /^127\./.test(h);
