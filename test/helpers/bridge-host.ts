/**
 * The host as `colony serve --lan` starts it on a netns bridge (netns.ts), for
 * tests whose LAN users and `colony worker`s live in the namespaces, and the
 * one-request call those tests make as a LAN user.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startHost, type RunningHost } from '../../src/server/host-server.js';
import { makeHome, testConfig, type TestHome } from './admin-host.js';
import type { LanUser } from './lan-user.js';
import { createNetns, type NetnsHandle, type NetnsNamespace } from './netns.js';

/** Read and submit limits high enough that a test's own traffic is never rate limited. */
export const UNLIMITED_LAN = { rate_limit_read_per_min: 100_000, rate_limit_submit_per_min: 1000 };

export interface BridgeHostOptions {
  /** The config's `lan` section (default UNLIMITED_LAN). */
  lan?: Record<string, unknown>;
  /** Plain HTTP instead of the default TLS. */
  insecureHttp?: boolean;
  lanCode?: string | null;
}

/** Starts the host on the bridge address; `base` is its user URL without the trailing slash. */
export async function startBridgeHost(net: NetnsHandle, home: TestHome, opts: BridgeHostOptions = {}): Promise<{ h: RunningHost; base: string }> {
  const h = await startHost({
    paths: home.paths,
    config: testConfig({ lan: opts.lan ?? UNLIMITED_LAN }),
    adminPort: 0,
    userPort: 0,
    lan: true,
    ...(opts.insecureHttp ? { insecureHttp: true } : {}),
    hostIp: net.hostIp,
    concurrency: 1,
    logger: false,
    webRoot: null,
    lanCode: opts.lanCode ?? null,
  });
  return { h, base: (h.userUrl ?? '').replace(/\/$/, '') };
}

/** One HTTP request by a LAN user from inside its namespace: the status and the JSON body. */
export async function lanCall(
  user: LanUser,
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await user.run([{ kind: 'http', method, url: `${base}${path}`, ...(body === undefined ? {} : { body }) }]);
  const line = r.lines[0] ?? {};
  return { status: Number(line['status']), json: (line['json'] ?? {}) as Record<string, unknown> };
}

/** One namespace (the machine of a LAN user and its `colony worker`), the host on the bridge, the worker's folders. */
export interface WorkerLan {
  net: NetnsHandle;
  ns: NetnsNamespace;
  home: TestHome;
  h: RunningHost;
  base: string;
  /** The worker's workspace root (created) and its home, both under the host's test home. */
  root: string;
  whome: string;
}

/** Throws without root (createNetns): the suite fails, it is never skipped. */
export async function startWorkerLan(homePrefix: string): Promise<WorkerLan> {
  const net = await createNetns({ count: 1 });
  const home = makeHome(homePrefix);
  try {
    const { h, base } = await startBridgeHost(net, home);
    const root = join(home.dir, 'worker-root');
    mkdirSync(root);
    return { net, ns: net.namespaces[0] as NetnsNamespace, home, h, base, root, whome: join(home.dir, 'worker-home') };
  } catch (e) {
    await net.destroy();
    home.cleanup();
    throw e;
  }
}

/** Runs `first` (stopping what the test started), closes the host, and always destroys the namespaces and the home. */
export async function closeBridgeHost(
  parts: { h?: RunningHost | undefined; net?: NetnsHandle | undefined; home?: TestHome | undefined },
  first: () => unknown = () => undefined,
): Promise<void> {
  try {
    await first();
    await parts.h?.close(500);
  } finally {
    await parts.net?.destroy();
    parts.home?.cleanup();
  }
}
