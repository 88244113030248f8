/**
 * Live fan-out (issue 10, benchmark 4): 500 clients on the event stream while
 * a graph runs; event delivery latency (receive time − the event's `at`) and
 * the host's RSS. Targets: p99 < 50 ms, RSS < 250 MB.
 *
 * The host is `node dist/cli/index.js serve --lan` in its own process on a
 * temp home (so its RSS is the product's alone); both apps on 127.0.0.1. Two
 * phases, each with a fresh graph: 500 SSE clients on the admin app's
 * `GET /events` (bearer token), then 500 WebSocket clients on the user app's
 * `WS /ws/progress` (one LAN session; the config raises the LAN rate limits so
 * 500 connections from one address are admitted). Clients run in two child
 * processes (bench/fanout-client.mjs) so the bench's own event loop is not
 * the bottleneck. The graph: `layers` × `width` exec tasks (`sleep`), each
 * layer depending on the whole previous one.
 *
 * Run alone: npx tsx bench/fanout.bench.ts [--clients 500] [--layers 15] [--width 4]
 */
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BENCH_DIR, httpJson, isMain, machine, round, sleep, startServe, writeResult, type ServeHandle } from './perf-kit.js';

export interface FanoutOptions {
  clients?: number;
  layers?: number;
  width?: number;
  sleepS?: number;
  concurrency?: number;
}

interface ClientReport {
  done: true;
  open: number;
  failed: number;
  hist: number[];
  per_client: number[];
  first_ids: number[];
  last_ids: number[];
}

export interface PhaseFigures {
  transport: 'sse' | 'ws';
  clients_open: number;
  clients_failed: number;
  graph_tasks: number;
  graph_ms: number;
  events_published: number;
  deliveries: number;
  events_per_client_min: number;
  events_per_client_max: number;
  latency_ms: { p50: number; p90: number; p99: number; max: number };
  host_rss_mib: { before: number; peak_during: number };
}

const CLIENT = join(BENCH_DIR, 'fanout-client.mjs');
const PROCS = 2;

export async function runFanoutBench(o: FanoutOptions = {}): Promise<Record<string, unknown>> {
  const clients = o.clients ?? 500;
  const layers = o.layers ?? 15;
  const width = o.width ?? 4;
  const sleepS = o.sleepS ?? 0.1;
  const host = await startServe({
    lan: true,
    concurrency: o.concurrency ?? width,
    // One address opens 500 streams: raise the per-address/per-session LAN limits for the benchmark.
    // (and the per-address / per-session stream caps of issue 14: without this only 16 SSE / 8 WS clients connect).
    config: {
      lan: { rate_limit_read_per_min: 1_000_000, rate_limit_submit_per_min: 1_000_000 },
      http: { max_streams_per_address: 10_000, max_streams_per_session: 10_000, max_connections: 10_000 },
    },
  });
  try {
    const idleRss = host.rssMiB();
    const admin = `http://127.0.0.1:${host.adminPort}`;
    const auth = { authorization: `Bearer ${host.token}` };
    const sse = await phase(host, 'sse', clients, { url: `${admin}/events`, headers: auth }, layers, width, sleepS);
    let ws: PhaseFigures | { skipped: string };
    if (host.userPort === null) {
      ws = { skipped: 'the user app did not start' };
    } else {
      const user = `http://127.0.0.1:${host.userPort}`;
      const s = await httpJson(`${user}/api/session`, { method: 'POST', body: { display_name: 'fanout-bench' } });
      const cookie = (s.headers.getSetCookie?.() ?? []).map((c) => c.split(';')[0]).join('; ');
      if (s.status >= 300 || !cookie) throw new Error(`POST /api/session: ${s.status} ${JSON.stringify(s.body)}`);
      ws = await phase(host, 'ws', clients, { url: `${user.replace('http', 'ws')}/ws/progress`, headers: { cookie } }, layers, width, sleepS);
    }
    const peak = host.peakRssMiB();
    const p99s = [sse.latency_ms.p99, 'latency_ms' in ws ? ws.latency_ms.p99 : 0];
    const result = {
      benchmark: 'fanout',
      machine: machine(),
      clients,
      graph: { layers, width, tasks: layers * width, command: `sleep ${sleepS}`, concurrency: o.concurrency ?? width },
      host_rss_mib: { idle: round(idleRss), peak_vmhwm: round(peak) },
      sse,
      ws,
      targets: { p99_ms: 50, rss_mib: 250 },
      pass: {
        'p99 < 50 ms': Math.max(...p99s) < 50,
        'RSS < 250 MB': peak < 250,
        // A phase where clients were refused measures fewer viewers than it claims.
        'every client connected': sse.clients_failed === 0 && (!('clients_failed' in ws) || ws.clients_failed === 0),
      },
    };
    writeResult('fanout', result);
    return result;
  } finally {
    await host.stop();
  }
}

async function phase(
  host: ServeHandle,
  kind: 'sse' | 'ws',
  clients: number,
  target: { url: string; headers: Record<string, string> },
  layers: number,
  width: number,
  sleepS: number,
): Promise<PhaseFigures> {
  const admin = `http://127.0.0.1:${host.adminPort}`;
  const auth = { authorization: `Bearer ${host.token}` };
  const procs = Array.from({ length: PROCS }, (_, i) => startClient(kind, target, Math.floor(clients / PROCS) + (i < clients % PROCS ? 1 : 0)));
  try {
    const ready = await Promise.all(procs.map((p) => p.ready));
    const open = ready.reduce((s, r) => s + r.open, 0);
    const failed = ready.reduce((s, r) => s + r.failed, 0);
    const before = host.rssMiB();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, host.rssMiB())), 100);
    const firstEvent = lastEventId(host);
    const tasks = [];
    for (let l = 0; l < layers; l++) {
      for (let w = 0; w < width; w++) {
        tasks.push({
          id: `l${l}w${w}`,
          engine: 'exec',
          prompt: `sleep ${sleepS}`,
          depends_on: l === 0 ? [] : Array.from({ length: width }, (_, k) => `l${l - 1}w${k}`),
        });
      }
    }
    const t0 = performance.now();
    const sub = await httpJson(`${admin}/admin/execute`, { method: 'POST', headers: auth, body: { graph: { name: `fanout-${kind}`, tasks } } });
    if (sub.status !== 201) throw new Error(`POST /admin/execute: ${sub.status} ${JSON.stringify(sub.body)}`);
    const graphId = (sub.body as { graph_id: string }).graph_id;
    const deadline = Date.now() + 120_000;
    for (;;) {
      const g = await httpJson(`${admin}/admin/graphs/${graphId}`, { headers: auth });
      const list = (g.body as { tasks: { state: string; state_reason: string | null }[] }).tasks ?? [];
      const states = list.map((t) => t.state);
      if (states.length === tasks.length && states.every((s) => ['succeeded', 'failed', 'cancelled', 'timed_out', 'upstream_failed', 'skipped'].includes(s))) {
        if (!states.every((s) => s === 'succeeded'))
          throw new Error(`fan-out graph did not succeed: ${JSON.stringify(list.filter((t) => t.state !== 'succeeded').slice(0, 3))}`);
        break;
      }
      if (Date.now() > deadline) throw new Error('fan-out graph did not finish within 120 s');
      await sleep(250);
    }
    const graphMs = performance.now() - t0;
    await sleep(500); // let the last events reach every client
    clearInterval(sampler);
    const lastEvent = lastEventId(host);
    const reports = await Promise.all(procs.map((p) => p.stop()));
    const hist = new Array<number>(reports[0]?.hist.length ?? 0).fill(0);
    for (const r of reports) r.hist.forEach((n, i) => (hist[i] = (hist[i] ?? 0) + n));
    const perClient = reports.flatMap((r) => r.per_client);
    return {
      transport: kind,
      clients_open: open,
      clients_failed: failed,
      graph_tasks: tasks.length,
      graph_ms: Math.round(graphMs),
      events_published: lastEvent - firstEvent,
      deliveries: hist.reduce((s, n) => s + n, 0),
      events_per_client_min: Math.min(...perClient),
      events_per_client_max: Math.max(...perClient),
      latency_ms: { p50: histPct(hist, 50), p90: histPct(hist, 90), p99: histPct(hist, 99), max: histMax(hist) },
      host_rss_mib: { before: round(before), peak_during: round(peak) },
    };
  } finally {
    for (const p of procs) p.kill();
  }
}

/** The newest event id in the host's store (read-only connection; WAL lets it read while the host writes). */
function lastEventId(host: ServeHandle): number {
  const db = new Database(join(host.home, 'colony.db'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT COALESCE(MAX(id), 0) AS id FROM events').get() as { id: number }).id;
  } finally {
    db.close();
  }
}

interface ClientProc {
  ready: Promise<{ open: number; failed: number }>;
  stop(): Promise<ClientReport>;
  kill(): void;
}

function startClient(kind: 'sse' | 'ws', target: { url: string; headers: Record<string, string> }, count: number): ClientProc {
  const child: ChildProcess = spawn(process.execPath, [CLIENT, JSON.stringify({ kind, url: target.url, headers: target.headers, count, maxMs: 180_000 })], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  let onReady!: (v: { open: number; failed: number }) => void;
  let onDone!: (v: ClientReport) => void;
  let onFail!: (e: Error) => void;
  const ready = new Promise<{ open: number; failed: number }>((res, rej) => {
    onReady = res;
    onFail = rej;
  });
  const done = new Promise<ClientReport>((res) => (onDone = res));
  lines.on('line', (line) => {
    const msg = JSON.parse(line) as { ready?: boolean; done?: boolean; open: number; failed: number };
    if (msg.ready) onReady({ open: msg.open, failed: msg.failed });
    if (msg.done) onDone(msg as ClientReport);
  });
  child.once('exit', (code) => onFail(new Error(`fan-out client exited early (${code})`)));
  const timeout = setTimeout(() => onFail(new Error('fan-out clients did not connect within 60 s')), 60_000);
  void ready.finally(() => clearTimeout(timeout)).catch(() => undefined);
  return {
    ready,
    stop() {
      child.stdin?.write('stop\n');
      return Promise.race([done, sleep(20_000).then(() => Promise.reject(new Error('fan-out client did not report')))]);
    },
    kill() {
      if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
    },
  };
}

function histPct(hist: readonly number[], p: number): number {
  const total = hist.reduce((s, n) => s + n, 0);
  if (total === 0) return NaN;
  const rank = Math.ceil((p / 100) * total);
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i] ?? 0;
    if (seen >= rank) return i;
  }
  return hist.length - 1;
}

function histMax(hist: readonly number[]): number {
  for (let i = hist.length - 1; i >= 0; i--) if ((hist[i] ?? 0) > 0) return i;
  return NaN;
}

function arg(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(v) ? v : undefined;
}

if (isMain(import.meta.url)) {
  const r = await runFanoutBench({ clients: arg('clients'), layers: arg('layers'), width: arg('width') });
  console.log(JSON.stringify(r, null, 2));
}
