/** What the user app's modules share: the host context, the session store, the cookie secret, the access code. */
import { createHmac, randomBytes, randomInt } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { formatIp, parseCidr, parseIp, unmapIp, type Cidr } from '../../core/cidr.js';
import type { Opaque } from '../../core/redact.js';
import { FailureBudget } from '../../core/refusal-window.js';
import { normaliseAccessCode } from '../../core/access-code.js';
import { loadOrCreateSecret } from '../../runner/home.js';
import { SessionStore } from '../../store/sessions.js';
import type { ServerContext } from '../context.js';

export interface LanDeps {
  ctx: ServerContext;
  sessions: SessionStore;
  /** Signs the session cookie and keys the opaque ids; kept in COLONY_HOME so cookies survive a restart. */
  secret: string;
  /** Normalised LAN access code, or null when none is required. */
  accessCode: string | null;
  allow: readonly Cidr[];
  opaque: Opaque;
  now: () => number;
  /** Wrong access codes from every address together (issue 14): a global budget on top of the per-address rate limits. */
  codeFailures: FailureBudget;
}

export function makeLanDeps(ctx: ServerContext, accessCode: string | null): LanDeps {
  const secret = loadOrCreateSecret(ctx.host.paths.cookieSecret, () => randomBytes(32).toString('base64url'));
  const opaqueKey = createHmac('sha256', secret).update('colony opaque ids').digest();
  // Every redacted event goes to every viewer: memoise the HMAC per id (bounded) instead of recomputing it per delivery.
  const opaqueCache = new Map<string, string>();
  const opaque = (id: string): string => {
    let v = opaqueCache.get(id);
    if (v === undefined) {
      v = `x-${createHmac('sha256', opaqueKey).update(id).digest('hex').slice(0, 16)}`;
      if (opaqueCache.size >= 50_000) opaqueCache.clear();
      opaqueCache.set(id, v);
    }
    return v;
  };
  return {
    ctx,
    sessions: new SessionStore(ctx.host.store),
    secret,
    accessCode: accessCode === null ? null : normaliseCode(accessCode),
    allow: ctx.host.config.lan.allow_cidrs.map(parseCidr),
    opaque,
    now: Date.now,
    codeFailures: new FailureBudget(ctx.host.config.lan.code_failures_per_hour, 3_600_000),
  };
}

/** Codes are compared without case, spaces or dashes, so "abcd efgh" matches the printed "ABCD-EFGH". */
export function normaliseCode(code: string): string {
  return normaliseAccessCode(code);
}

const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789'; // no 0/O, 1/I/L

/** A fresh access code for `--lan-code auto`: 10 characters of 31 (~49 bits, no modulo bias), printed as XXXXX-XXXXX. */
export function generateAccessCode(): string {
  const chars = Array.from({ length: 10 }, () => CODE_ALPHABET[randomInt(CODE_ALPHABET.length)] ?? 'X').join('');
  return `${chars.slice(0, 5)}-${chars.slice(5)}`;
}

/** The peer's address from the socket (never a header), IPv4-mapped IPv6 written as plain IPv4. */
export function clientIp(request: FastifyRequest): string {
  const raw = request.socket.remoteAddress;
  const ip = raw === undefined ? null : parseIp(raw);
  return ip ? formatIp(unmapIp(ip)) : 'unknown';
}

/** Rate-limit key for an address (IPv6 by its /64): in core/cidr.ts, shared with the pairing service. */
export { ipBucket } from '../../core/cidr.js';
