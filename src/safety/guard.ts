/**
 * Filesystem guard for protected files (DESIGN §11: the old protected-file
 * list guarded one write path while agents wrote through their own tools).
 * Whatever wrote the file — the Claude CLI's edit tool, a shell command, a
 * build script — the guard compares the filesystem before and after:
 *
 *   const snap = await snapshotProtected(workspace, opts);   // before the task
 *   ...run the task; wait until its process group has exited...
 *   const { ok, touched } = await verifyProtected(snap);     // after
 *
 * It hashes and keeps a copy of every protected file (see protected.ts) in
 * the workspace, the git config and hooks of the repository the workspace
 * belongs to (also when the workspace is a worktree whose `.git` is a file),
 * the colony home and the config file. verify reports files modified,
 * deleted or re-moded, and files newly created in protected locations (git
 * hooks and config, the colony home, .ssh, the config file), restores them
 * from the copy (created ones are removed), and the runner fails the task
 * naming `touched`. A new file that merely has a protected name (a dev TLS
 * key, a local .env) is normal work and left alone.
 *
 * The live store in the colony home (`*.db`, `-wal`, `-shm`), which the host
 * writes while a task runs, is guarded by identity instead of content: same
 * inode, and a SQLite header that stays intact (a truncated or replaced store
 * is reported; it cannot be restored from a copy). Not guarded: files inside
 * `skipDirs` (default node_modules) and the HALT file.
 */
import { createHash } from 'node:crypto';
import { promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { ColonyError } from '../core/errors.js';
import { CREATION_GUARDED, protectedReason, type ProtectedOptions } from './protected.js';

export interface GuardOptions extends Omit<ProtectedOptions, 'root'> {
  extraFiles?: readonly string[]; // absolute paths guarded wherever they are
  skipDirs?: readonly string[]; // directory names not walked (default: node_modules)
  maxEntries?: number; // walk limit; exceeding it throws rather than guarding part of the tree
  maxFileBytes?: number; // larger protected files are hashed but cannot be restored
}

interface Entry {
  path: string;
  reason: string;
  kind: 'file' | 'symlink' | 'live';
  mode: number;
  hash: string;
  data: Buffer | null;
  linkTarget: string | null;
  parentReal: string;
}

export interface ProtectedSnapshot {
  readonly workspace: string;
  readonly opts: GuardOptions;
  readonly entries: ReadonlyMap<string, Entry>;
}

export interface TouchedFile {
  path: string;
  reason: string; // why the file is protected
  change: 'modified' | 'deleted' | 'created' | 'mode';
  restored: boolean;
  error?: string;
}

// The host itself writes these while a task runs: the store files are checked by identity
// (same inode, SQLite header intact) instead of content; HALT is the kill switch's own file.
const LIVE_STORE = /\.db(?:-wal|-shm|-journal)?$/;
const HOST_WRITES = /^HALT$/;
const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

const LIVE_REASON = 'the colony store (live database)';

async function lstatOrNull(p: string): Promise<Stats | null> {
  return fs.lstat(p).catch(() => null);
}

/** Every guarded path that exists now, with the reason it is guarded. */
async function scan(workspace: string, opts: GuardOptions): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const popts: ProtectedOptions = { home: opts.home, configFile: opts.configFile, globs: opts.globs, root: workspace };
  const skip = new Set(opts.skipDirs ?? ['node_modules']);
  const max = opts.maxEntries ?? 1_000_000;
  const home = opts.home ? path.resolve(opts.home) : null;
  let seen = 0;

  const walk = async (dir: string, inHome: boolean): Promise<void> => {
    const stack = [dir];
    while (stack.length) {
      const d = stack.pop() as string;
      const items = await fs.readdir(d, { withFileTypes: true }).catch(() => []);
      for (const it of items) {
        if (++seen > max) {
          throw new ColonyError('E_SAFETY_DENIED', `workspace ${workspace} has more than ${max} entries; cannot guard protected files (raise safety limits or narrow the workspace)`);
        }
        const p = path.join(d, it.name);
        if (it.isDirectory()) {
          if (!inHome && home && p === home) continue; // walked separately, with volatile files excluded
          if (it.name === '.git') await addGitDir(p, found);
          else if (!skip.has(it.name)) stack.push(p);
          continue;
        }
        if (it.name === '.git' && it.isFile()) {
          await addWorktreeGit(p, found);
          continue;
        }
        if (inHome) {
          if (LIVE_STORE.test(it.name)) found.set(p, LIVE_REASON);
          else if (!HOST_WRITES.test(it.name)) found.set(p, 'inside the colony home directory');
          continue;
        }
        const reason = protectedReason(p, popts);
        if (reason) found.set(p, reason);
      }
    }
  };

  await walk(workspace, false);
  if (home && (await lstatOrNull(home))?.isDirectory()) await walk(home, true);
  if (opts.configFile) found.set(path.resolve(opts.configFile), 'the colony config file');
  for (const f of opts.extraFiles ?? []) found.set(path.resolve(f), 'guarded by configuration');
  return found;
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

/** First 16 bytes are SQLite's magic (a truncated or overwritten store loses them). Only meaningful for `*.db`. */
async function sqliteHeaderOk(p: string): Promise<boolean> {
  if (!p.endsWith('.db')) return true;
  const fh = await fs.open(p, 'r').catch(() => null);
  if (!fh) return false;
  try {
    const buf = Buffer.alloc(16);
    const { bytesRead } = await fh.read(buf, 0, 16, 0);
    return bytesRead === 16 && buf.equals(SQLITE_MAGIC);
  } finally {
    await fh.close();
  }
}

async function readEntry(p: string, reason: string, maxBytes: number): Promise<Entry | null> {
  const st = await lstatOrNull(p);
  if (!st || (!st.isFile() && !st.isSymbolicLink())) return null;
  const parentReal = await fs.realpath(path.dirname(p)).catch(() => path.dirname(p));
  if (reason === LIVE_REASON) {
    // Identity, not content: the host commits to it during the task. A header that was valid must stay valid.
    const header = st.isFile() && (await sqliteHeaderOk(p));
    const hash = `live:${st.dev}:${st.ino}:${st.isFile() ? 'file' : 'link'}:${header ? 'sqlite' : 'raw'}`;
    return { path: p, reason, kind: 'live', mode: st.mode & 0o7777, hash, data: null, linkTarget: null, parentReal };
  }
  if (st.isSymbolicLink()) {
    const target = await fs.readlink(p);
    const hash = createHash('sha256').update(`link:${target}`).digest('hex');
    return { path: p, reason, kind: 'symlink', mode: 0, hash, data: null, linkTarget: target, parentReal };
  }
  const data = await fs.readFile(p);
  const hash = createHash('sha256').update(data).digest('hex');
  return { path: p, reason, kind: 'file', mode: st.mode & 0o7777, hash, data: data.length <= maxBytes ? data : null, linkTarget: null, parentReal };
}

export async function snapshotProtected(workspace: string, opts: GuardOptions = {}): Promise<ProtectedSnapshot> {
  const ws = path.resolve(workspace);
  const maxBytes = opts.maxFileBytes ?? 16 * 1024 * 1024;
  const entries = new Map<string, Entry>();
  for (const [p, reason] of await scan(ws, opts)) {
    const e = await readEntry(p, reason, maxBytes);
    if (e) entries.set(p, e);
  }
  return { workspace: ws, opts, entries };
}

async function restore(e: Entry): Promise<void> {
  // Never write through a parent that now resolves elsewhere (e.g. `.git` swapped for a symlink to /etc).
  const parentNow = await fs.realpath(path.dirname(e.path)).catch(() => null);
  if (parentNow !== null && parentNow !== e.parentReal) {
    throw new Error(`parent directory now resolves to ${parentNow}; not restoring through it`);
  }
  if (parentNow === null) await fs.mkdir(path.dirname(e.path), { recursive: true });
  const st = await lstatOrNull(e.path);
  if (st?.isDirectory()) await fs.rm(e.path, { recursive: true, force: true });
  else if (st) await fs.unlink(e.path);
  if (e.kind === 'live') throw new Error('the live store cannot be restored by the guard; restore it from a backup (the audit chain reports what was lost)');
  if (e.kind === 'symlink' && e.linkTarget !== null) {
    await fs.symlink(e.linkTarget, e.path);
    return;
  }
  if (e.data === null) throw new Error('file was too large to keep a copy; restore it by hand');
  await fs.writeFile(e.path, e.data, { mode: e.mode, flag: 'wx' });
  await fs.chmod(e.path, e.mode);
}

/**
 * Compares the filesystem with the snapshot. Call after the task's processes
 * have exited. With `restore` (default) every touched file is put back.
 */
export async function verifyProtected(
  snapshot: ProtectedSnapshot,
  opts: { restore?: boolean } = {},
): Promise<{ ok: boolean; touched: TouchedFile[] }> {
  const doRestore = opts.restore ?? true;
  const maxBytes = snapshot.opts.maxFileBytes ?? 16 * 1024 * 1024;
  const touched: TouchedFile[] = [];
  const attempt = async (t: Omit<TouchedFile, 'restored'>, fix: () => Promise<void>): Promise<void> => {
    if (!doRestore) {
      touched.push({ ...t, restored: false });
      return;
    }
    try {
      await fix();
      touched.push({ ...t, restored: true });
    } catch (e) {
      touched.push({ ...t, restored: false, error: e instanceof Error ? e.message : String(e) });
    }
  };

  const now = await scan(snapshot.workspace, snapshot.opts);
  for (const [p, before] of snapshot.entries) {
    const after = await readEntry(p, before.reason, maxBytes).catch(() => null);
    if (!after) await attempt({ path: p, reason: before.reason, change: 'deleted' }, () => restore(before));
    else if (before.kind === 'live' && before.hash.endsWith(':raw') && after.hash.replace(/:sqlite$/, ':raw') === before.hash) {
      // a store file that was not yet a database (empty, being created) may become one
    } else if (after.kind !== before.kind || after.hash !== before.hash) {
      await attempt({ path: p, reason: before.reason, change: 'modified' }, () => restore(before));
    } else if (after.mode !== before.mode) {
      await attempt({ path: p, reason: before.reason, change: 'mode' }, () => fs.chmod(p, before.mode));
    }
  }
  for (const [p, reason] of now) {
    if (snapshot.entries.has(p)) continue;
    // New files with protected names in the workspace are normal work (a dev TLS key, a local .env);
    // new files in protected locations (git hooks, the colony home, .ssh) are not.
    if (!CREATION_GUARDED.has(reason)) continue;
    const st = await lstatOrNull(p);
    if (!st || st.isDirectory()) continue;
    await attempt({ path: p, reason, change: 'created' }, () => fs.unlink(p));
  }
  return { ok: touched.length === 0, touched };
}
