/**
 * Who may reach the user app: one onRequest hook, registered before any
 * route, so it guards API routes, static assets, the SSE stream, WebSocket
 * upgrades and unknown paths alike. In order:
 *   1. the socket's address must be in lan.allow_cidrs      → 403 E_IP_DENIED
 *   1b. the Host must be one of the host's addresses, loopback or
 *      lan.host_names (DNS rebinding, see host-allow.ts)      → 403 E_BAD_HOST
 *   2. the session cookie is read (see session.ts)
 *   3. rate limits per address and per session                → 429 E_RATE_LIMITED
 *   then, for paths that exist (anything else is a plain 404):
 *   4. a state-changing request or upgrade that carries an Origin must come
 *      from an allowed host on this app's port (CSRF / cross-site WebSocket) → 403 E_BAD_ORIGIN
 *   5. with a LAN access code, a session admitted with it      → 401 E_ACCESS_CODE
 * X-Forwarded-For and Forwarded are never read.
 *
 * Routes opt out of step 5 only with `config: { accessCode: false }` (the
 * code page, session creation, health check, and clients that authenticate
 * otherwise, such as paired workers). Steps 1-4 apply to every matched request.
 */
import type { FastifyInstance } from 'fastify';
import { hostAllowed, lanHostNames, originAllowedLan } from './host-allow.js';
import { ipInAnyCidr } from '../../core/cidr.js';
import { ColonyError } from '../../core/errors.js';
import { SAFE_METHODS } from '../../core/http-guards.js';
import type { LanDeps } from './deps.js';
import { createLanLimiter } from './limits.js';
import { resolveLanState } from './session.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: reachable without the LAN access code (address allow-list and rate limits still apply). */
    accessCode?: boolean;
    /** true: a costly read (the 1 MB worker download) that also counts against the tighter write budget. */
    costly?: boolean;
  }
}

export async function installLanGate(app: FastifyInstance, deps: LanDeps): Promise<void> {
  const lan = deps.ctx.host.config.lan;
  const limit = await createLanLimiter(app, { read_per_min: lan.rate_limit_read_per_min, write_per_min: lan.rate_limit_submit_per_min });
  const lastTouch = new Map<string, number>();
  const allowedHosts = lanHostNames(lan.host_names);

  app.addHook('onRequest', async (request, reply) => {
    const ip = request.socket.remoteAddress;
    if (ip === undefined || !ipInAnyCidr(ip, deps.allow)) {
      throw new ColonyError('E_IP_DENIED', 'your address is not allowed to use this colony; ask its admin to add your network to lan.allow_cidrs');
    }
    if (!hostAllowed(request, allowedHosts())) {
      throw new ColonyError(
        'E_BAD_HOST',
        `this colony does not answer to Host ${String(request.headers.host ?? '').slice(0, 100)}; use its address, or ask its admin to add the name to lan.host_names`,
      );
    }
    const st = resolveLanState(request, deps, lastTouch);
    await limit(request, reply, st);
    const matched = request.routeOptions.url !== undefined; // unknown paths (e.g. /admin/*) fall through to a plain 404
    const isUpgrade = (request.headers.upgrade ?? '').toLowerCase() === 'websocket';
    if (matched && (isUpgrade || !SAFE_METHODS.has(request.method)) && !originAllowedLan(request, allowedHosts())) {
      throw new ColonyError('E_BAD_ORIGIN', `Origin ${request.headers.origin ?? ''} is not this app`);
    }
    if (deps.accessCode !== null && !st.codeOk && matched && request.routeOptions.config.accessCode !== false) {
      throw new ColonyError('E_ACCESS_CODE', 'this colony needs its access code: open /dashboard and enter it (ask the person running colony)');
    }
  });
}
