/**
 * The admin app's gate, run on every request before any route (including
 * WebSocket upgrades and the SSE stream): loopback peer, Host allow-list,
 * Origin match, then the token (cookie or bearer). X-Forwarded-For and
 * Forwarded are never read: the peer is the socket's address.
 */
import '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ColonyError } from '../../core/errors.js';
import {
  adminCookieValue,
  allowedAdminOrigins,
  bearerToken,
  hostAllowed,
  originAllowed,
  peerIsLoopback,
  SAFE_METHODS,
  safeEqual,
} from '../../core/http-guards.js';
import { sendError } from '../errors.js';
import { RefusalWindow } from '../../core/refusal-window.js';
import type { ServerContext } from '../context.js';

export const ADMIN_COOKIE = 'colony_admin';

/** Paths served without a token: the static client and the token-exchange entry page. */
export function isPublicPath(url: string): boolean {
  const path = url.split('?')[0] ?? '';
  return path === '/' || path === '/favicon.ico' || path.startsWith('/assets/');
}

export function installAdminGuard(app: FastifyInstance, ctx: ServerContext): void {
  const refusals = new RefusalWindow();
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const fail = (e: ColonyError): FastifyReply => {
      const origin = request.socket.remoteAddress ?? 'unknown';
      const target = request.url.split('?')[0]?.slice(0, 300) ?? null;
      const { write, suppressed } = refusals.admit(`${origin}|${e.code}|${target}`, Date.now());
      if (write) {
        ctx.host.store.appendAudit({
          actor: 'anonymous',
          origin,
          action: 'admin.refused',
          target,
          detail: {
            code: e.code,
            method: request.method,
            host: request.headers.host ?? null,
            origin: request.headers.origin ?? null,
            ...(suppressed ? { repeats_not_recorded: suppressed } : {}),
          },
        });
      }
      return sendError(reply, e);
    };
    if (!peerIsLoopback(request.socket.remoteAddress)) {
      return fail(new ColonyError('E_NOT_LOOPBACK', 'the admin app only answers connections from this machine'));
    }
    const port = ctx.adminPort();
    if (!hostAllowed(request.headers.host, port)) {
      return fail(new ColonyError('E_BAD_HOST', `Host must be 127.0.0.1:${port}, localhost:${port} or [::1]:${port}`));
    }
    const origin = request.headers.origin;
    const cookieOk = safeEqualOpt(request.cookies[ADMIN_COOKIE], adminCookieValue(ctx.adminToken));
    const bearer = bearerToken(request.headers.authorization);
    const bearerOk = bearer !== null && safeEqual(bearer, ctx.adminToken);
    const isUpgrade = (request.headers.upgrade ?? '').toLowerCase() === 'websocket';
    // A foreign Origin is refused whenever it is present; a missing Origin is
    // accepted only for safe methods or bearer-authenticated API clients (the
    // CLI), because a browser always sends Origin on cross-site writes and upgrades.
    if (origin !== undefined && !originAllowed(origin, allowedAdminOrigins(port))) {
      return fail(new ColonyError('E_BAD_ORIGIN', `Origin ${origin} is not this admin app`));
    }
    if (origin === undefined && (isUpgrade || !SAFE_METHODS.has(request.method)) && !bearerOk) {
      return fail(new ColonyError('E_BAD_ORIGIN', "state-changing requests from a browser must carry this app's Origin"));
    }
    if (isPublicPath(request.url) && request.method === 'GET') return;
    if (!cookieOk && !bearerOk) {
      return fail(
        new ColonyError(
          'E_UNAUTHORIZED',
          'admin token required: open the URL printed by `colony serve`, or send Authorization: Bearer <token from COLONY_HOME/admin.token>',
        ),
      );
    }
  });
}

function safeEqualOpt(a: string | undefined, b: string): boolean {
  return a !== undefined && safeEqual(a, b);
}
