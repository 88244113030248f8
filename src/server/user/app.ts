/**
 * The user app: LAN-facing, a separate Fastify instance built from its own
 * route modules. No admin route is registered here at all, so `/admin/*` is a
 * plain 404 whatever the method or credentials.
 *
 * Order matters: error handling, cookies and the gate (allow-list, origin,
 * session, rate limits, access code) are installed before any route, so they
 * cover every route added afterwards, including other modules' routes.
 */
import cookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance } from 'fastify';
import { MAX_MESSAGE_BYTES } from '../../core/protocol.js';
import type { ServerContext } from '../context.js';
import { capConnections, fastifyBoundOptions } from '../stream-bounds.js';
import { installSecurityHeaders } from '../security-headers.js';
import { redactingLogger } from '../log-redact.js';
import { installLanErrorHandling } from './audit.js';
import { makeLanDeps } from './deps.js';
import { installLanGate } from './gate.js';
import { registerLiveRoutes } from './live.js';
import { registerUserRoutes } from './routes.js';
import { registerSessionRoutes } from './session.js';
import { registerRemoteUserRoutes } from '../remote-routes.js';
import type { HostCert } from '../../remote/tls.js';

export interface UserAppOptions {
  logger?: boolean | object;
  /** LAN access code; undefined: config lan.access_code; null: none. */
  accessCode?: string | null;
  /**
   * The host certificate to serve HTTPS/WSS with, or null for plain HTTP
   * (`--insecure-http`). Required: every caller chooses explicitly.
   */
  tls: HostCert | null;
}

export async function buildUserApp(ctx: ServerContext, o: UserAppOptions): Promise<FastifyInstance> {
  ctx.lanTransport = { tls_fingerprint: o.tls?.fingerprint ?? null, insecure_http: o.tls === null };
  // trustProxy stays off: the client is the socket's peer; X-Forwarded-For is never read.
  const bounds = fastifyBoundOptions(ctx.host.config.http);
  const common = { logger: redactingLogger(o.logger), bodyLimit: ctx.host.config.lan.max_body_bytes, trustProxy: false, ...bounds };
  // One instance type for both: Fastify's https overload differs only in the server's type, which nothing here relies on.
  // With `https`, Fastify ignores `http`: the header/request timers go into the https server options.
  const app = (o.tls
    ? Fastify({ ...common, https: { key: o.tls.keyPem, cert: o.tls.certPem, ...bounds.http } })
    : Fastify(common)) as unknown as FastifyInstance;
  capConnections(app.server, ctx.host.config.http);
  const deps = makeLanDeps(ctx, o.accessCode === undefined ? ctx.host.config.lan.access_code : o.accessCode);
  installLanErrorHandling(app, ctx.host.store);
  installSecurityHeaders(app);
  await app.register(cookie, { secret: deps.secret });
  await app.register(websocket, { options: { maxPayload: MAX_MESSAGE_BYTES } }); // the remote protocol's own limit
  await installLanGate(app, deps);

  registerSessionRoutes(app, deps);
  registerUserRoutes(app, deps);
  registerLiveRoutes(app, deps);
  await registerRemoteUserRoutes(app, deps); // pairing, enrolment, my workers, WS /ws/remote-exec (src/server/remote-routes.ts)

  if (ctx.webRoot) await app.register(fastifyStatic, { root: ctx.webRoot, prefix: '/assets/', decorateReply: false, index: false });
  return app;
}
