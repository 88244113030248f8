/**
 * LAN user sessions: a signed HttpOnly SameSite=Lax cookie naming a session
 * row in SQLite (so sessions survive a host restart). The cookie also carries
 * a tag of the LAN access code the session was admitted with: when the code
 * changes (e.g. `--lan-code auto` at the next start), visitors enter the new
 * one and keep their session.
 *
 * `getSession` / `requireSession` are what other user-app modules (pairing,
 * remote execution) use to find out who is calling.
 */
import '@fastify/cookie';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ColonyError } from '../../core/errors.js';
import { isLoopbackIp } from '../../core/cidr.js';
import { safeEqual } from '../../core/http-guards.js';
import { can, DEFAULT_PERMISSIONS, submitterOf, type Permission, type UserSession } from '../../core/permissions.js';
import { BanStore } from '../../store/bans.js';
import type { Actor } from '../../store/store.js';
import { clientIp, normaliseCode, type LanDeps } from './deps.js';
import { createSessionSchema, renameSessionSchema } from './schemas.js';

export const SESSION_COOKIE = 'colony_session';
/** A long-lived random id per browser, so the admin can refuse new sessions from a banned one (issue 14). */
export const DEVICE_COOKIE = 'colony_device';
const COOKIE_MAX_AGE_S = 180 * 24 * 3600;
const TOUCH_EVERY_MS = 60_000;

/** What the gate learned about a request before any route ran. */
export interface LanState {
  ip: string;
  /** The session named by a validly signed cookie (revoked ones included), or null. */
  session: UserSession | null;
  /** True when no access code is required, or the cookie was issued with the current one. */
  codeOk: boolean;
}

const states = new WeakMap<FastifyRequest, LanState>();

export function lanState(request: FastifyRequest): LanState | null {
  return states.get(request) ?? null;
}

/** The caller's live (not revoked) session, or null. */
export function getSession(request: FastifyRequest): UserSession | null {
  const s = states.get(request)?.session ?? null;
  return s && !s.revoked ? s : null;
}

/** The caller's session, with `perm` when given; E_UNAUTHORIZED without one, E_FORBIDDEN when revoked or lacking `perm`. */
export function requireSession(request: FastifyRequest, perm?: Permission): UserSession {
  const s = states.get(request)?.session ?? null;
  if (!s) throw new ColonyError('E_UNAUTHORIZED', 'no session: create one with POST /api/session {display_name} (the dashboard does this for you)');
  if (s.revoked) throw new ColonyError('E_FORBIDDEN', "this session was revoked by the host's admin");
  if (perm && !can(s, perm)) throw new ColonyError('E_FORBIDDEN', `your session lacks the "${perm}" permission; ask the host's admin to grant it`);
  return s;
}

/** Who did it, for the audit log: the session (or 'anonymous') and the socket's address. */
export function lanActor(request: FastifyRequest): Actor {
  const st = states.get(request);
  return { actor: st?.session ? submitterOf(st.session) : 'anonymous', origin: st?.ip ?? clientIp(request) };
}

function codeTag(deps: LanDeps): string {
  return deps.accessCode === null ? '-' : createHmac('sha256', deps.secret).update(`lan-code\n${deps.accessCode}`).digest('base64url').slice(0, 22);
}

/** Reads the cookie and the session row; run by the gate on every request. */
export function resolveLanState(request: FastifyRequest, deps: LanDeps, lastTouch: Map<string, number>): LanState {
  const ip = clientIp(request);
  let session: UserSession | null = null;
  let tag: string | null = null;
  const raw = request.cookies[SESSION_COOKIE];
  if (raw) {
    const u = request.unsignCookie(raw);
    const [userId, t] = u.valid && u.value ? u.value.split('.') : [];
    if (userId && t) {
      session = deps.sessions.get(userId);
      tag = t;
    }
  }
  const codeOk = deps.accessCode === null || (session !== null && tag !== null && safeEqual(tag, codeTag(deps)));
  if (session && !session.revoked) {
    const now = deps.now();
    if (now - (lastTouch.get(session.user_id) ?? 0) > TOUCH_EVERY_MS) {
      lastTouch.set(session.user_id, now);
      try {
        deps.sessions.touch(session.user_id, now);
      } catch (e) {
        request.log.warn({ err: e }, 'could not record session activity'); // best effort: never refuse a request for it
      }
    }
  }
  const st = { ip, session, codeOk };
  states.set(request, st);
  return st;
}

/** The caller's device id from its signed device cookie, or null. */
export function deviceOf(request: FastifyRequest): string | null {
  const raw = request.cookies[DEVICE_COOKIE];
  if (!raw) return null;
  const u = request.unsignCookie(raw);
  return u.valid && u.value && /^[A-Za-z0-9_-]{16,64}$/.test(u.value) ? u.value : null;
}

function setDeviceCookie(reply: FastifyReply, deps: LanDeps, deviceId: string): void {
  reply.setCookie(DEVICE_COOKIE, deviceId, {
    signed: true,
    httpOnly: true,
    sameSite: 'lax',
    path: '/',
    maxAge: 5 * 365 * 24 * 3600,
    secure: deps.ctx.lanTransport?.tls_fingerprint != null,
  });
}

function setSessionCookie(reply: FastifyReply, deps: LanDeps, userId: string): void {
  reply.setCookie(SESSION_COOKIE, `${userId}.${codeTag(deps)}`, {
    signed: true,
    httpOnly: true,
    sameSite: 'lax',
    path: '/',
    maxAge: COOKIE_MAX_AGE_S,
    secure: deps.ctx.lanTransport?.tls_fingerprint != null, // Secure unless the admin chose --insecure-http
  });
}

export function registerSessionRoutes(app: FastifyInstance, deps: LanDeps): void {
  const { sessions } = deps;
  const bans = new BanStore(deps.ctx.host.store);

  // Creates a session, or resumes the caller's (re-issuing the cookie, e.g. after the access code changed).
  app.post('/api/session', { config: { accessCode: false } }, async (request, reply) => {
    const body = createSessionSchema.parse(request.body);
    const st = states.get(request) ?? resolveLanState(request, deps, new Map());
    if (deps.accessCode !== null && !st.codeOk) {
      if (body.code === undefined) throw new ColonyError('E_ACCESS_CODE', 'this colony needs an access code: ask the person running it');
      // The global budget is checked before the code: while it is spent, no guess is tested, right or wrong.
      const wait = deps.codeFailures.retryAfterS(deps.now());
      if (wait > 0) {
        reply.header('retry-after', String(wait));
        throw new ColonyError('E_RATE_LIMITED', `too many wrong access codes on this colony (from all addresses); retry in ${wait} s`, { retry_after_s: wait });
      }
      if (!safeEqual(normaliseCode(body.code), deps.accessCode)) {
        deps.codeFailures.record(deps.now());
        throw new ColonyError('E_ACCESS_CODE', 'wrong access code');
      }
    }
    if (st.session?.revoked) throw new ColonyError('E_FORBIDDEN', "this session was revoked by the host's admin");
    const existing = st.session;
    if (existing) {
      const who = { actor: submitterOf(existing), origin: st.ip };
      if (existing.display_name !== body.display_name) sessions.rename(existing.user_id, body.display_name, who);
      if (!st.codeOk) deps.ctx.host.store.appendAudit({ ...who, action: 'session.admitted', target: existing.user_id, detail: { with_code: true } });
      setSessionCookie(reply, deps, existing.user_id);
      return reply.code(200).send({ session: sessions.get(existing.user_id) });
    }
    // A new session: not from a browser or address the admin banned when revoking someone.
    const device = deviceOf(request);
    if (bans.has('device', device) || bans.has('address', st.ip)) {
      throw new ColonyError('E_FORBIDDEN', "the host's admin has banned new sessions from this browser or address");
    }
    const now = deps.now();
    const s: UserSession = {
      user_id: randomUUID(),
      display_name: body.display_name,
      origin_ip: st.ip,
      is_local: isLoopbackIp(st.ip),
      permissions: [...DEFAULT_PERMISSIONS],
      tasks_submitted: 0,
      created_at: now,
      last_seen_at: now,
      revoked: false,
    };
    sessions.create(s, { actor: submitterOf(s), origin: st.ip });
    const deviceId = device ?? randomBytes(16).toString('base64url');
    sessions.setDevice(s.user_id, deviceId);
    setDeviceCookie(reply, deps, deviceId);
    setSessionCookie(reply, deps, s.user_id);
    return reply.code(201).send({ session: s });
  });

  // No session yet is a normal answer (a first visit asks for it), not a 401: the browser logs every 4xx as a console error.
  app.get('/api/session', async (request) => ({
    session: states.get(request)?.session ? requireSession(request) : null,
    access_code_required: deps.accessCode !== null,
  }));

  app.patch('/api/session', async (request) => {
    const s = requireSession(request);
    const { display_name } = renameSessionSchema.parse(request.body);
    sessions.rename(s.user_id, display_name, lanActor(request));
    return { session: sessions.get(s.user_id) };
  });
}
