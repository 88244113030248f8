/**
 * HTTP and WebSocket routes of remote execution, thin over RemoteHost:
 *
 * user app (LAN):
 *   POST /api/pairing-codes            signed-in user → {code, expires_at, command, node_command, worker_sha256, host_fingerprint, cert_fingerprint}
 *   GET  /worker/colony-worker.mjs     the self-contained worker node_command downloads (public code; no access code)
 *   GET  /api/workers/pairing-info     host key and TLS certificate fingerprint (what the enrolment proof covers)
 *   POST /api/workers/enroll           {public_key, proof, name, engines, open_to_admin} → worker id, host key, host proof
 *   GET  /api/my-workers               the caller's workers (cards + fingerprints)
 *   POST /api/my-workers/:id/revoke    revoke one of the caller's workers (others' are a 404)
 *   WS   /ws/remote-exec               the signed protocol (core/protocol.ts)
 * admin app:
 *   GET  /admin/remote-workers         every enrolled worker, revoked ones included
 *   POST /admin/workers/:id/revoke     revoke any worker (disconnects it)
 *
 * Enrolment and the WebSocket authenticate with the pairing code / the
 * worker's key, so they skip the LAN access code (address allow-list, origin
 * check and rate limits still apply).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { formatIp, parseIp, unmapIp } from '../core/cidr.js';
import { ColonyError } from '../core/errors.js';
import { submitterOf } from '../core/permissions.js';
import type { ServerContext } from './context.js';
import { idParam } from './schemas.js';
import { noteRefusal } from './user/audit.js';
import { clientIp, type LanDeps } from './user/deps.js';
import { deviceOf, lanActor, requireSession } from './user/session.js';
import { BanStore } from '../store/bans.js';
import { WorkerStore } from '../store/workers.js';
import { ensureRemote, remoteOf } from './remote-host.js';
import { enrollSchema } from '../remote/pairing.js';
import { bootstrapCommand } from './user/worker-bootstrap.js';
import { registerWorkerDownload, workerBundleSource } from './user/worker-download.js';

export async function registerRemoteUserRoutes(app: FastifyInstance, deps: LanDeps): Promise<void> {
  const remote = await ensureRemote(deps.ctx);
  app.addHook('onClose', async () => remote.stop());

  const bans = new BanStore(deps.ctx.host.store);
  const pairingBanned = (request: FastifyRequest): boolean => {
    const device = deviceOf(request);
    return bans.has('pairing', clientIp(request), device ? `device:${device}` : null);
  };

  const bundle = workerBundleSource();
  registerWorkerDownload(app, bundle); // GET /worker/colony-worker.mjs: the worker for a machine with only Node.js (issue 22)

  app.post('/api/pairing-codes', async (request, reply) => {
    const s = requireSession(request, 'submit_task');
    if (pairingBanned(request)) throw new ColonyError('E_FORBIDDEN', "the host's admin has banned pairing from this browser or address");
    const { code, expires_at } = await remote.pairing.createCode(submitterOf(s), lanActor(request));
    const cert = remote.pairing.certFingerprint;
    const url = `${cert ? 'https' : 'http'}://${reachedAddress(request)}`;
    const b = bundle();
    return reply.code(201).send({
      code,
      expires_at,
      // The certificate fingerprint in the command lets the worker refuse a substituted certificate before it sends anything.
      command: `colony worker --host ${url} --code ${code}${cert ? ` --tls-fingerprint ${cert}` : ''}`,
      // The same for a machine with only Node.js: downloads the worker from here and runs it only if its sha256 matches.
      node_command: b ? bootstrapCommand({ url, code, sha256: b.sha256, certFingerprint: cert }) : null,
      worker_sha256: b?.sha256 ?? null,
      host_fingerprint: remote.hostKey.fingerprint,
      cert_fingerprint: cert,
    });
  });

  app.get('/api/workers/pairing-info', { config: { accessCode: false } }, async () => remote.pairing.info());

  app.post('/api/workers/enroll', { config: { accessCode: false } }, async (request, reply) => {
    const body = enrollSchema.parse(request.body);
    if (pairingBanned(request)) {
      noteRefusal(request, 'enrolment from a banned address');
      throw new ColonyError('E_FORBIDDEN', "the host's admin has banned pairing from this address");
    }
    return reply.code(201).send(remote.pairing.enroll(body, clientIp(request)).response);
  });

  app.get('/api/my-workers', async (request) => {
    const s = requireSession(request);
    return { workers: remote.views(submitterOf(s)) };
  });

  app.post('/api/my-workers/:id/revoke', async (request) => {
    const s = requireSession(request);
    const { id } = idParam.parse(request.params);
    const w = remote.workers.get(id);
    if (!w || w.owner !== submitterOf(s)) {
      if (w) noteRefusal(request, 'worker of another user');
      throw new ColonyError('E_NOT_FOUND', `no worker ${id}`);
    }
    const rec = remote.revoke(id, lanActor(request));
    return { worker: { id: rec.id, revoked_at: rec.revoked_at } };
  });

  app.get('/ws/remote-exec', { websocket: true, config: { accessCode: false } }, (socket: WebSocket, request: FastifyRequest) => {
    remote.accept(socket, clientIp(request));
  });
}

export function registerRemoteAdminRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const workers = new WorkerStore(ctx.host.store);
  const adminActor = (request: FastifyRequest) => ({ actor: 'admin', origin: request.socket.remoteAddress ?? 'unknown' });

  app.get('/admin/remote-workers', async () => {
    const remote = remoteOf(ctx);
    const all = workers.list({ includeRevoked: true });
    return { workers: remote ? all.map((w) => remote.view(w)) : all.map(({ public_key: _k, ...w }) => ({ ...w, connected: false })) };
  });

  app.post('/admin/workers/:id/revoke', async (request) => {
    const { id } = idParam.parse(request.params);
    const remote = remoteOf(ctx);
    const rec = remote ? remote.revoke(id, adminActor(request)) : workers.revoke(id, adminActor(request), Date.now());
    return { worker: { id: rec.id, revoked_at: rec.revoked_at } };
  });
}

/** host:port the client reached us on, from the socket (never the Host header): what it can type on its machine. */
function reachedAddress(request: FastifyRequest): string {
  const raw = request.socket.localAddress;
  const parsed = raw === undefined ? null : parseIp(raw);
  const ip = parsed ? formatIp(unmapIp(parsed)) : '127.0.0.1';
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return `${host}:${request.socket.localPort ?? 8081}`;
}
