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
import { installLanErrorHandling } from './audit.js';
import { makeLanDeps } from './deps.js';
import { installLanGate } from './gate.js';
import { registerLiveRoutes } from './live.js';
import { registerUserRoutes } from './routes.js';
import { registerSessionRoutes } from './session.js';
import { registerRemoteUserRoutes } from '../remote-routes.js';

export interface UserAppOptions {
  logger?: boolean | object;
  /** LAN access code; undefined: config lan.access_code; null: none. */
  accessCode?: string | null;
}

export async function buildUserApp(ctx: ServerContext, o: UserAppOptions = {}): Promise<FastifyInstance> {
  // trustProxy stays off: the client is the socket's peer; X-Forwarded-For is never read.
  const app = Fastify({ logger: o.logger ?? false, bodyLimit: ctx.host.config.lan.max_body_bytes, trustProxy: false });
  const deps = makeLanDeps(ctx, o.accessCode === undefined ? ctx.host.config.lan.access_code : o.accessCode);
  installLanErrorHandling(app, ctx.host.store);
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
