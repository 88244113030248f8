/**
 * `colony run --resume` on a database shared by several hosts (issue 19): the
 * unfinished graph found for the file may belong to another host.
 *  - owner live (its lease running): refused, E_FOREIGN_TASK naming the owner —
 *    two hosts never run one graph; resume it through that host, or stop it;
 *  - owner dead (lease expired): no shortcut — this host takes it over by the
 *    normal claim (HostWatch, after a lease of healthy beats, with every graph
 *    of the dead host, recovered by the one recovery path), then resumes it;
 *    if another host claims it first, that host owns it: refused as above.
 */
import { ColonyError } from '../core/errors.js';
import type { GraphRow } from '../store/rows.js';
import type { Host } from './host.js';

/** Resolves once `graph` is this host's (at once on SQLite or when it already is); throws E_FOREIGN_TASK otherwise. */
export async function ownResumedGraph(host: Host, graph: GraphRow, note: (line: string) => void): Promise<void> {
  const c = host.cluster;
  if (!c) return;
  const me = c.cluster.hostId;
  const { lease_ms: leaseMs, heartbeat_ms: beatMs } = host.config.store;
  // The claim comes after a whole lease of healthy beats plus the owner's remaining lease: two leases and some beats.
  const deadline = Date.now() + 2 * leaseMs + 4 * beatMs;
  let told = false;
  for (;;) {
    const owner = host.store.getGraph(graph.id)?.owner_host ?? null;
    if (owner === null || owner === me) return;
    const row = c.cluster.list().find((h) => h.id === owner);
    if (row?.lease === 'live')
      throw new ColonyError(
        'E_FOREIGN_TASK',
        `graph ${graph.id} belongs to colony host ${owner}, which is running: resume it through that host, or stop that host first`,
        { owner_host: owner },
      );
    if (Date.now() > deadline)
      throw new ColonyError(
        'E_FOREIGN_TASK',
        `graph ${graph.id} belongs to colony host ${owner}, whose lease expired, and this host did not take it over in time`,
        {
          owner_host: owner,
        },
      );
    if (!told)
      note(
        `graph ${graph.id} belongs to host ${owner}, which stopped renewing its lease: taking it over (up to ${Math.ceil((deadline - Date.now()) / 1000)} s)`,
      );
    told = true;
    await new Promise((r) => setTimeout(r, beatMs));
  }
}
