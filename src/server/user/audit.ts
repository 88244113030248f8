/**
 * Error responses of the user app, each refusal audited: whatever a LAN
 * client is refused (403 address/origin/permission, 401 code/session, 404 —
 * including another user's task —, 413, 429, 400) becomes one `lan.refused`
 * record with the session (or 'anonymous') and the socket's address. Changes
 * are audited where they happen (session and task services).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ColonyError } from '../../core/errors.js';
import { sendError, toHttpError } from '../errors.js';
import type { Store } from '../../store/store.js';
import { lanActor } from './session.js';
import { RefusalWindow } from '../../core/refusal-window.js';
import { ipBucket } from './deps.js';

const notes = new WeakMap<FastifyRequest, string>();

/** Adds a reason the client must not see (e.g. "task of another user") to the audit record of this request's refusal. */
export function noteRefusal(request: FastifyRequest, note: string): void {
  notes.set(request, note);
}

// Per source (session or address, IPv6 by /64) and code, once a second — not per path, or a
// flood of distinct 404 paths would write one record each; and at most 20 records a second in all.
const refusals = new RefusalWindow(1000, 10_000, 20);

function auditRefusal(store: Store, request: FastifyRequest, err: ColonyError): void {
  const note = notes.get(request);
  const who = lanActor(request);
  const target = request.url.split('?')[0]?.slice(0, 300) ?? null;
  const source = who.actor === 'anonymous' ? ipBucket(who.origin) : who.actor;
  const { write, suppressed } = refusals.admit(`${source}|${err.code}`, Date.now());
  if (!write) return;
  try {
    store.appendAudit({
      ...who,
      action: 'lan.refused',
      target,
      detail: {
        code: err.code,
        status: err.status,
        method: request.method,
        ...(note ? { note } : {}),
        ...(suppressed ? { repeats_not_recorded: suppressed } : {}),
      },
    });
  } catch (e) {
    request.log.error({ err: e }, 'could not audit a refused LAN request'); // the refusal itself still goes out
  }
}

export function installLanErrorHandling(app: FastifyInstance, store: Store): void {
  app.setErrorHandler((error, request, reply) => {
    const err = toHttpError(error);
    if (err.status >= 500) request.log.error({ err: error }, 'unhandled error');
    else auditRefusal(store, request, err);
    return sendError(reply, err);
  });
  app.setNotFoundHandler((request, reply) => {
    const err = new ColonyError('E_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`);
    auditRefusal(store, request, err);
    return sendError(reply, err);
  });
}
