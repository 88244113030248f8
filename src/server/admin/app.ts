/**
 * The admin app: 127.0.0.1 only, full control. Built from its own route
 * modules; nothing here is registered on the user app.
 */
import cookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance } from 'fastify';
import { adminCookieValue, safeEqual } from '../../core/http-guards.js';
import type { ServerContext } from '../context.js';
import { capConnections, fastifyBoundOptions } from '../stream-bounds.js';
import { installSecurityHeaders } from '../security-headers.js';
import { redactingLogger } from '../log-redact.js';
import { installErrorHandling } from '../errors.js';
import { ADMIN_COOKIE, installAdminGuard } from './guard.js';
import { registerAdminRoutes } from './routes.js';
import { registerChangeRoutes } from './changes-routes.js';
import { registerRouterRoutes } from './router-routes.js';
import { registerNotifyRoutes } from './notify-routes.js';
import { registerHostsRoutes } from './hosts-routes.js';
import { registerRemoteAdminRoutes } from '../remote-routes.js';
import { serveClient } from '../web.js';
import { signInPage } from './signin-page.js';

export interface AdminAppOptions {
  logger?: boolean | object;
  bodyLimit?: number;
}

export async function buildAdminApp(ctx: ServerContext, o: AdminAppOptions = {}): Promise<FastifyInstance> {
  // trustProxy stays off: request.ip is the socket peer and X-Forwarded-For is never read.
  const app = Fastify({
    logger: redactingLogger(o.logger),
    bodyLimit: o.bodyLimit ?? 2 * 1024 * 1024,
    trustProxy: false,
    ...fastifyBoundOptions(ctx.host.config.http),
  });
  capConnections(app.server, ctx.host.config.http);
  installErrorHandling(app);
  installSecurityHeaders(app);
  await app.register(cookie);
  installAdminGuard(app, ctx);

  app.get('/', async (request, reply) => {
    const token = (request.query as Record<string, unknown>)['token'];
    if (typeof token === 'string') {
      if (!safeEqual(token, ctx.adminToken)) {
        ctx.host.store.appendAudit({
          actor: 'anonymous',
          origin: request.socket.remoteAddress ?? 'unknown',
          action: 'admin.bad_token',
          target: '/',
          detail: {},
        });
        return reply.code(401).type('text/html').send(signInPage('bad-token'));
      }
      reply.setCookie(ADMIN_COOKIE, adminCookieValue(ctx.adminToken), { httpOnly: true, sameSite: 'strict', path: '/', secure: false });
      ctx.host.store.appendAudit({ actor: 'admin', origin: request.socket.remoteAddress ?? 'unknown', action: 'admin.login', target: '/', detail: {} });
      return reply.redirect('/', 303);
    }
    const cookieVal = request.cookies[ADMIN_COOKIE];
    if (!cookieVal || !safeEqual(cookieVal, adminCookieValue(ctx.adminToken))) {
      return reply.code(401).type('text/html').send(signInPage('no-token'));
    }
    return serveClient(reply, ctx.webRoot, 'admin');
  });

  if (ctx.webRoot) await app.register(fastifyStatic, { root: ctx.webRoot, prefix: '/assets/', decorateReply: false, index: false });
  registerAdminRoutes(app, ctx);
  if (ctx.changes) registerChangeRoutes(app, ctx.changes);
  registerRouterRoutes(app, ctx.host.router); // GET /admin/router, POST /admin/router/explain
  registerNotifyRoutes(app, ctx.host, () => ctx.host.pool.kick()); // notifications, webhook test, budgets, daily costs (issue 18)
  registerHostsRoutes(app, ctx.host); // GET /admin/hosts: the hosts sharing a PostgreSQL store (issue 19)
  registerRemoteAdminRoutes(app, ctx); // worker list and revoke (src/server/remote-routes.ts)
  return app;
}
