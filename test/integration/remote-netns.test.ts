/**
 * Remote execution across a real network boundary: the host (`startHost`,
 * --lan on the bridge address) on this machine, and a real `colony worker`
 * process (the CLI, run from source with tsx) inside a network namespace
 * that can reach nothing but the host's subnet. A LAN user in the same
 * namespace pairs the worker, submits an exec task, and the task runs on the
 * worker's side: its output reaches the host and the file it writes exists
 * under the worker's workspace root only.
 *
 * Creating the namespace needs root; without it createNetns throws and the
 * test fails (never skips). The namespace is always destroyed.
 *
 * The host serves TLS (the default with --lan): the worker pairs with the
 * command the dashboard shows (certificate fingerprint included), pins the
 * certificate, and refuses another self-signed certificate on the same address.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { remoteOf } from '../../src/server/remote-host.js';
import { startHost, type RunningHost } from '../../src/server/host-server.js';
import { makeHome, testConfig, type TestHome } from '../helpers/admin-host.js';
import { closeBridgeHost, lanCall, startWorkerLan } from '../helpers/bridge-host.js';
import { exited, spawnWorker, stopWorker, workerArgv } from '../helpers/colony-worker.js';
import { lanUser, type LanUser } from '../helpers/lan-user.js';
import type { NetnsHandle, NetnsNamespace } from '../helpers/netns.js';
import { waitFor } from '../helpers/proc.js';

let net: NetnsHandle;
let ns: NetnsNamespace;
let home: TestHome;
let h: RunningHost;
let base: string;
let worker: ChildProcess | null = null;
let workerOut = '';
let root = '';
let whome = '';
let impostorHome: TestHome | null = null;

function startWorker(args: string[]): void {
  workerOut = '';
  worker = spawnWorker(net, ns, ['--workspace-root', root, '--home', whome, ...args], (d) => (workerOut += d));
}

beforeAll(async () => {
  ({ net, ns, home, h, base, root, whome } = await startWorkerLan('colony-remote-netns-'));
}, 60_000);

afterAll(async () => {
  try {
    await closeBridgeHost({ h, net, home }, () => stopWorker(worker));
  } finally {
    impostorHome?.cleanup();
  }
}, 30_000);

const call = (user: LanUser, method: string, path: string, body?: unknown) => lanCall(user, base, method, path, body);

describe('colony worker in a network namespace', () => {
  it('pairs, receives an exec task, runs it in its own workspace, streams the output and completes', async () => {
    const ada = await lanUser(net, ns, base, 'Ada on lan-a');
    const pairing = await call(ada, 'POST', '/api/pairing-codes');
    expect(pairing.status).toBe(201);
    const code = String(pairing.json['code']);
    expect(base).toMatch(/^https:\/\//);
    expect(h.tlsFingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(pairing.json['command']).toBe(`colony worker --host ${base} --code ${code} --tls-fingerprint ${h.tlsFingerprint}`);

    startWorker(['--host', base, '--code', code, '--tls-fingerprint', String(h.tlsFingerprint), '--name', 'ada-box']);
    await waitFor(() => /connected to .* as worker w-/.test(workerOut) || worker?.exitCode !== null, 'worker connected', 30_000);
    expect(workerOut).toMatch(/paired with .* as worker (w-[0-9a-f]+)/);
    expect(workerOut).toContain(`host key (pinned):  ${remoteOf(h.ctx)?.hostKey.fingerprint}`);
    expect(workerOut).toContain(`host TLS certificate (pinned): ${h.tlsFingerprint}`);
    const workerId = /as worker (w-[0-9a-f]+)/.exec(workerOut)?.[1] ?? '';

    const mark = randomBytes(4).toString('hex');
    const submitted = await call(ada, 'POST', '/api/submit-task', {
      prompt: `echo remote-run-${mark}; echo from-worker > proof-${mark}.txt; pwd`,
      engine: 'exec',
    });
    expect(submitted.status, JSON.stringify(submitted.json)).toBe(201);
    const id = String(submitted.json['id']);
    await waitFor(() => ['succeeded', 'failed'].includes(h.host.store.getTask(id)?.state ?? ''), 'task finished', 30_000);
    expect(h.host.store.getTask(id)?.state, workerOut).toBe('succeeded');

    const shown = await call(ada, 'GET', `/api/tasks/${encodeURIComponent(id)}`);
    expect(shown.status).toBe(200);
    const output = (shown.json['output'] as Array<{ text: string }>).map((o) => o.text).join('');
    expect(output).toContain(`remote-run-${mark}`);
    expect(output).toContain(root); // pwd ran in the worker's workspace root
    expect(shown.json['attempts']).toEqual([expect.objectContaining({ state: 'succeeded', engine: 'exec', worker_id: workerId })]);

    expect(readFileSync(join(root, `proof-${mark}.txt`), 'utf8')).toBe('from-worker\n');
    expect(existsSync(join(process.cwd(), `proof-${mark}.txt`))).toBe(false); // the host's default workspace for LAN tasks
    expect(existsSync(join(home.workspace, `proof-${mark}.txt`))).toBe(false);

    const mine = await call(ada, 'GET', '/api/my-workers');
    expect(mine.json['workers']).toEqual([expect.objectContaining({ id: workerId, connected: true, origin_ip: ns.ip, name: 'ada-box' })]);
    await waitFor(() => workerOut.includes(`task ${id} attempt 1: succeeded`), 'worker log line', 5000);
  }, 90_000);

  it('stops on SIGTERM, and the next run reuses its key and pinned host key without a code', async () => {
    const first = worker as ChildProcess;
    const id = /as worker (w-[0-9a-f]+)/.exec(workerOut)?.[1];
    first.kill('SIGTERM');
    expect(await exited(first)).toBe(0);
    expect(statSync(join(whome, 'keys', 'worker.key')).mode & 0o777).toBe(0o600);
    startWorker([]);
    await waitFor(() => /connected to .* as worker w-/.test(workerOut) || worker?.exitCode !== null, 'worker reconnected', 30_000);
    expect(workerOut).toContain(`connected to ${base} as worker ${id}`);
    expect(h.host.store.listAudit({ action: 'worker.enrolled' })).toHaveLength(1);

    const unpaired = net.spawn(ns.name, process.execPath, workerArgv(['--host', base, '--home', join(home.dir, 'never-paired'), '--workspace-root', root]));
    let err = '';
    unpaired.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
    expect(await exited(unpaired)).toBe(2);
    expect(err).toMatch(/not paired yet/);
  }, 60_000);

  it('refuses another self-signed certificate on the same address: the paired worker does not connect, a pairing with the printed fingerprint does not start', async () => {
    const running = worker as ChildProcess;
    running.kill('SIGTERM');
    expect(await exited(running)).toBe(0);
    const oldFp = String(h.tlsFingerprint);
    const port = Number(new URL(base).port);
    await h.close(500);
    // An impostor on the host's address: same IP and port, its own self-signed certificate (and host key).
    impostorHome = makeHome('colony-impostor-');
    h = await startHost({
      paths: impostorHome.paths,
      config: testConfig(),
      adminPort: 0,
      userPort: port,
      lan: true,
      hostIp: net.hostIp,
      concurrency: 1,
      logger: false,
      webRoot: null,
      lanCode: null,
    });
    expect(h.tlsFingerprint).not.toBe(oldFp);
    startWorker([]);
    await waitFor(() => /cannot reach the host .*(self-signed|pinned)/.test(workerOut), 'TLS refusal', 30_000);
    expect(workerOut).not.toMatch(/connected to /);
    expect(h.host.store.listAudit({ action: 'remote.connected' })).toHaveLength(0);
    (worker as ChildProcess).kill('SIGTERM');
    await exited(worker as ChildProcess);

    const ada = await lanUser(net, ns, base, 'Ada again');
    const code = String((await call(ada, 'POST', '/api/pairing-codes')).json['code']);
    const fresh = net.spawn(
      ns.name,
      process.execPath,
      workerArgv(['--host', base, '--code', code, '--tls-fingerprint', oldFp, '--home', join(home.dir, 'fresh'), '--workspace-root', root]),
    );
    let err = '';
    fresh.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
    expect(await exited(fresh)).not.toBe(0);
    expect(err).toMatch(/not .* from the pairing command/);
    expect(h.host.store.listAudit({ action: 'worker.enrolled' })).toHaveLength(0);
  }, 90_000);
});
