/**
 * Admin control of LAN sessions: list, rename, grant/withdraw permissions,
 * revoke. Revoking also revokes the person's workers (their connections close
 * at once) and can ban them (issue 14): `{ban: [...]}` with any of
 *   browser   no new session from the browser that made this one (device cookie)
 *   address   no new session from the address it came from
 *   pairing   their unused pairing codes are void; no pairing from that browser or address
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ColonyError } from '../../core/errors.js';
import { PERMISSIONS, submitterOf } from '../../core/permissions.js';
import { remoteOf } from '../remote-host.js';
import { BanStore, type BanKind } from '../../store/bans.js';
import { SessionStore } from '../../store/sessions.js';
import { WorkerStore } from '../../store/workers.js';
import type { Actor } from '../../store/store.js';
import type { ServerContext } from '../context.js';
import { idParam } from '../schemas.js';
import { displayName } from '../user/schemas.js';

const patchSessionSchema = z
  .strictObject({
    display_name: displayName.optional(),
    permissions: z.array(z.enum(PERMISSIONS)).max(PERMISSIONS.length).optional(),
  })
  .refine((b) => b.display_name !== undefined || b.permissions !== undefined, 'send display_name and/or permissions');

const BAN_CHOICES = ['browser', 'address', 'pairing'] as const;
const revokeSchema = z.strictObject({ ban: z.array(z.enum(BAN_CHOICES)).max(BAN_CHOICES.length).optional() });

const adminActor = (request: FastifyRequest): Actor => ({ actor: 'admin', origin: request.socket.remoteAddress ?? 'unknown' });

export function registerAdminSessionRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const sessions = new SessionStore(ctx.host.store);
  const workers = new WorkerStore(ctx.host.store);
  const { store } = ctx.host;
  const requireSession = (id: string) => {
    const s = sessions.get(id);
    if (!s) throw new ColonyError('E_NOT_FOUND', `no session ${id}`);
    return s;
  };

  app.get('/admin/sessions', async () => {
    const costs = new Map(store.costBy('submitted_by').map((c) => [c.key, c.cost_usd]));
    return { sessions: sessions.list().map((s) => ({ ...s, cost_usd: costs.get(submitterOf(s)) ?? 0 })) };
  });

  app.patch('/admin/sessions/:id', async (request) => {
    const { id } = idParam.parse(request.params);
    const body = patchSessionSchema.parse(request.body);
    requireSession(id);
    const who = adminActor(request);
    store.transaction(() => {
      if (body.display_name !== undefined) sessions.rename(id, body.display_name, who);
      if (body.permissions !== undefined) sessions.setPermissions(id, [...new Set(body.permissions)], who);
    });
    return { session: requireSession(id) };
  });

  app.post('/admin/sessions/:id/revoke', async (request) => {
    const { id } = idParam.parse(request.params);
    const { ban = [] } = revokeSchema.parse(request.body ?? {});
    const s = requireSession(id);
    const who = adminActor(request);
    const now = Date.now();
    const device = sessions.deviceOf(id);
    const owner = submitterOf(s);
    const bans: Array<{ kind: BanKind; value: string }> = [];
    if (ban.includes('browser') && device) bans.push({ kind: 'device', value: device });
    if (ban.includes('address')) bans.push({ kind: 'address', value: s.origin_ip });
    if (ban.includes('pairing')) {
      bans.push({ kind: 'pairing', value: s.origin_ip });
      if (device) bans.push({ kind: 'pairing', value: `device:${device}` });
    }
    store.transaction(() => {
      if (!s.revoked) sessions.revoke(id, who);
      new BanStore(store).add(bans, id, now, who);
      if (ban.includes('pairing')) workers.voidCodes(owner, now);
    });
    // Their workers: revoked, and (through the remote host) disconnected at once.
    const remote = remoteOf(ctx);
    const revoked = workers.list({ owner }).map((w) => (remote ? remote.revoke(w.id, who) : workers.revoke(w.id, who, now)).id);
    return {
      session: requireSession(id),
      banned: bans.map((b) => b.kind),
      workers_revoked: revoked,
      ...(ban.includes('browser') && !device ? { note: 'this session predates device cookies: its browser could not be banned' } : {}),
    };
  });
}
