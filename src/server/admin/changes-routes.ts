/**
 * Pending changes for the admin: list, view the diff, request changes (the
 * agent's session continues with the comment: runner/follow-up.ts);
 * approve/reject go through /admin/approve|reject/:id.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { adminActor } from './routes.js';
import { ColonyError } from '../../core/errors.js';
import type { ChangeService } from '../../runner/change-service.js';
import { idParam } from '../schemas.js';

export function registerChangeRoutes(app: FastifyInstance, changes: ChangeService): void {
  app.get('/admin/pending-changes', async (request) => {
    const status = (request.query as Record<string, unknown>)['status'];
    const list = changes.changes.list(status === 'all' ? undefined : 'pending');
    return { changes: list.map(({ patch: _p, ...rest }) => rest) };
  });
  app.get('/admin/pending-changes/:id', async (request) => {
    const { id } = idParam.parse(request.params);
    const c = changes.changes.get(id);
    if (!c) throw new ColonyError('E_NOT_FOUND', `no change for task ${id}`);
    return { change: c };
  });
  const requestBody = z.object({ comment: z.string().trim().min(1, 'a comment is required').max(20_000) }).strict();
  app.post('/admin/pending-changes/:id/request-changes', async (request, reply) => {
    const { id } = idParam.parse(request.params);
    const { comment } = requestBody.parse(request.body ?? {});
    const { change, follow_up } = changes.requestChanges(id, comment, adminActor(request));
    const { patch: _p, ...rest } = change;
    return reply.code(202).send({ change: rest, follow_up });
  });
}
