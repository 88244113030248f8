/**
 * The user app: LAN-facing, a separate Fastify instance built from its own
 * route modules. No admin route is registered here at all, so `/admin/*` is a
 * plain 404 whatever the method or credentials.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import type { ServerContext } from '../context.js';
import { statusOf } from '../context.js';
import { installErrorHandling } from '../errors.js';
import { serveClient } from '../web.js';

export interface UserAppOptions {
  logger?: boolean | object;
}

export async function buildUserApp(ctx: ServerContext, o: UserAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: o.logger ?? false, bodyLimit: ctx.host.config.lan.max_body_bytes, trustProxy: false });
  installErrorHandling(app);
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/api/status', async () => statusOf(ctx));
  app.get('/', async (_request, reply) => reply.redirect('/dashboard', 302));
  app.get('/dashboard', async (_request, reply) => serveClient(reply, ctx.webRoot, 'user'));
  if (ctx.webRoot) await app.register(fastifyStatic, { root: ctx.webRoot, prefix: '/assets/', decorateReply: false, index: false });
  return app;
}
