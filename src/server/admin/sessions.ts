/** Admin control of LAN sessions: list, rename, grant/withdraw permissions, revoke. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ColonyError } from '../../core/errors.js';
import { PERMISSIONS, submitterOf } from '../../core/permissions.js';
import { SessionStore } from '../../store/sessions.js';
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

const adminActor = (request: FastifyRequest): Actor => ({ actor: 'admin', origin: request.socket.remoteAddress ?? 'unknown' });

export function registerAdminSessionRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const sessions = new SessionStore(ctx.host.store);
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
    requireSession(id);
    sessions.revoke(id, adminActor(request));
    return { session: requireSession(id) };
  });
}
