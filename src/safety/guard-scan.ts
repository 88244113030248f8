/**
 * Where the protected-file guard looks (guard.ts), at a cost that does not
 * grow with the workspace on every attempt:
 *
 * - `fullScan` walks the workspace once and lists the protected candidates
 *   (names only: nothing is hashed here), plus the git directories, worktree
 *   `.git` files and `.ssh` directories it met;
 * - `scanLocations` lists what is in the protected *locations* right now (git
 *   config and hooks, the colony home, `.ssh` directories, the config file):
 *   a handful of small directories, read before and after every attempt,
 *   because a file created there is tampering;
 * - `protectedCandidates` keeps the full scan per workspace. A small
 *   workspace (scan under SYNC_RESCAN_MS) is rescanned before every attempt,
 *   exactly as before; a big one uses the index and refreshes it in the
 *   background at most once per REFRESH_SCANS scan-durations (≤ 1% of the
 *   time: at 5% a 200,000-file workspace still added ~14% to the CPU of a run
 *   of trivial tasks, whose own CPU is a third of a core), so it costs the
 *   attempt what an empty one does.
 *
 * What the index can miss: a protected file created after the last scan (by
 * a task — creating files is normal work — or by the user) is guarded from the
 * next refresh on. Existing files and protected locations are always checked.
 */
import { lstatSync, promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { ColonyError } from '../core/errors.js';
import { protectedReason, type ProtectedOptions } from './protected.js';

export interface ScanOptions extends Omit<ProtectedOptions, 'root'> {
  extraFiles?: readonly string[];
  skipDirs?: readonly string[];
  maxEntries?: number;
  /** false: rescan the whole workspace every time (no index). */
  index?: boolean;
  /** A workspace whose full scan is faster than this is rescanned before every attempt (default SYNC_RESCAN_MS). */
  rescanBelowMs?: number;
  /**
   * The protected files of the workspace, already known without a walk (a fresh git worktree: the
   * protected paths tracked at its commit, see runner/task-workspace.ts). Locations are still read.
   */
  candidates?: ReadonlyMap<string, string>;
  /**
   * The colony home and/or config file when the attempt's OS sandbox makes them unwritable for the task
   * (runner/sandbox-plan.ts sandboxCoverage): not listed here; guard.ts checks only their identity.
   */
  covered?: readonly string[];
}

/** How often the guard read the colony home (tests count it: with the sandbox covering the home, an attempt reads none). */
export const guardWork = { homeReads: 0 };

// The host itself writes these while a task runs: the store files are checked by identity
// (same inode, SQLite header intact) instead of content; HALT is the kill switch's own file.
const LIVE_STORE = /\.db(?:-wal|-shm|-journal)?$/;
// The host appends signed audit checkpoints during tasks; their tampering shows in `colony audit verify`.
const HOST_WRITES = /^(?:HALT|audit-checkpoints\.jsonl)$/;
// The host's (or worker's) lock: SQLite's lock is released when this process closes ANY descriptor of
// the file, so the guard must never open it (store/host-lock.ts); the sandbox hides it from tasks.
export const LOCK_FILES = /^(?:host-lock\.db|worker\.lock)(?:-journal|\.pid)?$/;
export const LIVE_REASON = 'the colony store (live database)';
// A superset of the names protectedReason can protect without a glob (dot files, SSH keys, key and store files, credentials).
const MAYBE_PROTECTED = /^\.|^id_|\.(?:pem|key|p12|pfx|jks|keystore|db|db-wal|db-shm|db-journal)$|^authorized_keys$/i;

export interface ScanResult {
  found: Map<string, string>; // path → why it is protected
  gitDirs: string[];
  gitFiles: string[];
  sshDirs: string[];
}

/**
 * lstat, or null when the path is missing or unreadable. Synchronous underneath: a local lstat
 * takes microseconds, and the promise version's thread-pool round trip cost more than the call
 * (the guard lstats a few dozen paths per attempt: ~25 % of its CPU; issue 24).
 */
export async function lstatOrNull(p: string): Promise<Stats | null> {
  try {
    return lstatSync(p, { throwIfNoEntry: false }) ?? null;
  } catch {
    return null;
  }
}

/** `.git` directory: its config and every hook. */
async function addGitDir(gitDir: string, found: Map<string, string>): Promise<void> {
  found.set(path.join(gitDir, 'config'), 'git config');
  const hooks = path.join(gitDir, 'hooks');
  for (const h of await fs.readdir(hooks, { withFileTypes: true }).catch(() => [])) {
    if (!h.isDirectory()) found.set(path.join(hooks, h.name), 'git hooks');
  }
}

/** `.git` file of a worktree or submodule: follow `gitdir:` and `commondir` to the real config and hooks. */
async function addWorktreeGit(gitFile: string, found: Map<string, string>): Promise<void> {
  const text = await fs.readFile(gitFile, 'utf8').catch(() => '');
  const m = /^gitdir:\s*(.+)$/m.exec(text);
  if (!m?.[1]) return;
  const gitDir = path.resolve(path.dirname(gitFile), m[1].trim());
  const common = (await fs.readFile(path.join(gitDir, 'commondir'), 'utf8').catch(() => '')).trim();
  const commonDir = common ? path.resolve(gitDir, common) : gitDir;
  found.set(path.join(gitDir, 'config.worktree'), 'git config');
  await addGitDir(commonDir, found);
}

/**
 * The per-task agent-state folders (runner/agent-state.ts): each is written by its own task's agent CLI
 * (and only visible to that task's sandbox), so they are not guarded with the rest of the home.
 */
export const AGENT_STATE_DIR = 'agent-state';

/** The colony home: everything in it (the live store by identity, see guard.ts), except HALT and the agent-state folders. */
async function addHome(home: string, found: Map<string, string>): Promise<void> {
  guardWork.homeReads++;
  const stack = [home];
  while (stack.length) {
    const d = stack.pop() as string;
    for (const it of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, it.name);
      if (it.isDirectory() && d === home && it.name === AGENT_STATE_DIR) continue;
      if (it.isDirectory()) stack.push(p);
      else if (LOCK_FILES.test(it.name)) continue;
      else if (LIVE_STORE.test(it.name)) found.set(p, LIVE_REASON);
      else if (!HOST_WRITES.test(it.name)) found.set(p, 'inside the colony home directory');
    }
  }
}

async function addFixed(opts: ScanOptions, found: Map<string, string>): Promise<void> {
  const covered = new Set((opts.covered ?? []).map((p) => path.resolve(p)));
  const home = opts.home ? path.resolve(opts.home) : null;
  if (home && !covered.has(home) && (await lstatOrNull(home))?.isDirectory()) await addHome(home, found);
  if (opts.configFile && !covered.has(path.resolve(opts.configFile))) found.set(path.resolve(opts.configFile), 'the colony config file');
  for (const f of opts.extraFiles ?? []) found.set(path.resolve(f), 'guarded by configuration');
}

/** Every guarded path that exists now, with the reason it is guarded (walks the whole workspace). */
export async function fullScan(workspace: string, opts: ScanOptions): Promise<ScanResult> {
  const out: ScanResult = { found: new Map(), gitDirs: [], gitFiles: [], sshDirs: [] };
  const popts: ProtectedOptions = { home: opts.home, configFile: opts.configFile, globs: opts.globs, root: workspace };
  const skip = new Set(opts.skipDirs ?? ['node_modules']);
  const max = opts.maxEntries ?? 1_000_000;
  const home = opts.home ? path.resolve(opts.home) : null;
  let seen = 0;
  const hasGlobs = (opts.globs ?? []).length > 0;
  const stack: [string, boolean][] = [[workspace, false]]; // directory, inside an .ssh directory
  while (stack.length) {
    const [d, underSsh] = stack.pop() as [string, boolean];
    const items = await fs.readdir(d, { withFileTypes: true }).catch(() => []);
    for (const it of items) {
      if (++seen > max) {
        throw new ColonyError(
          'E_SAFETY_DENIED',
          `workspace ${workspace} has more than ${max} entries; cannot guard protected files (raise safety limits or narrow the workspace)`,
        );
      }
      const p = path.join(d, it.name);
      if (it.isDirectory()) {
        if (home && p === home) continue; // listed by addFixed, with the live store handled apart
        if (it.name === '.git') {
          out.gitDirs.push(p);
          await addGitDir(p, out.found);
        } else if (!skip.has(it.name)) {
          if (it.name === '.ssh') out.sshDirs.push(p);
          stack.push([p, underSsh || it.name === '.ssh']);
        }
        continue;
      }
      if (it.name === '.git' && it.isFile()) {
        out.gitFiles.push(p);
        await addWorktreeGit(p, out.found);
        continue;
      }
      // Most names cannot be protected: skip protectedReason (path work) unless the name could be.
      if (!hasGlobs && !underSsh && !MAYBE_PROTECTED.test(it.name)) continue;
      const reason = protectedReason(p, popts);
      if (reason) out.found.set(p, reason);
    }
  }
  await addFixed(opts, out.found);
  return out;
}

/** What is in the protected locations now: git config and hooks, `.ssh` directories, the colony home, the config file. */
export async function scanLocations(
  workspace: string,
  opts: ScanOptions,
  known: Pick<ScanResult, 'gitDirs' | 'gitFiles' | 'sshDirs'>,
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const rootGit = path.join(workspace, '.git');
  const st = await lstatOrNull(rootGit);
  const gitDirs = new Set(known.gitDirs);
  const gitFiles = new Set(known.gitFiles);
  if (st?.isDirectory()) gitDirs.add(rootGit);
  else if (st?.isFile()) gitFiles.add(rootGit);
  for (const g of gitDirs) await addGitDir(g, found);
  for (const g of gitFiles) await addWorktreeGit(g, found);
  const sshDirs = new Set([...known.sshDirs, path.join(workspace, '.ssh')]);
  for (const d of sshDirs) {
    for (const it of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (!it.isDirectory()) found.set(path.join(d, it.name), 'SSH directory');
    }
  }
  await addFixed(opts, found);
  return found;
}

// ---- the per-workspace index ----

/** A workspace whose full scan takes less than this is rescanned before every attempt. */
export const SYNC_RESCAN_MS = 25;
const REFRESH_SCANS = 100;

interface IndexEntry {
  scan: ScanResult;
  scannedAt: number;
  scanMs: number;
  refreshing: Promise<void> | null;
}

const indexes = new Map<string, IndexEntry>();
const building = new Map<string, Promise<IndexEntry>>();
const MAX_INDEXES = 256;

function keyOf(workspace: string, opts: ScanOptions): string {
  return JSON.stringify([
    workspace,
    opts.home ?? null,
    opts.configFile ?? null,
    opts.globs ?? [],
    opts.extraFiles ?? [],
    opts.skipDirs ?? null,
    opts.maxEntries ?? null,
    opts.covered ?? [],
  ]);
}

async function timedScan(workspace: string, opts: ScanOptions): Promise<IndexEntry> {
  const t0 = performance.now();
  const scan = await fullScan(workspace, opts);
  return { scan, scannedAt: Date.now(), scanMs: performance.now() - t0, refreshing: null };
}

/**
 * The protected candidates of a workspace (see the file comment): a fresh full
 * scan for small workspaces or without an index, the index (refreshed in the
 * background) for big ones. Locations are always read fresh.
 */
export async function protectedCandidates(workspace: string, opts: ScanOptions): Promise<ScanResult> {
  if (opts.candidates) {
    const known = { gitDirs: [], gitFiles: [], sshDirs: [] };
    const found = new Map(opts.candidates);
    for (const [p, r] of await scanLocations(workspace, opts, known)) found.set(p, r);
    return { ...known, found };
  }
  if (opts.index === false) return fullScan(workspace, opts);
  const key = keyOf(workspace, opts);
  const first = building.get(key);
  if (first) await first.catch(() => undefined); // concurrent first attempts share one walk
  let entry = indexes.get(key);
  if (!entry || entry.scanMs < (opts.rescanBelowMs ?? SYNC_RESCAN_MS)) {
    const scanning = timedScan(workspace, opts);
    if (!entry) building.set(key, scanning);
    try {
      entry = await scanning;
    } finally {
      if (building.get(key) === scanning) building.delete(key);
    }
    if (indexes.size >= MAX_INDEXES && !indexes.has(key)) indexes.delete(indexes.keys().next().value as string);
    indexes.set(key, entry);
    return entry.scan;
  }
  const stale = Date.now() - entry.scannedAt > Math.max(1000, REFRESH_SCANS * entry.scanMs);
  if (stale && !entry.refreshing) {
    const current = entry;
    current.refreshing = timedScan(workspace, opts)
      .then((fresh) => void indexes.set(key, fresh))
      .catch(() => {
        current.refreshing = null; // keep the old index; try again later
        current.scannedAt = Date.now();
      });
  }
  const found = new Map(entry.scan.found);
  for (const [p, r] of await scanLocations(workspace, opts, entry.scan)) found.set(p, r);
  return { ...entry.scan, found };
}

/** Forgets every index (tests; a workspace known to have changed wholesale). */
export function clearProtectedIndex(): void {
  indexes.clear();
}
