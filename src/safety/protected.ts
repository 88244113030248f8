/**
 * Which paths agents must not touch: secrets (.env files, keys, SSH
 * material), git's config and hooks (a hook written by an agent runs on the
 * user's next commit), the colony home (database, keys, admin token), store
 * files (`*.db`, `*.db-wal`, `*.db-shm`, `*.db-journal`) and the config file
 * (it can switch safety checks off), plus configured globs.
 *
 * Existing protected files must not be modified or deleted. Creating a new
 * file with a protected name in the workspace (a dev TLS key, a local .env,
 * a test database) is normal work; creating files in a protected *location*
 * (git hooks and config, the colony home, an .ssh directory, the config
 * file) is not — see CREATION_GUARDED.
 *
 * Templates meant to be committed (`.env.example`, `.env.sample`,
 * `.env.template`, `.env.dist`) are not protected: agents are expected to
 * create and edit them.
 *
 * Globs: `*` (not `/`), `**` (any depth), `?`, `{a,b}`. A glob without `/`
 * matches a base name anywhere (like .gitignore); a glob with `/` matches the
 * path relative to the workspace root; a glob starting with `/` matches the
 * absolute path.
 */
import path from 'node:path';

export interface ProtectedOptions {
  home?: string | null; // colony data dir (COLONY_HOME)
  configFile?: string | null;
  globs?: readonly string[];
  root?: string | null; // workspace root, for relative globs
}

const ENV_TEMPLATE = /^\.env(?:\..*)?\.(?:example|sample|template|dist)$/i;
const ENV_FILE = /^\.env(?:\..+)?$/i;
const KEY_FILE = /\.(?:pem|key|p12|pfx|jks|keystore)$/i;
const SSH_KEY = /^id_(?:rsa|dsa|ecdsa|ed25519)(?:_sk)?(?:\.pub)?$/;
const CREDENTIAL_FILES = new Set(['.netrc', '.pgpass', '.pypirc', 'authorized_keys']);
// SQLite stores: colony's own (a second home, a copied colony.db) and any other database a task could truncate.
const STORE_FILE = /\.db(?:-wal|-shm|-journal)?$/i;

const globCache = new Map<string, RegExp>();

export function globToRegExp(glob: string): RegExp {
  const cached = globCache.get(glob);
  if (cached) return cached;
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? '';
    if (c === '*' && glob[i + 1] === '*') {
      i++;
      if (glob[i + 1] === '/') {
        i++;
        out += '(?:.*/)?';
      } else out += '.*';
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '{' && glob.indexOf('}', i) > i) {
      const close = glob.indexOf('}', i);
      out += `(?:${glob
        .slice(i + 1, close)
        .split(',')
        .map(escapeRe)
        .join('|')})`;
      i = close;
    } else out += escapeRe(c);
  }
  const re = new RegExp(`^${out}$`);
  globCache.set(glob, re);
  return re;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

export function matchesGlob(absPath: string, glob: string, root?: string | null): boolean {
  const posix = (p: string): string => p.split(path.sep).join('/');
  if (glob.startsWith('/')) return globToRegExp(glob).test(posix(absPath));
  if (!glob.includes('/')) return globToRegExp(glob).test(path.basename(absPath));
  if (!root) return false;
  const rel = path.relative(root, absPath);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return false;
  return globToRegExp(glob.replace(/^\.\//, '')).test(posix(rel));
}

export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/** Why a path is protected, or null. `p` is resolved to an absolute path (no symlink resolution). */
export function protectedReason(p: string, opts: ProtectedOptions = {}): string | null {
  const abs = path.resolve(p);
  if (opts.home && isInside(path.resolve(opts.home), abs)) return 'inside the colony home directory';
  if (opts.configFile && path.resolve(opts.configFile) === abs) return 'the colony config file';
  const base = path.basename(abs);
  const parts = abs.split(path.sep);
  const gitAt = parts.lastIndexOf('.git');
  if (gitAt >= 0) {
    const next = parts[gitAt + 1];
    if (next === 'config' && parts.length === gitAt + 2) return 'git config';
    if (next === 'hooks') return 'git hooks';
  }
  if (parts.includes('.ssh')) return 'SSH directory';
  if (ENV_FILE.test(base) && !ENV_TEMPLATE.test(base)) return 'environment file (.env)';
  if (SSH_KEY.test(base)) return 'SSH key';
  if (KEY_FILE.test(base)) return 'key or certificate file';
  if (CREDENTIAL_FILES.has(base)) return 'credentials file';
  if (STORE_FILE.test(base)) return 'database store file';
  for (const g of opts.globs ?? []) {
    if (matchesGlob(abs, g, opts.root)) return `matches protected glob ${g}`;
  }
  return null;
}

/** Reasons that name a location where even a new file is tampering (a new git hook runs on the next commit). */
export const CREATION_GUARDED: ReadonlySet<string> = new Set([
  'inside the colony home directory',
  'the colony config file',
  'git config',
  'git hooks',
  'SSH directory',
  'guarded by configuration',
]);

export function isProtectedPath(p: string, opts: ProtectedOptions = {}): boolean {
  return protectedReason(p, opts) !== null;
}
