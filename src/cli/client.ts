/**
 * The CLI's client for a running host's admin API: it reads the port from
 * COLONY_HOME/host.json and the token from COLONY_HOME/admin.token. No host
 * → E_NO_HOST (exit 3) with one line saying how to start one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { ColonyError, ERROR_CODES, type ErrorCode } from '../core/errors.js';
import { resolveHome, type HomePaths } from '../runner/home.js';
import { lockHolder } from '../store/host-lock.js';

export interface AdminClient {
  paths: HomePaths;
  base: string;
  token: string;
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
}

export function connectAdmin(home?: string): AdminClient {
  const paths = resolveHome(home);
  const noHost = new ColonyError('E_NO_HOST', `no colony host is running for ${paths.home}; start one with \`colony serve\` (or \`npm start\`)`);
  if (!existsSync(paths.hostInfo) || !existsSync(paths.adminToken) || lockHolder(paths.hostLock) === null) throw noHost;
  const info = JSON.parse(readFileSync(paths.hostInfo, 'utf8')) as { admin_port: number };
  const token = readFileSync(paths.adminToken, 'utf8').trim();
  const base = `http://127.0.0.1:${info.admin_port}`;
  return {
    paths,
    base,
    token,
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      let res: Response;
      try {
        res = await fetch(base + path, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch {
        throw noHost;
      }
      const text = await res.text();
      let json: unknown = null;
      try {
        json = text ? (JSON.parse(text) as unknown) : null;
      } catch {
        /* not JSON */
      }
      if (!res.ok) {
        const err = json as { code?: string; message?: string } | null;
        const code = (err?.code && err.code in ERROR_CODES ? err.code : 'E_INTERNAL') as ErrorCode;
        throw new ColonyError(code, err?.message ?? `HTTP ${res.status}`);
      }
      return json as T;
    },
  };
}
