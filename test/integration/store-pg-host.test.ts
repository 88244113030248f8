/**
 * A host on PostgreSQL (`store.url`), end to end: a graph of exec tasks runs
 * while the database goes away and comes back. Dispatch pauses (writes fail
 * fast with E_STORE and wait in the pending-writes retry), then resumes; every
 * task runs exactly once and the audit chain is whole; live events keep
 * coming, each once (LISTEN resumes: another host's event arrives after).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHost, type Host } from '../../src/runner/host.js';
import type { EventRecord } from '../../src/core/live-types.js';
import { Cluster } from '../../src/store/cluster.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { openStore } from '../../src/store/open.js';
import { makeHome, testConfig, type TestHome } from '../helpers/admin-host.js';
import { assertBuilt, runCli } from '../helpers/cli.js';
import { pgMissing, startPg, type PgCluster } from '../helpers/pg.js';
import { waitFor } from '../helpers/proc.js';

const missing = pgMissing();
let cluster: PgCluster | null = null;
let url = '';

beforeAll(async () => {
  if (missing) return;
  cluster = await startPg();
  url = await cluster.createDatabase('host_db');
}, 120_000);

afterAll(() => cluster?.destroy());

const DONE = ['succeeded', 'failed', 'timed_out', 'cancelled', 'upstream_failed', 'skipped'];

describe.skipIf(missing !== null)(`host on PostgreSQL${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let home: TestHome | null = null;
  let host: Host | null = null;

  afterAll(async () => {
    await host?.close();
    home?.cleanup();
  });

  it('pauses dispatch while the database is down and resumes when it is back, each task run exactly once', async () => {
    home = makeHome('colony-pg-host-');
    const ws = home.workspace;
    host = openHost({
      paths: home.paths,
      // A long heartbeat: live events of another host can reach this one only through LISTEN/NOTIFY here.
      config: testConfig({
        store: { url, lease_ms: 120_000, heartbeat_ms: 60_000 },
        runner: { worktrees: 'off', kill_grace_ms: 500 },
        safety: { allowed_roots: [ws] },
      }),
      concurrency: 4,
    });
    const h = host;
    const n = 40;
    const tasks = Array.from({ length: n }, (_, i) => ({
      id: `t${i}`,
      prompt: `sleep 0.1; echo t${i} >> ran.log`,
      engine: 'exec',
      depends_on: i >= 20 ? [`t${i - 20}`] : [],
      trigger: 'all_success' as const,
    }));
    const r = h.service.submitGraph(
      { name: 'outage', tasks },
      { submittedBy: 'admin', who: { actor: 'admin', origin: 'local' }, workspace: ws, defaultTarget: 'host', holdHostTasks: false },
    );
    const live: EventRecord[] = [];
    h.store.subscribeLive((evs) => live.push(...evs));
    h.pool.start();
    const ran = (): string[] => {
      try {
        return readFileSync(join(ws, 'ran.log'), 'utf8').split('\n').filter(Boolean);
      } catch {
        return [];
      }
    };
    await waitFor(() => ran().length >= 8, 'some tasks to run', 30_000);
    const c = cluster as PgCluster;
    c.stop();
    // While the database is away, at most the attempts already running finish; nothing new starts.
    await new Promise((res) => setTimeout(res, 1500));
    const during = ran().length;
    await new Promise((res) => setTimeout(res, 1000));
    expect(ran().length).toBe(during);
    c.start();
    const states = (): string => r.task_ids.map((id) => `${id}=${h.service.stateOf(id) ?? '?'}/${h.store.getTask(id)?.state ?? '?'}`).join(' ');
    await waitFor(() => r.task_ids.every((id) => DONE.includes(h.service.stateOf(id) ?? '')), 'every task to end', 60_000).catch((e: Error) => {
      throw new Error(`${e.message}: ${states()}, ran ${ran().length}`);
    });
    await waitFor(() => r.task_ids.every((id) => h.store.getTask(id)?.state === 'succeeded'), 'every end to be stored', 20_000).catch((e: Error) => {
      const bad = r.task_ids.filter((id) => h.store.getTask(id)?.state !== 'succeeded');
      throw new Error(`${e.message}: ${JSON.stringify(bad.map((id) => [h.store.getTask(id), h.store.attemptsOf(id)]))}`);
    });
    const lines = ran();
    expect(lines.length).toBe(n);
    expect(new Set(lines).size).toBe(n);
    expect(h.store.verifyAudit().ok).toBe(true);
    for (const id of r.task_ids) expect(h.store.attemptsOf(id).map((a) => a.state)).toEqual(['succeeded']);
    // LISTEN came back with the database: another host's event reaches this host's live listeners.
    const peer = openStore(url);
    try {
      Cluster.join(peer, { hostId: 'peer', leaseMs: 60_000, beatMs: null, onFenced: () => undefined });
      peer.publish('worker', null, { id: 'from-peer' });
      await waitFor(() => live.some((e) => e.data['id'] === 'from-peer'), "the other host's event after the outage", 10_000);
    } finally {
      peer.close();
    }
    const ids = live.map((e) => e.id);
    expect(ids).toEqual([...new Set(ids)].sort((x, y) => x - y)); // once each, in order
    expect(live.filter((e) => e.kind === 'task.state' && e.data['to'] === 'succeeded')).toHaveLength(n);
  }, 180_000);

  it('colony doctor checks the store: reachable with its schema version, or not, never printing the password', async () => {
    assertBuilt();
    const dir = (home as TestHome).dir;
    const secret = 'pw-MUST-NOT-BE-PRINTED';
    const doctor = async (storeUrl: string): Promise<{ code: number | null; out: string; store: Record<string, unknown> }> => {
      const cfg = join(dir, 'doctor.config.json');
      writeFileSync(cfg, JSON.stringify({ store: { url: storeUrl } }));
      const r = await runCli(['doctor', '--config', cfg, '--json', '--timeout-ms', '5000'], { cwd: dir, env: { HOME: dir } });
      const out = r.stdout + r.stderr;
      return { code: r.code, out, store: (JSON.parse(r.stdout) as { store: Record<string, unknown> }).store };
    };
    const withPassword = url.replace('postgres@', `postgres:${secret}@`); // trust auth: any password is accepted
    const ok = await doctor(withPassword);
    expect(ok.store).toMatchObject({ reachable: true, schema_version: Math.max(...MIGRATIONS.map((m) => m.version)), ok: true, problem: null });
    expect(ok.out).not.toContain(secret);
    const down = await doctor(`postgres://postgres:${secret}@127.0.0.1:1/nowhere`);
    expect(down.store).toMatchObject({ reachable: false, ok: false });
    expect(down.code).toBe(1);
    expect(down.out).not.toContain(secret);
  }, 60_000);
});
