/**
 * Several hosts on one PostgreSQL database, at the store level (real
 * cluster, two or three stores joined as hosts in this process): one audit
 * chain and gap-free event ids while hosts write in turn, each host loading
 * only its own graphs, live events of one host reaching the other's live
 * listeners once each and in order, the claim of an expired host by exactly
 * one live host, fencing of the host that lost its lease, and an action on
 * another host's task refused with E_FOREIGN_TASK.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EventRecord } from '../../src/core/live-types.js';
import { Scheduler } from '../../src/core/scheduler.js';
import { existsSync, readFileSync } from 'node:fs';
import { hostIdFile, legacyHostId } from '../../src/runner/host-id.js';
import { openHost, type Host } from '../../src/runner/host.js';
import { TaskService } from '../../src/runner/service.js';
import { Cluster, listHosts } from '../../src/store/cluster.js';
import { dbOf } from '../../src/store/internal.js';
import { openStore } from '../../src/store/open.js';
import { SYSTEM, type Store } from '../../src/store/store.js';
import { makeHome, testConfig } from '../helpers/admin-host.js';
import { pgMissing, startPg, type PgCluster } from '../helpers/pg.js';
import { waitFor } from '../helpers/proc.js';
import { ADMIN, codeOf, submit, task } from './store-conformance.js';

const missing = pgMissing();
let pgc: PgCluster | null = null;
const opened: Store[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  if (missing) return;
  pgc = await startPg();
}, 120_000);

// Each test has its own database: its stores close after it (the throwaway cluster allows 50 connections).
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  pgc?.destroy();
});

let dbs = 0;
async function database(): Promise<string> {
  return (pgc as PgCluster).createDatabase(`hosts_${dbs++}`);
}

function host(url: string, hostId: string, leaseMs = 60_000): { store: Store; cluster: Cluster; fenced: string[] } {
  const store = openStore(url);
  opened.push(store);
  const fenced: string[] = [];
  const cluster = Cluster.join(store, { hostId, leaseMs, beatMs: null, onFenced: (m) => fenced.push(m) }) as Cluster;
  return { store, cluster, fenced };
}

describe.skipIf(missing !== null)(`several hosts on one PostgreSQL${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('keeps one audit chain and gap-free ids while hosts write in turn; each host loads only its own graphs', async () => {
    const url = await database();
    const a = host(url, 'host-a');
    const b = host(url, 'host-b');
    const sa = new Scheduler();
    const sb = new Scheduler();
    for (let i = 0; i < 5; i++) {
      submit(a.store, sa, `ga${i}`, [task(`ga${i}:x`), task(`ga${i}:y`, [`ga${i}:x`])]);
      submit(b.store, sb, `gb${i}`, [task(`gb${i}:x`)]);
      b.store.appendAudit({ ...ADMIN, action: 'test.b', target: `${i}`, detail: {} });
      a.store.applyTransitions(
        sa.claim('host', 1, (id) => id === `ga${i}:x`),
        SYSTEM,
      );
    }
    for (const s of [a.store, b.store]) expect(s.verifyAudit()).toMatchObject({ ok: true });
    const db = dbOf(a.store);
    const ids = db.prepare('SELECT id FROM log ORDER BY id').pluck().all() as number[];
    expect(ids).toEqual(ids.map((_, i) => i + 1)); // no id taken twice, none skipped
    const seqs = db.prepare('SELECT seq FROM tasks ORDER BY seq').pluck().all() as number[];
    expect(new Set(seqs).size).toBe(15);
    expect(a.store.loadAll().map((t) => t.graph_id)).toEqual(expect.arrayContaining(['ga0', 'ga4']));
    expect(a.store.loadAll().some((t) => t.graph_id.startsWith('gb'))).toBe(false);
    expect(b.store.loadAll().map((t) => t.id)).toEqual(['gb0:x', 'gb1:x', 'gb2:x', 'gb3:x', 'gb4:x']);
  }, 60_000);

  it("delivers another host's live events to this host's live listeners through NOTIFY, each once and in id order", async () => {
    const url = await database();
    const a = host(url, 'host-a');
    const b = host(url, 'host-b');
    const seen: EventRecord[] = [];
    const own: EventRecord[] = [];
    a.store.subscribeLive((evs) => seen.push(...evs));
    a.store.subscribe((evs) => own.push(...evs));
    const sa = new Scheduler();
    const sb = new Scheduler();
    submit(b.store, sb, 'gb', [task('gb:x'), task('gb:y')]);
    submit(a.store, sa, 'ga', [task('ga:x')]);
    b.store.publish('worker', null, { id: 'w-from-b' });
    await waitFor(() => seen.some((e) => e.data['id'] === 'w-from-b'), "host B's event at host A", 10_000);
    await new Promise((r) => setTimeout(r, 300));
    const ids = seen.map((e) => e.id);
    expect(ids).toEqual([...new Set(ids)].sort((x, y) => x - y)); // once each, in order
    expect(seen.some((e) => e.task_id === 'gb:x')).toBe(true);
    expect(seen.some((e) => e.task_id === 'ga:x')).toBe(true); // its own too, once
    // The host's own logic (subscribe) hears only this host's writes.
    expect(own.some((e) => e.task_id?.startsWith('gb'))).toBe(false);
  }, 60_000);

  it('lets exactly one live host claim an expired host, fences the expired one, and refuses actions on a foreign task', async () => {
    const url = await database();
    const a = host(url, 'host-a');
    const c = host(url, 'host-c');
    const b = host(url, 'host-b', 300); // never renews: expires in 300 ms
    const sb = new Scheduler();
    submit(b.store, sb, 'gb', [task('gb:x'), task('gb:y')]);
    const service = new TaskService(a.store, testConfig());
    service.recover(a.store.ownedGraphsInFlight());
    expect(codeOf(() => service.retry('gb:x', ADMIN))).toBe('E_FOREIGN_TASK');
    expect(() => service.cancelPending('gb:y', ADMIN)).toThrow(/belongs to colony host host-b/);
    await new Promise((r) => setTimeout(r, 500));
    expect(listHosts(dbOf(a.store)).find((h) => h.id === 'host-b')?.lease).toBe('expired');
    const first = a.cluster.claimExpired();
    const second = c.cluster.claimExpired();
    expect(first).toEqual({ hosts: ['host-b'], graphs: ['gb'] });
    expect(second).toEqual({ hosts: [], graphs: [] });
    // The presumed-dead host finds out at its next write (and at its next heartbeat): nothing it writes lands.
    expect(codeOf(() => b.store.publish('worker', null, { id: 'late' }))).toBe('E_HOST_FENCED');
    expect(b.fenced).toHaveLength(1);
    expect(b.cluster.heartbeat()).toBe(false);
    expect(b.fenced).toHaveLength(1);
    // The adopter now acts on the task.
    service.recover(['gb']);
    expect(service.cancelPending('gb:y', ADMIN).map((t) => t.to)).toContain('cancelled');
    expect(listHosts(dbOf(a.store)).find((h) => h.id === 'host-b')).toMatchObject({ lease: 'claimed', claimed_by: 'host-a', graphs: 0 });
    expect(a.store.verifyAudit()).toMatchObject({ ok: true });
  }, 60_000);

  it('gives each expired host to exactly one of two host processes claiming at the same moment', async () => {
    const url = await database();
    const script = fileURLToPath(new URL('../helpers/claim-host.ts', import.meta.url));
    const claimers = ['claimer-1', 'claimer-2'].map((id) => {
      const child = spawn(process.execPath, ['--import', 'tsx', script, url, id], { stdio: ['pipe', 'pipe', 'inherit'] });
      children.push(child);
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      return { child, lines: () => out.split('\n').filter(Boolean) };
    });
    await waitFor(() => claimers.every((c) => c.lines()[0] === 'ready') || undefined, 'both claimers ready', 30_000);
    const won: string[] = [];
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 3; i++) {
        const dead = host(url, `dead-${round}-${i}`, 200);
        submit(dead.store, new Scheduler(), `g-${round}-${i}`, [task(`g-${round}-${i}:x`)]);
      }
      await new Promise((r) => setTimeout(r, 400)); // their leases expire
      for (const c of claimers) c.child.stdin.write('go\n');
      const answers = await waitFor(
        () => {
          const got = claimers.map((c) => c.lines()[round + 1]);
          return got.every((l) => l !== undefined) ? (got as string[]).map((l) => JSON.parse(l) as { hosts: string[]; graphs: string[] }) : undefined;
        },
        `round ${round} claims`,
        30_000,
      );
      won.push(...answers.flatMap((a) => a.hosts));
    }
    for (const c of claimers) c.child.stdin.end('stop\n');
    const expected = Array.from({ length: 15 }, (_, k) => `dead-${Math.floor(k / 3)}-${k % 3}`);
    expect([...won].sort()).toEqual([...expected].sort()); // each dead host claimed once, by one claimer
    const owners = await (async () => {
      const db = dbOf(host(url, 'observer').store);
      return db.prepare("SELECT g.id AS g, g.owner_host AS o, h.claimed_by AS c FROM graphs g JOIN hosts h ON h.id = 'dead-' || substr(g.id, 3)").all() as {
        g: string;
        o: string;
        c: string;
      }[];
    })();
    expect(owners).toHaveLength(15);
    for (const r of owners) expect([r.g, r.o]).toEqual([r.g, r.c]); // each graph went with its host's claimant
  }, 120_000);

  it('an upgraded home keeps the old id its graphs are owned under; a new home gets a random id of its own', async () => {
    const url = await database();
    const old = makeHome('colony-pg-upgrade-');
    const fresh = makeHome('colony-pg-fresh-');
    const legacy = legacyHostId(old.paths.home);
    const before = host(url, legacy); // the host as it ran before <home>/host-id existed
    submit(before.store, new Scheduler(), 'g-old', [task('g-old:x', [], { state: 'paused' })]);
    before.cluster.release();
    expect(existsSync(hostIdFile(old.paths.home))).toBe(false);
    const config = testConfig({ store: { url }, runner: { worktrees: 'off' } });
    const hosts = [openHost({ paths: old.paths, config }), openHost({ paths: fresh.paths, config })];
    try {
      const [upgraded, other] = hosts as [Host, Host];
      expect(upgraded.cluster?.cluster.hostId).toBe(legacy);
      expect(readFileSync(hostIdFile(old.paths.home), 'utf8').trim()).toBe(legacy);
      expect(upgraded.service.stateOf('g-old:x')).toBe('paused'); // still its own graph, loaded
      const graphs = dbOf(upgraded.store).prepare('SELECT id, owner_host FROM graphs').all();
      expect(graphs).toEqual([{ id: 'g-old', owner_host: legacy }]);
      const otherId = other.cluster?.cluster.hostId ?? '';
      expect(otherId).not.toBe(legacyHostId(fresh.paths.home));
      expect(otherId).toMatch(/-[0-9a-f]{12}$/);
      expect(other.service.stateOf('g-old:x')).toBeUndefined();
    } finally {
      for (const h of hosts) await h.close();
      old.cleanup();
      fresh.cleanup();
    }
  }, 30_000);

  it('never fences a healthy host whose main thread is busy for longer than its lease', async () => {
    const url = await database();
    const fenced: string[] = [];
    const home = makeHome('colony-pg-busy-');
    const config = testConfig({ store: { url, lease_ms: 1_000, heartbeat_ms: 200 }, runner: { worktrees: 'off' } });
    const h = openHost({ paths: home.paths, config, hostId: 'busy-0', onFenced: (m) => fenced.push(m) });
    try {
      // The main thread does nothing else for 2.5 leases (a big synchronous submission looks like this to the event loop).
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2_500);
      await new Promise((r) => setTimeout(r, 500)); // the main thread's own check and any message of the watchdog run now
      expect(fenced).toEqual([]);
      expect(h.cluster?.fence.fenced).toBe(false);
      const row = listHosts(dbOf(h.store)).find((r) => r.id === 'busy-0');
      expect([row?.lease, row?.claimed_by]).toEqual(['live', null]);
    } finally {
      await h.close();
      home.cleanup();
    }
  }, 30_000);

  it('keeps a clean stop released: renewals from the listener thread after the release neither revive the lease nor fence', async () => {
    const url = await database();
    const store = openStore(url);
    opened.push(store);
    const fenced: string[] = [];
    const cluster = Cluster.join(store, { hostId: 'leaving-0', leaseMs: 1_000, beatMs: 50, onFenced: (m) => fenced.push(m) }) as Cluster;
    const lease = (): string | undefined => listHosts(dbOf(store)).find((r) => r.id === 'leaving-0')?.lease;
    await waitFor(() => lease() === 'live', 'the first renewal');
    cluster.release();
    // Twenty beat periods: a listener still renewing would have made the lease live again by now.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(lease()).toBe('expired');
    expect(cluster.heartbeat()).toBe(false);
    expect(lease()).toBe('expired');
    expect(fenced).toEqual([]);
    // Another host takes the released host's graphs at once, as after any ended lease.
    expect(host(url, 'taker-0').cluster.claimExpired().hosts).toEqual(['leaving-0']);
  }, 30_000);

  it('fences both hosts when the database is away for longer than a lease; restarted, neither takes the other over', async () => {
    const url = await database();
    const fenced: string[] = [];
    const homes = [makeHome('colony-pg-outage-a-'), makeHome('colony-pg-outage-b-')];
    const config = testConfig({ store: { url, lease_ms: 1_000, heartbeat_ms: 200 }, runner: { worktrees: 'off' } });
    const open = (): Host[] => homes.map((home, i) => openHost({ paths: home.paths, config, hostId: `outage-${i}`, onFenced: (m) => fenced.push(m) }));
    let hosts = open();
    try {
      const c = pgc as PgCluster;
      c.stop();
      await new Promise((r) => setTimeout(r, 2_500)); // both leases run out meanwhile
      c.start();
      // Neither could prove its lease: each fenced itself (a supervisor restarts it on status 75).
      expect(fenced).toHaveLength(2);
      expect(fenced.every((m) => m.includes('fenced itself'))).toBe(true);
      for (const h of hosts) await h.close();
      hosts = open();
      await new Promise((r) => setTimeout(r, 3_000)); // several beats and more than a lease after the return
      expect(fenced).toHaveLength(2);
      const rows = listHosts(dbOf(hosts[0]?.store as Store)).filter((h) => h.id.startsWith('outage-'));
      expect(rows.map((h) => [h.id, h.lease, h.claimed_by])).toEqual([
        ['outage-0', 'live', null],
        ['outage-1', 'live', null],
      ]);
    } finally {
      for (const h of hosts) await h.close();
      for (const home of homes) home.cleanup();
    }
  }, 60_000);
});
