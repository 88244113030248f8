/**
 * An attacker relaying between workers and the host (issue 14): two real
 * `colony worker` processes in two network namespaces reach the host only
 * through a relay the test runs on the bridge — it forwards HTTP and the
 * WebSocket frames, and keeps every TASK_ASSIGNED it sees. The host serves
 * plain HTTP (--insecure-http) so the relay can read and inject frames: the
 * signatures and their binding must hold without TLS.
 *
 *   - worker A's assignment, replayed into worker B's connection: B refuses it
 *     (bound to another worker), nothing runs on B, the host audits B's report,
 *     coalesced when the relay floods it;
 *   - the same assignment replayed into A's next connection: refused (bound to
 *     another connection);
 *   - a CHALLENGE whose host_time the relay rewrites (what it would do to
 *     revive an expired assignment): the worker drops the connection;
 *   - next to it the legitimate flow through the same relay works.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { RunningHost } from '../../src/server/host-server.js';
import { makeHome, type TestHome } from '../helpers/admin-host.js';
import { closeBridgeHost, lanCall, startBridgeHost } from '../helpers/bridge-host.js';
import { spawnWorker } from '../helpers/colony-worker.js';
import { lanUser, type LanUser } from '../helpers/lan-user.js';
import { createNetns, type NetnsHandle, type NetnsNamespace } from '../helpers/netns.js';
import { waitFor } from '../helpers/proc.js';

interface Pipe {
  workerId: string;
  toWorker: WebSocket;
  toHost: WebSocket;
}

interface Worker {
  ns: NetnsNamespace;
  proc: ChildProcess;
  out: string;
  root: string;
  id: string;
}

let net: NetnsHandle;
let home: TestHome;
let h: RunningHost;
let base: string;
let hostPort: number;
let relay: http.Server;
let relayUrl: string;
const pipes: Pipe[] = [];
const captured: Array<{ workerId: string; frame: string }> = [];
let rewriteChallengeOf: string | null = null;
const workers: Worker[] = [];

function startRelay(): Promise<void> {
  relay = http.createServer((req, res) => {
    // Forwarded as an attacker would: to the host's own address, with the Host the host expects.
    const up = http.request(
      { host: net.hostIp, port: hostPort, path: req.url, method: req.method, headers: { ...req.headers, host: `${net.hostIp}:${hostPort}` } },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  const wss = new WebSocketServer({ noServer: true });
  relay.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (w) => bridge(w)));
  return new Promise((r) => relay.listen(0, net.hostIp, () => r()));
}

function bridge(toWorker: WebSocket): void {
  const toHost = new WebSocket(`ws://${net.hostIp}:${hostPort}/ws/remote-exec`);
  const pipe: Pipe = { workerId: '', toWorker, toHost };
  pipes.push(pipe);
  const pending: string[] = [];
  toWorker.on('message', (d: Buffer) => {
    const text = d.toString('utf8');
    if (!pipe.workerId) pipe.workerId = String((JSON.parse(text) as { worker_id?: string }).worker_id ?? '');
    if (toHost.readyState === WebSocket.OPEN) toHost.send(text);
    else pending.push(text);
  });
  toHost.on('open', () => {
    for (const t of pending.splice(0)) toHost.send(t);
  });
  toHost.on('message', (d: Buffer) => {
    let text = d.toString('utf8');
    const m = JSON.parse(text) as { type: string; host_time?: number };
    if (m.type === 'TASK_ASSIGNED') captured.push({ workerId: pipe.workerId, frame: text });
    if (m.type === 'CHALLENGE' && rewriteChallengeOf === pipe.workerId) text = JSON.stringify({ ...m, host_time: (m.host_time ?? 0) - 3_600_000 });
    if (toWorker.readyState === WebSocket.OPEN) toWorker.send(text);
  });
  const end = (): void => {
    toWorker.terminate();
    toHost.terminate();
  };
  for (const s of [toWorker, toHost]) {
    s.on('close', end);
    s.on('error', end);
  }
}

/** The worker's live connection through the relay (the latest one whose HELLO named it). */
const pipeOf = (id: string): Pipe | undefined => [...pipes].reverse().find((p) => p.workerId === id && p.toWorker.readyState === WebSocket.OPEN);

const call = (user: LanUser, method: string, path: string, body?: unknown) => lanCall(user, base, method, path, body);

async function startWorker(ns: NetnsNamespace, user: LanUser, name: string): Promise<Worker> {
  const code = String((await call(user, 'POST', '/api/pairing-codes')).json['code']);
  const root = join(home.dir, `${name}-root`);
  mkdirSync(root);
  const w: Worker = { ns, proc: null as unknown as ChildProcess, out: '', root, id: '' };
  w.proc = spawnWorker(
    net,
    ns,
    ['--host', relayUrl, '--code', code, '--name', name, '--workspace-root', root, '--home', join(home.dir, `${name}-home`)],
    (d) => (w.out += d),
  );
  workers.push(w);
  await waitFor(() => /connected to .* as worker w-/.test(w.out) || w.proc.exitCode !== null, `${name} connected`, 30_000);
  w.id = /as worker (w-[0-9a-f]+)/.exec(w.out)?.[1] ?? '';
  expect(w.id, w.out).not.toBe('');
  return w;
}

const refusedRows = (id: string) => h.host.store.listAudit({ action: 'remote.worker_refused', limit: 1000 }).filter((a) => a.target === id);

let a: Worker;
let b: Worker;
let ada: LanUser;

beforeAll(async () => {
  net = await createNetns({ count: 2 });
  home = makeHome('colony-relay-');
  ({ h, base } = await startBridgeHost(net, home, { insecureHttp: true }));
  hostPort = Number(new URL(h.userUrl ?? '').port);
  await startRelay();
  relayUrl = `http://${net.hostIp}:${(relay.address() as AddressInfo).port}`;
  const [nsA, nsB] = net.namespaces as [NetnsNamespace, NetnsNamespace];
  ada = await lanUser(net, nsA, base, 'Ada');
  const bob = await lanUser(net, nsB, base, 'Bob');
  a = await startWorker(nsA, ada, 'ada-box');
  b = await startWorker(nsB, bob, 'bob-box');
}, 120_000);

afterAll(
  () =>
    closeBridgeHost({ h, net, home }, () => {
      for (const w of workers) if (w.proc.exitCode === null) w.proc.kill('SIGKILL');
      relay?.close();
      for (const p of pipes) (p.toWorker.terminate(), p.toHost.terminate());
    }),
  30_000,
);

describe('a relay between the workers and the host', () => {
  it("runs Ada's task on Ada's worker through the relay; the same signed assignment replayed into Bob's worker is refused and audited (coalesced)", async () => {
    const mark = randomBytes(4).toString('hex');
    const submitted = await call(ada, 'POST', '/api/submit-task', { prompt: `echo ran-${mark} > proof-${mark}.txt`, engine: 'exec' });
    expect(submitted.status, JSON.stringify(submitted.json)).toBe(201);
    const id = String(submitted.json['id']);
    await waitFor(() => ['succeeded', 'failed'].includes(h.host.store.getTask(id)?.state ?? ''), 'task finished', 30_000);
    expect(h.host.store.getTask(id)?.state, a.out).toBe('succeeded');
    expect(readFileSync(join(a.root, `proof-${mark}.txt`), 'utf8')).toBe(`ran-${mark}\n`);
    const frame = captured.find((c) => c.workerId === a.id && c.frame.includes(id))?.frame;
    expect(frame).toBeDefined();

    const intoB = pipeOf(b.id);
    expect(intoB).toBeDefined();
    for (let i = 0; i < 30; i++) intoB?.toWorker.send(frame as string);
    await waitFor(() => /refused from the network: not_yours: TASK_ASSIGNED/.test(b.out), 'B refused the foreign order', 10_000);
    await waitFor(() => refusedRows(b.id).length > 0, "host audited B's report", 5000);
    expect(existsSync(join(b.root, `proof-${mark}.txt`))).toBe(false);
    expect(b.out).not.toMatch(/accepted/);
    expect(refusedRows(b.id)[0]?.detail).toMatchObject({ code: 'not_yours' });
    expect(refusedRows(b.id).length).toBeLessThan(5); // 30 replays, coalesced per second
    expect(h.host.store.attemptsOf(id)).toHaveLength(1); // nothing about the task changed
  }, 60_000);

  it("refuses the same assignment replayed into Ada's next connection (bound to the connection, not only the worker)", async () => {
    const frame = captured.find((c) => c.workerId === a.id)?.frame as string;
    const before = pipeOf(a.id);
    before?.toWorker.terminate();
    await waitFor(() => pipeOf(a.id) !== undefined && pipeOf(a.id) !== before && (a.out.match(/connected to /g) ?? []).length >= 2, 'A reconnected', 20_000);
    pipeOf(a.id)?.toWorker.send(frame);
    await waitFor(() => /refused from the network: replayed: TASK_ASSIGNED/.test(a.out), 'A refused the replay', 10_000);
    await waitFor(() => refusedRows(a.id).some((r) => (r.detail as { code?: string }).code === 'replayed'), "host audited A's report", 5000);
  }, 40_000);

  it('drops a CHALLENGE whose host_time the relay rewrote, and connects again once the relay stops', async () => {
    rewriteChallengeOf = b.id;
    const connects = (b.out.match(/connected to /g) ?? []).length;
    pipeOf(b.id)?.toWorker.terminate();
    await waitFor(() => /CHALLENGE is not signed by the pinned host key/.test(b.out), 'B refused the rewritten CHALLENGE', 20_000);
    expect((b.out.match(/connected to /g) ?? []).length).toBe(connects);
    rewriteChallengeOf = null;
    await waitFor(() => (b.out.match(/connected to /g) ?? []).length > connects, 'B reconnected', 40_000);
  }, 70_000);
});
