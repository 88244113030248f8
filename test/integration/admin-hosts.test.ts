/**
 * GET /admin/hosts: the colony hosts sharing one PostgreSQL store, for the
 * admin dashboard. Only the admin may read it (no token, a LAN user's
 * session, the user port: refused); on SQLite it says so with an empty
 * list; on PostgreSQL two real hosts (admin apps over one throwaway
 * database) each list both, with their lease state and graphs owned and
 * themselves marked, and after one stops cleanly the other shows it claimed.
 * The task detail carries its graph's owner so the dashboard can tell a
 * foreign task.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminApi, makeHome, startIdleAdmin, testConfig, type IdleAdmin, type TestHome } from '../helpers/admin-host.js';
import { pgMissing, startPg, type PgCluster } from '../helpers/pg.js';
import { waitFor } from '../helpers/proc.js';
import { adminCall, startUserHost, visitor, type UserHost } from '../helpers/user-host.js';

interface HostsBody {
  backend: string;
  this_host: string | null;
  hosts: { id: string; lease: string; claimed_by: string | null; graphs: number; this_host: boolean; hostname: string }[];
}

describe('GET /admin/hosts on SQLite', () => {
  let h: UserHost;
  beforeAll(async () => {
    h = await startUserHost();
  });
  afterAll(async () => {
    await h.close();
    h.home.cleanup();
  });

  it('answers the admin with the SQLite backend and no host list', async () => {
    const r = await adminCall(h, 'GET', '/admin/hosts');
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toEqual({ backend: 'sqlite', this_host: null, hosts: [] });
  });

  it('refuses a caller without the admin token and a LAN user, on either port', async () => {
    const get = (remoteAddress: string, extra: Record<string, string> = {}) =>
      h.admin.inject({ method: 'GET', url: '/admin/hosts', remoteAddress, headers: { host: '127.0.0.1:8080', ...extra } });
    expect((await get('127.0.0.1')).statusCode).toBe(401);
    const user = await visitor(h, '192.168.1.20');
    const onUserPort = await user.call('GET', '/admin/hosts');
    expect(onUserPort.statusCode).toBe(404);
    // The LAN user's session cookie sent to the admin app, from the LAN and even from loopback.
    const fromLan = await get('192.168.1.20', { cookie: user.cookie });
    expect([fromLan.statusCode, (fromLan.json() as { code: string }).code]).toEqual([403, 'E_NOT_LOOPBACK']);
    expect((await get('127.0.0.1', { cookie: user.cookie })).statusCode).toBe(401);
  });
});

const missing = pgMissing();

describe.skipIf(missing !== null)(`GET /admin/hosts on PostgreSQL${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let pgc: PgCluster | null = null;
  const homes: TestHome[] = [];
  const admins: IdleAdmin[] = [];
  beforeAll(async () => {
    pgc = await startPg();
  }, 120_000);
  afterAll(async () => {
    for (const a of admins) await a.close().catch(() => undefined);
    pgc?.destroy();
    for (const h of homes) h.cleanup();
  });

  async function admin(url: string, name: string): Promise<IdleAdmin> {
    const home = makeHome(`colony-hosts-${name}-`);
    homes.push(home);
    const a = await startIdleAdmin(home, testConfig({ store: { url, lease_ms: 2_000, heartbeat_ms: 200 } }));
    admins.push(a);
    return a;
  }

  it('lists both hosts with lease state, graphs owned and this host marked; shows a stopped host claimed; the task detail names its owner', async () => {
    const url = await (pgc as PgCluster).createDatabase('admin_hosts');
    const a = await admin(url, 'a');
    const b = await admin(url, 'b');
    const idA = a.host.cluster?.cluster.hostId as string;
    const idB = b.host.cluster?.cluster.hostId as string;
    expect(idA).not.toBe(idB);
    const g = { name: 'on-b', tasks: [{ id: 't', prompt: 'true', engine: 'exec', depends_on: [], trigger: 'all_success' as const }] };
    const who = { actor: 'test', origin: 'local' };
    const taskB = b.host.service.submitGraph(g, { submittedBy: 'admin', who, workspace: process.cwd(), defaultTarget: 'host', holdHostTasks: false })
      .task_ids[0] as string;

    for (const [self, other, port, token] of [
      [idA, idB, a.port, a.token],
      [idB, idA, b.port, b.token],
    ] as const) {
      const r = await adminApi(port, token)('GET', '/admin/hosts');
      expect(r.status, r.body).toBe(200);
      const body = r.json as unknown as HostsBody;
      expect(body.backend).toBe('postgres');
      expect(body.this_host).toBe(self);
      expect(body.hosts.map((x) => [x.id, x.lease, x.claimed_by, x.this_host]).sort()).toEqual(
        [
          [self, 'live', null, true],
          [other, 'live', null, false],
        ].sort(),
      );
      expect(body.hosts.find((x) => x.id === idB)?.graphs).toBe(1);
      expect(body.hosts.find((x) => x.id === idA)?.graphs).toBe(0);
    }

    // A's task detail of B's task names B as its owner; A refuses to act on it.
    const detail = await adminApi(a.port, a.token)('GET', `/admin/tasks/${encodeURIComponent(taskB)}`);
    expect((detail.json['task'] as { owner_host: string }).owner_host).toBe(idB);
    const skip = await adminApi(a.port, a.token)('POST', `/admin/tasks/${encodeURIComponent(taskB)}/skip`);
    expect([skip.status, skip.json['code']]).toEqual([409, 'E_FOREIGN_TASK']);
    // A task of B's held for approval: A's Approvals list shows it with its owner (the dashboard disables its
    // buttons there), and A refuses to approve it.
    const held = b.host.service.submitGraph(
      { name: 'held-on-b', tasks: [{ id: 'h', prompt: 'true', engine: 'exec', depends_on: [], trigger: 'all_success' as const }] },
      { submittedBy: 'ada', who, workspace: process.cwd(), defaultTarget: 'host', holdHostTasks: true },
    ).task_ids[0] as string;
    const pending = await adminApi(a.port, a.token)('GET', '/admin/pending');
    const listed = (pending.json['tasks'] as { id: string; owner_host: string | null }[]).find((t) => t.id === held);
    expect(listed?.owner_host).toBe(idB);
    const approve = await adminApi(a.port, a.token)('POST', `/admin/approve/${encodeURIComponent(held)}`, {});
    expect([approve.status, approve.json['code']]).toEqual([409, 'E_FOREIGN_TASK']);
    expect(b.host.service.stateOf(held)).toBe('awaiting_approval');

    // B stops cleanly (its lease ends now): A's heartbeat claims it and its graph.
    await b.close();
    admins.splice(admins.indexOf(b), 1);
    await waitFor(
      async () => {
        const body = (await adminApi(a.port, a.token)('GET', '/admin/hosts')).json as unknown as HostsBody;
        const rowB = body.hosts.find((x) => x.id === idB);
        return rowB?.lease === 'claimed' ? body : undefined;
      },
      'A to list B as claimed',
      15_000,
    ).then((body) => {
      expect(body.hosts.find((x) => x.id === idB)).toMatchObject({ claimed_by: idA, graphs: 0, this_host: false });
      expect(body.hosts.find((x) => x.id === idA)).toMatchObject({ lease: 'live', graphs: 2, this_host: true }); // B's two graphs
    });
  }, 60_000);
});
