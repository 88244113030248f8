/** Pending changes for the admin: list, view the diff; approve/reject go through /admin/approve|reject/:id. */
import type { FastifyInstance } from 'fastify';
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
}
