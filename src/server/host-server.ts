/**
 * `colony serve`: one process, two Fastify instances. The admin app always
 * binds 127.0.0.1; the user app binds 0.0.0.0 (or --host-ip) only with --lan.
 * Shutdown: stop accepting, let running tasks finish for a grace period, then
 * cancel them, close the DB.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { ColonyConfig } from '../core/config.js';
import { loadOrCreateSecret, type HomePaths } from '../runner/home.js';
import { openHost, type Host } from '../runner/host.js';
import { buildAdminApp } from './admin/app.js';
import { buildUserApp } from './user/app.js';
import { generateAccessCode } from './user/deps.js';
import type { ServerContext } from './context.js';
import { ChangeService } from '../runner/change-service.js';
import { closeLiveStreams } from './live.js';
import { startMaintenance } from './maintenance.js';
import { writeCheckpoint } from './audit-anchor.js';
import { loadOrCreateHostKey } from '../remote/signing.js';
import { loadOrCreateHostCert } from '../remote/tls.js';

export interface ServeOptions {
  paths: HomePaths;
  config: ColonyConfig;
  configFile?: string | null;
  adminPort: number;
  userPort: number;
  lan: boolean;
  /** With lan: serve the user app over plain HTTP instead of TLS (an explicit, warned-about choice). */
  insecureHttp?: boolean;
  hostIp?: string;
  concurrency?: number;
  logger?: boolean | object;
  env?: NodeJS.ProcessEnv;
  webRoot?: string | null;
  /** LAN access code: a code, 'auto' (generate one), null (none); undefined: config lan.access_code. */
  lanCode?: string | null;
}

export interface RunningHost {
  host: Host;
  ctx: ServerContext;
  admin: FastifyInstance;
  user: FastifyInstance | null;
  adminUrl: string;
  adminTokenUrl: string;
  userUrl: string | null;
  /** The LAN access code in force (print it), or null. */
  lanCode: string | null;
  /** SHA-256 fingerprint of the user app's TLS certificate; null without --lan or with --insecure-http. */
  tlsFingerprint: string | null;
  close(graceMs?: number): Promise<void>;
}

export function defaultWebRoot(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [join(here, '..', 'web'), join(here, '..', '..', 'dist', 'web')]) {
    if (existsSync(join(candidate, 'index.html'))) return candidate;
  }
  return null;
}

export async function startHost(o: ServeOptions): Promise<RunningHost> {
  const host = openHost({ paths: o.paths, config: o.config, configFile: o.configFile, concurrency: o.concurrency, env: o.env });
  const adminToken = loadOrCreateSecret(o.paths.adminToken, () => randomBytes(24).toString('base64url'));
  let adminPort = o.adminPort;
  const lanCode = o.lanCode === 'auto' ? generateAccessCode() : o.lanCode === undefined ? o.config.lan.access_code : o.lanCode;
  const ctx: ServerContext = {
    host,
    adminToken,
    adminPort: () => adminPort,
    webRoot: o.webRoot === undefined ? defaultWebRoot() : o.webRoot,
    startedAt: Date.now(),
    changes: new ChangeService(host.service, host.paths.home),
  };
  let admin: FastifyInstance | null = null;
  let user: FastifyInstance | null = null;
  try {
    admin = await buildAdminApp(ctx, { logger: o.logger });
    await admin.listen({ host: '127.0.0.1', port: o.adminPort });
    adminPort = (admin.server.address() as AddressInfo).port;
    if (o.lan) {
      const tls = o.insecureHttp ? null : await loadOrCreateHostCert(o.paths.home); // made at the first start, kept in the home
      user = await buildUserApp(ctx, { logger: o.logger, accessCode: lanCode, tls });
      await user.listen({ host: o.hostIp ?? '0.0.0.0', port: o.userPort });
    }
  } catch (e) {
    await user?.close();
    await admin?.close();
    await host.close();
    throw e;
  }
  const userPort = user ? (user.server.address() as AddressInfo).port : null;
  writeFileSync(o.paths.hostInfo, JSON.stringify({ pid: process.pid, admin_port: adminPort, user_port: userPort, started_at: ctx.startedAt }) + '\n', {
    mode: 0o600,
  });
  host.pool.start();
  const anchorKey = await loadOrCreateHostKey(o.paths.home);
  const maintenance = startMaintenance(host, [
    {
      everyMs: o.config.retention.checkpoint_interval_s * 1000,
      run: () => void writeCheckpoint(host.store, o.paths.home, anchorKey, Date.now()),
      atStop: true,
    },
  ]);
  const adminUrl = `http://127.0.0.1:${adminPort}/`;
  const a = admin;
  let closed = false;
  return {
    host,
    ctx,
    admin: a,
    user,
    adminUrl,
    adminTokenUrl: `${adminUrl}?token=${adminToken}`,
    userUrl: user ? `${o.insecureHttp ? 'http' : 'https'}://${o.hostIp ?? lanAddressHint()}:${userPort}/` : null,
    lanCode: user ? lanCode : null,
    tlsFingerprint: user ? (ctx.lanTransport?.tls_fingerprint ?? null) : null,
    async close(graceMs = o.config.runner.kill_grace_ms) {
      if (closed) return;
      closed = true;
      // Open SSE streams never end on their own; end them or close() waits for the clients forever.
      for (const app of [user, a]) if (app) closeLiveStreams(app.server);
      await Promise.allSettled([user?.close(), a.close()]);
      const stopping = host.pool.stop();
      const timer = setTimeout(() => host.pool.cancelAll('host shutting down'), graceMs);
      await stopping;
      clearTimeout(timer);
      maintenance.stop();
      rmSync(o.paths.hostInfo, { force: true });
      await host.close();
    },
  };
}

/** The first non-internal IPv4 address, to print a LAN URL people can type. */
function lanAddressHint(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
