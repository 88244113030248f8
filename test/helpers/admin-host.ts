/**
 * Test hosts on temp homes for the admin-app tests: a real host started with
 * startHost on port 0 (pool running, real sockets), or an admin app built on an
 * opened host whose pool is NOT started (task states stay where a test puts
 * them), plus a raw HTTP client that can send any Host / Origin header.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { mkdirSync, realpathSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { parseConfig, type ColonyConfig } from '../../src/core/config.js';
import { resolveHome, type HomePaths } from '../../src/runner/home.js';
import { openHost, type Host } from '../../src/runner/host.js';
import { buildAdminApp } from '../../src/server/admin/app.js';
import type { ServerContext } from '../../src/server/context.js';
import { startHost, type RunningHost } from '../../src/server/host-server.js';
import { closeLiveStreams } from '../../src/server/live.js';
import { makeTempDir } from './proc.js';
import { dbOf } from '../../src/store/internal.js';

export interface TestHome {
  /** The temp dir holding `home/` and `ws/`. */
  dir: string;
  paths: HomePaths;
  /** A workspace for exec tasks, outside the colony home. */
  workspace: string;
  cleanup(): void;
}

export function makeHome(prefix = 'colony-host-'): TestHome {
  const tmp = makeTempDir(prefix);
  const workspace = join(tmp.dir, 'ws');
  mkdirSync(workspace);
  return { dir: tmp.dir, paths: resolveHome(join(tmp.dir, 'home')), workspace, cleanup: tmp.cleanup };
}

/**
 * Defaults plus a short kill grace, and as allowed workspace roots the temp dir
 * and the host's working directory (the default workspace of API and LAN
 * submissions that name none; configured roots are the whole list).
 */
export function testConfig(raw: Record<string, unknown> = {}): ColonyConfig {
  const r = parseConfig({ runner: { kill_grace_ms: 500 }, safety: { allowed_roots: [realpathSync(tmpdir()), process.cwd()] }, ...raw });
  if (!r.ok) throw new Error(`test config: ${r.problems.join('; ')}`);
  return r.config;
}

export async function startTestHost(home: TestHome, o: { lan?: boolean; config?: ColonyConfig; concurrency?: number } = {}): Promise<RunningHost> {
  return startHost({
    paths: home.paths,
    config: o.config ?? testConfig(),
    adminPort: 0,
    userPort: 0,
    lan: o.lan ?? false,
    insecureHttp: true, // these tests speak plain HTTP to the user app; TLS is covered in test/integration/lan-tls.test.ts
    hostIp: o.lan ? '127.0.0.1' : undefined,
    concurrency: o.concurrency ?? 2,
    logger: false,
    webRoot: null,
  });
}

export interface IdleAdmin {
  host: Host;
  ctx: ServerContext;
  app: FastifyInstance;
  token: string;
  port: number;
  close(): Promise<void>;
}

/**
 * The admin app listening on 127.0.0.1:0 over a host whose pool is not
 * started: nothing is dispatched, so a test controls every task state.
 */
export async function startIdleAdmin(home: TestHome, config = testConfig(), webRoot: string | null = null): Promise<IdleAdmin> {
  const host = openHost({ paths: home.paths, config, concurrency: 1 });
  let port = 0;
  const token = 'test-admin-token-0123456789abcdef';
  const ctx: ServerContext = { host, adminToken: token, adminPort: () => port, webRoot, startedAt: Date.now() };
  const app = await buildAdminApp(ctx, { logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
  return {
    host,
    ctx,
    app,
    token,
    port,
    async close() {
      closeLiveStreams(app.server);
      await app.close();
      await host.close();
    },
  };
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP request over a real socket with exactly the headers given (Host included). */
export function rawRequest(port: number, o: { method?: string; path: string; headers?: Record<string, string>; body?: string }): Promise<RawResponse> {
  // An explicit Content-Length: node's client sends a DELETE body without one, which no server can frame.
  const headers = o.body === undefined ? o.headers : { 'content-length': String(Buffer.byteLength(o.body)), ...o.headers };
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, agent: false, method: o.method ?? 'GET', path: o.path, headers, setHost: o.headers?.['host'] === undefined },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

export interface AdminCall {
  status: number;
  json: Record<string, unknown>;
  body: string;
}

/** The admin API as the CLI calls it: bearer token, right Host, no Origin, over a real socket. */
export function adminApi(port: number, token: string): (method: string, path: string, body?: unknown) => Promise<AdminCall> {
  return async (method, path, body) => {
    const headers: Record<string, string> = { host: `127.0.0.1:${port}`, authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await rawRequest(port, { method, path, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(r.body) as Record<string, unknown>;
    } catch {
      /* not JSON */
    }
    return { status: r.status, json, body: r.body };
  };
}

export function portOf(h: RunningHost): number {
  return Number(new URL(h.adminUrl).port);
}

/** Counts rows the way a test needs to prove "nothing was written". */
export function counts(host: Host): { tasks: number; audit: number; graphs: number } {
  const n = (sql: string): number => (dbOf(host.store).prepare(sql).get() as { n: number }).n;
  return { tasks: n('SELECT COUNT(*) AS n FROM tasks'), audit: n('SELECT COUNT(*) AS n FROM audit'), graphs: n('SELECT COUNT(*) AS n FROM graphs') };
}

/** A refusal is JSON `{code, message}` (details optional) and never carries a stack trace. */
export function refusalProblems(status: number, contentType: unknown, body: string, want: { status: number; code: string }): string[] {
  const problems: string[] = [];
  if (status !== want.status) problems.push(`status ${status}, want ${want.status}`);
  if (!String(contentType ?? '').startsWith('application/json')) problems.push(`content-type ${String(contentType)}`);
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return [...problems, `body is not JSON: ${body.slice(0, 200)}`];
  }
  const o = json as Record<string, unknown>;
  if (o['code'] !== want.code) problems.push(`code ${String(o['code'])}, want ${want.code}`);
  if (typeof o['message'] !== 'string' || o['message'].length === 0) problems.push('no message');
  const extra = Object.keys(o).filter((k) => !['code', 'message', 'details'].includes(k));
  if (extra.length) problems.push(`unexpected keys ${extra.join(', ')}`);
  if (/\bstack\b|\n\s+at\s|\.(ts|js):\d+:\d+/.test(body)) problems.push(`looks like a stack trace: ${body.slice(0, 300)}`);
  return problems;
}

/**
 * Parses `app.printRoutes({ commonPrefix: false })` back into sorted
 * "METHOD /full/path" keys (HEAD, which fastify adds for each GET, left out),
 * so a test can enumerate the routes an app really registers.
 */
export function registeredRoutes(tree: string): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^([│├└─\s]*)(\S.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m || !m[2]) continue;
    stack.length = (m[1] ?? '').length / 4;
    stack.push(m[2]);
    const path = ('/' + stack.join('')).replace(/\/+/g, '/');
    for (const method of (m[3] ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean)) {
      if (method !== 'HEAD') out.push(`${method} ${path}`);
    }
  }
  return out.sort();
}
