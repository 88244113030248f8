/**
 * The remote host of a server context: created with the user app (the only
 * place workers connect to), reachable from the admin app, and wired into the
 * context's worker list and cancel hook. The host side of remote execution
 * (src/remote/host) knows nothing of the servers; this file is the glue.
 */
import { RemoteHost, type RemoteHostOptions } from '../remote/host/host-endpoint.js';
import type { ServerContext } from './context.js';

/** Options for the RemoteHost the user app will create for `ctx` (tests: short leases). Call before building the user app. */
export function configureRemote(ctx: ServerContext, opts: RemoteHostOptions): void {
  ctx.remoteOptions = opts;
}

export function remoteOf(ctx: ServerContext): RemoteHost | null {
  return ctx.remote ?? null;
}

/** The RemoteHost of `ctx`, created (and wired into the context) on first use. */
export async function ensureRemote(ctx: ServerContext): Promise<RemoteHost> {
  if (ctx.remote) return ctx.remote;
  const remote = await RemoteHost.create(ctx.host, { certFingerprint: ctx.lanTransport?.tls_fingerprint ?? null, ...ctx.remoteOptions });
  ctx.remote = remote;
  ctx.remoteWorkers = () => remote.views();
  ctx.cancelRemote = (taskId, reason) => remote.dispatcher.cancel(taskId, reason);
  remote.start();
  return remote;
}
