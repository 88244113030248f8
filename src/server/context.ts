/** What both apps need from the host, as a narrow interface so tests can build one on a temp home. */
import type { WorkerCard } from '../core/live-types.js';
import type { RemoteHost, RemoteHostOptions } from '../remote/host/host-endpoint.js';
import type { Host } from '../runner/host.js';
import type { ChangeService } from '../runner/change-service.js';

export interface ServerContext {
  host: Host;
  adminToken: string;
  /** The port the admin app really listens on (known after listen; port 0 in tests). */
  adminPort: () => number;
  webRoot: string | null;
  startedAt: number;
  /** Pending changes of host-run tasks (approve merges, reject discards). */
  changes?: ChangeService;
  /** Extra workers besides the local pool (remote workers, when that layer is wired). */
  remoteWorkers?: () => WorkerCard[];
  /** The remote host, once the user app created it (server/remote-host.ts), and the options it is built with. */
  remote?: RemoteHost;
  remoteOptions?: RemoteHostOptions;
  /** How the user app is served (set when it is built): its TLS certificate fingerprint, or plain HTTP by --insecure-http. */
  lanTransport?: LanTransport;
  /** Cancels a running remote task; false when no remote worker holds it. */
  cancelRemote?: (taskId: string, reason: string) => boolean;
}

export interface LanTransport {
  tls_fingerprint: string | null;
  insecure_http: boolean;
}

export function allWorkers(ctx: ServerContext): WorkerCard[] {
  return [...ctx.host.pool.workers(), ...(ctx.remoteWorkers?.() ?? [])];
}

export function statusOf(ctx: ServerContext): Record<string, unknown> {
  const counts = ctx.host.service.countByState();
  const workers = allWorkers(ctx);
  return {
    ok: true,
    version: '0.1.0',
    killswitch: ctx.host.killswitch.state(),
    uptime_s: Math.round((Date.now() - ctx.startedAt) / 1000),
    tasks: counts,
    workers: { total: workers.length, busy: workers.filter((w) => w.status === 'running').length },
    lan: ctx.lanTransport ?? null, // the dashboards show the certificate fingerprint, or warn about plain HTTP
    sandbox: ctx.host.sandbox.status(),
  };
}
