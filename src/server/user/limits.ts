/**
 * Rate limits of the user app (@fastify/rate-limit's counters, our own hook):
 * every request counts against a read budget, every state-changing request
 * to a real route (submissions, session creation and renames) also against a
 * much tighter write budget. Each budget is kept twice, per client address (socket, IPv6
 * by /64) and per session, so one flooding machine or session exhausts only
 * its own budget. WebSocket upgrades and the SSE stream count as reads.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ColonyError } from '../../core/errors.js';
import { SAFE_METHODS } from '../../core/http-guards.js';
import { ipBucket } from './deps.js';
import type { LanState } from './session.js';

const WINDOW_MS = 60_000;

export interface LanLimits {
  read_per_min: number;
  write_per_min: number;
}

type Limiter = (req: FastifyRequest) => Promise<{ isAllowed: true } | { isAllowed: false; isExceeded: boolean; ttlInSeconds: number }>;

interface Bucket {
  tier: 'read' | 'write';
  by: 'address' | 'session';
  check: Limiter;
}

const keys = new WeakMap<FastifyRequest, { address: string; session: string | null }>();

/** Registers the plugin (no global hook) and returns the check the gate runs after it knows the session. */
export async function createLanLimiter(
  app: FastifyInstance,
  limits: LanLimits,
): Promise<(request: FastifyRequest, reply: FastifyReply, st: LanState) => Promise<void>> {
  await app.register(rateLimit, { global: false });
  const make = (tier: Bucket['tier'], by: Bucket['by']): Bucket => ({
    tier,
    by,
    check: app.createRateLimit({
      max: tier === 'read' ? limits.read_per_min : limits.write_per_min,
      timeWindow: WINDOW_MS,
      keyGenerator: (req) => {
        const k = keys.get(req);
        return `${tier}:${by}:${(by === 'address' ? k?.address : k?.session) ?? 'none'}`;
      },
    }),
  });
  const reads = [make('read', 'address'), make('read', 'session')];
  const writes = [make('write', 'address'), make('write', 'session')];

  return async (request, reply, st) => {
    keys.set(request, { address: ipBucket(st.ip), session: st.session?.user_id ?? null });
    // Unknown paths are cheap 404s: they count as reads whatever the method.
    const isWrite = (!SAFE_METHODS.has(request.method) && request.routeOptions.url !== undefined) || request.routeOptions.config.costly === true;
    const buckets = isWrite ? [...reads, ...writes] : reads;
    for (const b of buckets) {
      if (b.by === 'session' && st.session === null) continue;
      const r = await b.check(request);
      if (!r.isAllowed && r.isExceeded) {
        const after = Math.max(1, r.ttlInSeconds);
        reply.header('retry-after', String(after));
        const what = b.tier === 'write' ? 'submissions/changes' : 'requests';
        throw new ColonyError('E_RATE_LIMITED', `too many ${what} from this ${b.by === 'address' ? 'machine' : 'session'}; retry in ${after} s`, {
          retry_after_s: after,
          limit: b.tier === 'read' ? limits.read_per_min : limits.write_per_min,
          per: 'minute',
        });
      }
    }
  };
}
