/** Where colony keeps its state: COLONY_HOME (default ./.colony) and the files in it. */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { ColonyError } from '../core/errors.js';
import { parseConfig, type ColonyConfig } from '../core/config.js';

export interface HomePaths {
  home: string;
  db: string;
  adminToken: string;
  hostLock: string;
  hostInfo: string;
  haltFile: string;
  keysDir: string;
  cookieSecret: string;
}

export function resolveHome(explicit?: string, env: NodeJS.ProcessEnv = process.env): HomePaths {
  const home = resolve(explicit ?? env['COLONY_HOME'] ?? '.colony');
  return {
    home,
    db: join(home, 'colony.db'),
    adminToken: join(home, 'admin.token'),
    hostLock: join(home, 'host-lock.db'), // an SQLite lock (store/host-lock); '.db' keeps the protected-file guard from reading it, which would drop the lock
    hostInfo: join(home, 'host.json'),
    haltFile: join(home, 'HALT'),
    keysDir: join(home, 'keys'),
    cookieSecret: join(home, 'cookie.secret'),
  };
}

export function ensureHome(p: HomePaths): void {
  mkdirSync(p.home, { recursive: true, mode: 0o700 });
}

/** Reads a secret file, creating it (mode 0600) with `make()` on first use. */
export function loadOrCreateSecret(file: string, make: () => string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  writeFileSync(file, make() + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return readFileSync(file, 'utf8').trim();
}

/**
 * Loads colony.config.json from an explicit path, $COLONY_CONFIG, or the cwd;
 * a missing default file means defaults. Every problem is listed at once.
 */
export function loadConfig(explicit?: string, env: NodeJS.ProcessEnv = process.env): { config: ColonyConfig; file: string | null } {
  const file = explicit ?? env['COLONY_CONFIG'] ?? (existsSync('colony.config.json') ? 'colony.config.json' : null);
  let raw: unknown = {};
  if (file) {
    try {
      raw = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    } catch (e) {
      throw new ColonyError('E_CONFIG', `${file}: ${(e as Error).message}`);
    }
  }
  const r = parseConfig(raw);
  if (!r.ok) throw new ColonyError('E_CONFIG', `${file ?? 'config'}: ${r.problems.join('; ')}`, { problems: r.problems });
  return { config: r.config, file: file ? resolve(file) : null };
}
