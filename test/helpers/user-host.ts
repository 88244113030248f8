/**
 * The user (LAN) app over a host whose pool is NOT started (task states stay
 * where a test puts them), driven with app.inject() from any remote address;
 * the admin app on the same host for admin-side calls.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { ColonyConfig } from '../../src/core/config.js';
import { openHost, type Host } from '../../src/runner/host.js';
import { buildAdminApp } from '../../src/server/admin/app.js';
import type { WorkerCard } from '../../src/core/live-types.js';
import type { ServerContext } from '../../src/server/context.js';
import { closeLiveStreams } from '../../src/server/live.js';
import { buildUserApp } from '../../src/server/user/app.js';
import { makeHome, testConfig, type TestHome } from './admin-host.js';

export const ADMIN_TOKEN = 'user-host-admin-token-0123456789';

export interface UserHost {
  home: TestHome;
  host: Host;
  ctx: ServerContext;
  user: FastifyInstance;
  admin: FastifyInstance;
  /** Extra (fake remote) workers shown by /api/workers. */
  workers: WorkerCard[];
  close(): Promise<void>;
  /** Reopens host and apps on the same home (a host restart). */
  restart(o?: { accessCode?: string | null }): Promise<void>;
}

export function lanConfig(lan: Record<string, unknown> = {}): ColonyConfig {
  return testConfig({ lan: { rate_limit_read_per_min: 100_000, rate_limit_submit_per_min: 100_000, ...lan } });
}

export async function startUserHost(o: { config?: ColonyConfig; accessCode?: string | null; home?: TestHome; withWeb?: boolean } = {}): Promise<UserHost> {
  const home = o.home ?? makeHome('colony-user-');
  const webRoot = o.withWeb ? join(home.dir, 'web') : null;
  if (webRoot) {
    mkdirSync(webRoot);
    writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>colony __COLONY_CAPABILITY__ dashboard</title>');
    writeFileSync(join(webRoot, 'app.js'), 'console.log("dashboard")');
  }
  const config = o.config ?? lanConfig();
  const workers: WorkerCard[] = [];
  const open = async (accessCode: string | null | undefined) => {
    const host = openHost({ paths: home.paths, config, concurrency: 1 });
    const ctx: ServerContext = { host, adminToken: ADMIN_TOKEN, adminPort: () => 8080, webRoot, startedAt: Date.now() };
    const user = await buildUserApp(ctx, { logger: false, accessCode, tls: null }); // inject() tests: the transport does not matter;
    const real = ctx.remoteWorkers; // set by the remote-execution module while the user app is built
    ctx.remoteWorkers = () => [...(real?.() ?? []), ...workers];
    const admin = await buildAdminApp(ctx, { logger: false });
    return { host, ctx, user, admin };
  };
  const parts = await open(o.accessCode);
  const uh: UserHost = {
    home,
    ...parts,
    workers,
    async close() {
      closeLiveStreams(uh.user.server); // SSE responses never end by themselves
      await uh.user.close();
      await uh.admin.close();
      await uh.host.close();
    },
    async restart(r = {}) {
      await uh.close();
      Object.assign(uh, await open(r.accessCode === undefined ? o.accessCode : r.accessCode));
    },
  };
  return uh;
}

export interface Lan {
  ip: string;
  cookie: string;
  userId: string;
  call(method: InjectOptions['method'], url: string, body?: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
}

/** A LAN visitor at `ip` with a fresh session (201), sending its cookie on every call. */
export async function visitor(h: UserHost, ip: string, name = `user at ${ip}`, code?: string): Promise<Lan> {
  const r = await h.user.inject({ method: 'POST', url: '/api/session', remoteAddress: ip, payload: { display_name: name, ...(code ? { code } : {}) } });
  expect(r.statusCode, r.body).toBe(201);
  const c = r.cookies.find((k) => k.name === 'colony_session');
  if (!c) throw new Error('no session cookie');
  const cookie = `colony_session=${c.value}`;
  const userId = (r.json() as { session: { user_id: string } }).session.user_id;
  return { ip, cookie, userId, call: (method, url, body, headers = {}) => inject(h, ip, method, url, body, { cookie, ...headers }) };
}

export function inject(
  h: UserHost,
  ip: string,
  method: InjectOptions['method'],
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  return h.user.inject({
    method,
    url,
    remoteAddress: ip,
    headers,
    ...(body === undefined ? {} : typeof body === 'string' ? { payload: body } : { payload: body as object }),
  });
}

/** The admin API as the CLI calls it (bearer token, loopback, right Host). */
export function adminCall(h: UserHost, method: InjectOptions['method'], url: string, body?: unknown): Promise<LightMyRequestResponse> {
  return h.admin.inject({
    method,
    url,
    remoteAddress: '127.0.0.1',
    headers: { host: '127.0.0.1:8080', authorization: `Bearer ${ADMIN_TOKEN}` },
    ...(body === undefined ? {} : { payload: body as object }),
  });
}

export function code(r: LightMyRequestResponse): string | undefined {
  try {
    return (r.json() as { code?: string }).code;
  } catch {
    return undefined;
  }
}
