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
 *
 * With the OS sandbox covering the colony home and/or the config file for an
 * attempt (`covered`, runner/sandbox-plan.ts sandboxCoverage), those are not
 * read at all: only their identity is compared after the attempt.
 *
 * Cost: where it looks comes from guard-scan.ts — a per-workspace index of the
 * protected candidates (a big workspace is not walked on every attempt) plus
 * the protected locations read fresh; only candidates are hashed, and a file
 * is read again only when its identity or change time moved (guard-content.ts).
 */
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, openSync, promises as fs, readSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileContent } from './guard-content.js';
import { CREATION_GUARDED } from './protected.js';
import { LIVE_REASON, LOCK_FILES, lstatOrNull, protectedCandidates, scanLocations, type ScanOptions, type ScanResult } from './guard-scan.js';

export interface GuardOptions extends ScanOptions {
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
  /** Protected locations found by the scan, read again after the attempt for files created there. */
  readonly known: Pick<ScanResult, 'gitDirs' | 'gitFiles' | 'sshDirs'>;
  /** Paths left to the OS sandbox (opts.covered): their identity before the attempt. */
  readonly covered: readonly Identity[];
}

/** Where a covered path is and what it is: the task cannot write it, but could move a parent of its mount. */
interface Identity {
  path: string;
  id: string | null; // dev:ino:type and real path; null: absent
}

function identityOf(p: string): Identity {
  const st = lstatSync(p, { throwIfNoEntry: false });
  if (!st) return { path: p, id: null };
  let where = p;
  try {
    where = realpathSync.native(p);
  } catch {
    /* vanished meanwhile: the id still differs from a present one */
  }
  return { path: p, id: `${st.dev}:${st.ino}:${st.mode & 0o170000}:${where}` };
}

export interface TouchedFile {
  path: string;
  reason: string; // why the file is protected
  change: 'modified' | 'deleted' | 'created' | 'mode';
  restored: boolean;
  error?: string;
}

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/** First 16 bytes are SQLite's magic (a truncated or overwritten store loses them). Only meaningful for `*.db`. Sync: 16 bytes of a local file. */
function sqliteHeaderOk(p: string): boolean {
  if (!p.endsWith('.db')) return true;
  let fd: number;
  try {
    fd = openSync(p, 'r');
  } catch {
    return false;
  }
  try {
    const buf = Buffer.alloc(16);
    return readSync(fd, buf, 0, 16, 0) === 16 && buf.equals(SQLITE_MAGIC);
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

/** Real path of a directory, once per snapshot (most protected files share a few parents). */
type RealDirs = Map<string, Promise<string>>;

async function readEntry(p: string, reason: string, maxBytes: number, dirs: RealDirs | null): Promise<Entry | null> {
  if (LOCK_FILES.test(path.basename(p))) return null; // opening it would release the host's lock
  const st = await lstatOrNull(p);
  if (!st || (!st.isFile() && !st.isSymbolicLink())) return null;
  const dir = path.dirname(p);
  let parent = dirs?.get(dir);
  if (dirs && !parent) {
    parent = fs.realpath(dir).catch(() => dir);
    dirs.set(dir, parent);
  }
  const parentReal = parent ? await parent : dir; // only the snapshot's value is used (restore compares with it)
  if (reason === LIVE_REASON) {
    // Identity, not content: the host commits to it during the task. A header that was valid must stay valid.
    const header = st.isFile() && sqliteHeaderOk(p);
    const hash = `live:${st.dev}:${st.ino}:${st.isFile() ? 'file' : 'link'}:${header ? 'sqlite' : 'raw'}`;
    return { path: p, reason, kind: 'live', mode: st.mode & 0o7777, hash, data: null, linkTarget: null, parentReal };
  }
  if (st.isSymbolicLink()) {
    const target = await fs.readlink(p);
    const hash = createHash('sha256').update(`link:${target}`).digest('hex');
    return { path: p, reason, kind: 'symlink', mode: 0, hash, data: null, linkTarget: target, parentReal };
  }
  const { hash, data } = await fileContent(p, st, maxBytes); // read again only when it changed (guard-content.ts)
  return { path: p, reason, kind: 'file', mode: st.mode & 0o7777, hash, data, linkTarget: null, parentReal };
}

export async function snapshotProtected(workspace: string, opts: GuardOptions = {}): Promise<ProtectedSnapshot> {
  const ws = path.resolve(workspace);
  const maxBytes = opts.maxFileBytes ?? 16 * 1024 * 1024;
  const entries = new Map<string, Entry>();
  const scan = await protectedCandidates(ws, opts);
  const dirs: RealDirs = new Map();
  for (const [p, reason] of scan.found) {
    const e = await readEntry(p, reason, maxBytes, dirs);
    if (e) entries.set(p, e);
  }
  const covered = (opts.covered ?? []).map((p) => identityOf(path.resolve(p)));
  return { workspace: ws, opts, entries, known: { gitDirs: scan.gitDirs, gitFiles: scan.gitFiles, sshDirs: scan.sshDirs }, covered };
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
export async function verifyProtected(snapshot: ProtectedSnapshot, opts: { restore?: boolean } = {}): Promise<{ ok: boolean; touched: TouchedFile[] }> {
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

  for (const before of snapshot.covered) {
    if (identityOf(before.path).id === before.id) continue;
    const reason = 'covered by the OS sandbox (moved or replaced; cannot be restored by the guard)';
    touched.push({ path: before.path, reason, change: 'modified', restored: false });
  }
  const now = await scanLocations(snapshot.workspace, snapshot.opts, snapshot.known); // locations only: no walk
  for (const [p, before] of snapshot.entries) {
    const after = await readEntry(p, before.reason, maxBytes, null).catch(() => null);
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
