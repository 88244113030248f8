/**
 * Losing a remote worker mid-task: a real `colony worker` (the built CLI)
 * runs in a network namespace, paired by a LAN user there, executing that
 * user's exec tasks (each appends its id to a file in the worker's root).
 *
 *  1. The worker process is SIGKILLed while tasks run, then restarted (same
 *     home: same key, no new pairing).
 *  2. The namespace's link is cut (`ip link set down` on its veth) while
 *     tasks run, for longer than the lease; then it comes back and the same
 *     worker process, never restarted, carries on.
 *
 * Both times the host loses the worker's heartbeats, closes the attempts as
 * lost and requeues the tasks; the worker completes them. At the end every
 * task succeeded exactly once (one succeeded attempt, one `→ succeeded`
 * transition), lost attempts were recorded for both faults, a result sent for
 * a lost attempt was never counted, no id is missing from the file, and the
 * audit chain verifies.
 *
 * The host here is in-process (openHost + the user app on the bridge
 * address) with a 12 s lease so each fault costs seconds, not the default
 * 30 s, and two slots per worker; the worker's own heartbeat stays at its
 * default (5 s). Needs root for
 * the namespace: without it createNetns throws and the test fails.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { configureRemote } from '../../src/server/remote-host.js';
import { openHost, type Host } from '../../src/runner/host.js';
import type { ServerContext } from '../../src/server/context.js';
import { closeLiveStreams } from '../../src/server/live.js';
import { buildUserApp } from '../../src/server/user/app.js';
import { makeHome, testConfig } from '../helpers/admin-host.js';
import { assertBuilt, CLI } from '../helpers/cli.js';
import { lanUser, type LanUser } from '../helpers/lan-user.js';
import { createNetns, type NetnsHandle, type NetnsNamespace } from '../helpers/netns.js';
import { killQuietly, processGone, waitFor } from '../helpers/proc.js';

const LEASE_MS = 12_000;
const TASKS = 24;

const home = makeHome('colony-worker-loss-');
let net: NetnsHandle | null = null;
let host: Host | null = null;
let user: FastifyInstance | null = null;
const workers: ChildProcess[] = [];
afterAll(async () => {
  for (const w of workers) killQuietly(w.pid);
  if (user) {
    closeLiveStreams(user.server);
    await user.close();
  }
  await host?.close();
  await net?.destroy();
  home.cleanup();
}, 30_000);

describe('a remote worker killed, then cut off from the network, mid-task', () => {
  it('requeues the lost tasks and completes every one exactly once', async () => {
    assertBuilt();
    net = await createNetns({ count: 1 });
    const ns = net.namespaces[0] as NetnsNamespace;
    const config = testConfig({ lan: { rate_limit_read_per_min: 100_000, rate_limit_submit_per_min: 100_000 } });
    host = openHost({ paths: home.paths, config, concurrency: 1 });
    const ctx: ServerContext = { host, adminToken: 'worker-loss-admin-token-0123456789', adminPort: () => 8080, webRoot: null, startedAt: Date.now() };
    configureRemote(ctx, { leaseMs: LEASE_MS, sweepIntervalMs: 200, slotsPerWorker: 2 });
    user = await buildUserApp(ctx, { logger: false, accessCode: null, tls: null });
    await user.listen({ host: net.hostIp, port: 0 });
    host.pool.start();
    const base = `http://${net.hostIp}:${(user.server.address() as AddressInfo).port}`;
    const store = host.store;

    const ada: LanUser = await lanUser(net, ns, base, 'Ada (worker-loss)');
    const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
      const r = await ada.run([{ kind: 'http', method, url: `${base}${path}`, ...(body === undefined ? {} : { body }) }]);
      const line = r.lines[0] ?? {};
      return { status: Number(line['status']), json: (line['json'] ?? {}) as Record<string, unknown> };
    };
    const pairing = await call('POST', '/api/pairing-codes');
    expect(pairing.status).toBe(201);

    const root = join(home.dir, 'worker-root');
    const whome = join(home.dir, 'worker-home');
    mkdirSync(root);
    let log = '';
    const startWorker = (args: string[]): ChildProcess => {
      const handle = net as NetnsHandle;
      const w = handle.spawn(ns.name, process.execPath, [CLI, 'worker', '--workspace-root', root, '--home', whome, '--concurrency', '2', ...args]);
      w.stdout?.setEncoding('utf8').on('data', (d: string) => (log += d));
      w.stderr?.setEncoding('utf8').on('data', (d: string) => (log += d));
      workers.push(w);
      return w;
    };
    const connections = (): number => (log.match(/connected to .* as worker w-/g) ?? []).length;
    let worker = startWorker(['--host', base, '--code', String(pairing.json['code']), '--name', 'loss-box']);
    await waitFor(() => connections() >= 1 || worker.exitCode !== null, 'worker connected', 30_000);
    expect(worker.exitCode, log).toBeNull();

    const submitted = await call('POST', '/api/submit-task', {
      graph: {
        name: 'loss',
        tasks: Array.from({ length: TASKS }, (_, i) => ({ id: `t${i}`, engine: 'exec', prompt: `sleep 2; echo t${i} >> out.txt`, max_attempts: 3 })),
      },
    });
    expect(submitted.status, JSON.stringify(submitted.json)).toBe(201);
    const ids = submitted.json['task_ids'] as string[];
    const states = (): string[] => ids.map((id) => store.getTask(id)?.state ?? 'missing');
    const lostAttempts = (): number => ids.reduce((n, id) => n + store.attemptsOf(id).filter((a) => a.state === 'lost').length, 0);

    // 1. SIGKILL the worker while two tasks run on it; restart it on the same home.
    await waitFor(() => states().filter((s) => s === 'running').length >= 2, 'two tasks running on the worker', 30_000).catch((e: unknown) => {
      throw new Error(`${String(e)}; states ${JSON.stringify(states())}; worker log:\n${log}`);
    });
    process.kill(worker.pid as number, 'SIGKILL');
    await waitFor(() => processGone(worker.pid as number), 'worker gone');
    const lostBefore = lostAttempts();
    worker = startWorker([]);
    await waitFor(() => connections() >= 2 || worker.exitCode !== null, 'worker reconnected after restart', 30_000);
    expect(worker.exitCode, log).toBeNull();
    await waitFor(() => lostAttempts() > lostBefore, "the killed worker's attempts closed as lost", LEASE_MS * 3);

    // 2. Cut the link while tasks run, longer than the lease; the same process reconnects when it is back.
    await waitFor(() => states().filter((s) => s === 'running').length >= 1, 'a task running before the cut', 60_000);
    const lostBeforeCut = lostAttempts();
    await (net as NetnsHandle).linkDown(ns.name);
    await waitFor(() => lostAttempts() > lostBeforeCut, 'attempts lost while the link is down', LEASE_MS * 3);
    await (net as NetnsHandle).linkUp(ns.name);
    const cutAt = log.length;

    // The same worker process goes on (on its old connection if the host kept it, or a new one) and finishes the rest.
    await waitFor(() => states().every((s) => s === 'succeeded' || s === 'failed'), 'every task ended', 120_000).catch((e: unknown) => {
      throw new Error(`${String(e)}; states ${JSON.stringify(states())}; worker log since the cut:\n${log.slice(cutAt)}`);
    });
    expect(worker.exitCode, log).toBeNull();
    expect(states()).toEqual(Array(TASKS).fill('succeeded'));
    for (const id of ids) {
      const atts = store.attemptsOf(id);
      expect(
        atts.filter((a) => a.state === 'succeeded'),
        `${id}: ${JSON.stringify(atts.map((a) => [a.attempt, a.state]))}`,
      ).toHaveLength(1);
      expect(
        store.listAudit({ action: 'task.transition', target: id, limit: 1000 }).filter((r) => (r.detail as { to?: string }).to === 'succeeded'),
      ).toHaveLength(1);
    }
    expect(lostAttempts()).toBeGreaterThanOrEqual(2);
    expect(store.listAudit({ action: 'remote.lease_expired', limit: 1000 }).length).toBeGreaterThanOrEqual(1);
    const appended = existsSync(join(root, 'out.txt')) ? readFileSync(join(root, 'out.txt'), 'utf8').split('\n').filter(Boolean) : [];
    for (let i = 0; i < TASKS; i++) expect(appended, `t${i} never ran to the end`).toContain(`t${i}`);
    expect(store.verifyAudit().ok).toBe(true);
    console.log(`worker-loss: ${lostAttempts()} lost attempt(s), ${appended.length} appends for ${TASKS} tasks, ${connections()} connections`);
  }, 240_000);
});
