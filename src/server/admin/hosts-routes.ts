/**
 * The colony hosts sharing this host's PostgreSQL database (store/cluster.ts)
 * for the admin dashboard: each host's lease state and graphs owned, and
 * which one is this host. On SQLite there is one host and no list.
 */
import type { FastifyInstance } from 'fastify';
import type { Host } from '../../runner/host.js';

export function registerHostsRoutes(app: FastifyInstance, host: Host): void {
  app.get('/admin/hosts', async () => {
    const c = host.cluster?.cluster;
    if (!c) return { backend: 'sqlite', this_host: null, hosts: [] };
    return { backend: 'postgres', this_host: c.hostId, hosts: c.list().map((r) => ({ ...r, this_host: r.id === c.hostId })) };
  });
}
