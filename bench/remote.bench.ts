/**
 * Remote dispatch (issue 8): a real host (store on disk, user app on
 * 127.0.0.1, WS /ws/remote-exec) and 32 worker agents paired through the real
 * enrolment API, every protocol message signed and verified on both sides.
 * Tasks are no-op: the workers run an Engine that ends at once, so what is
 * measured is the protocol, the crypto, the fencing and the store.
 *
 *   full load: N tasks submitted at once → tasks/s, schedule-to-start, end-to-end
 *   half load: tasks arriving (open loop) at half the full-load rate for a few seconds
 *
 * schedule-to-start = task ready → the host records TASK_ACCEPTED (task running);
 * end-to-end        = task ready → the host records TASK_COMPLETED (task succeeded).
 * Targets: ≥ 5,000 tasks/s; p99 schedule-to-start < 5 ms at half load.
 *
 *   npx tsx bench/remote.bench.ts [--tasks 10000] [--workers 32] [--slots 4] [--agents main|thread] [--frames]
 * `--agents thread` runs the 32 agents in a worker thread (same process, own
 * core), as real workers on other machines do not use the host's CPU.
 * `BENCH_ROWS=1` prints the host's log rows by kind (or audit action) at the end.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseConfig } from '../src/core/config.js';
import { configureRemote, remoteOf } from '../src/server/remote-host.js';
import { pairWorker } from '../src/remote/worker/worker-identity.js';
import { loadOrCreateHostCert } from '../src/remote/tls.js';
import { openHost } from '../src/runner/host.js';
import { resolveHome } from '../src/runner/home.js';
import type { ServerContext } from '../src/server/context.js';
import { buildUserApp } from '../src/server/user/app.js';
import { SYSTEM } from '../src/store/store.js';
import { isMain, machine, percentile, round, sleep, tempDir, writeResult } from './perf-kit.js';
import { startAgents, type AgentSpec } from './remote-agents.js';
import { countFrames } from './frame-count.js';
import { dbOf } from '../src/store/internal.js';

export interface RemoteBenchOptions {
  tasks?: number;
  workers?: number;
  slotsPerWorker?: number;
  halfSeconds?: number;
  agents?: 'main' | 'thread';
  /** Serve the user app (and /ws/remote-exec) over TLS with a self-signed certificate the workers pin, as `serve --lan` does. */
  tls?: boolean;
}

export interface LoadFigures {
  tasks: number;
  seconds: number;
  tasks_per_s: number;
  schedule_to_start_ms: { p50: number; p99: number; max: number };
  end_to_end_ms: { p50: number; p99: number; max: number };
  cpu_us_per_task: number;
  /** The host's main thread alone (/proc/self/task/<pid>/stat; the agents' thread excluded). */
  host_thread_cpu_us_per_task: number;
}

export interface RemoteBenchResult {
  benchmark: 'remote';
  machine: ReturnType<typeof machine>;
  workers: number;
  slots_per_worker: number;
  agents: 'main' | 'thread';
  tls: boolean;
  full: LoadFigures;
  half: LoadFigures & { offered_per_s: number };
  targets: { tasks_per_s: number; half_p99_schedule_to_start_ms: number };
  pass: { tasks_per_s: boolean; half_p99_schedule_to_start_ms: boolean };
}

export async function runRemoteBench(o: RemoteBenchOptions = {}): Promise<RemoteBenchResult> {
  const nTasks = o.tasks ?? 10_000;
  const nWorkers = o.workers ?? 32;
  const slots = o.slotsPerWorker ?? 4;
  const mode = o.agents ?? 'main';
  const tmp = tempDir('colony-bench-remote-');
  const cfg = parseConfig({ lan: { rate_limit_read_per_min: 1_000_000, rate_limit_submit_per_min: 1_000_000 }, budget: { default_task_usd: 0 } });
  if (!cfg.ok) throw new Error(cfg.problems.join('; '));
  const host = openHost({ paths: resolveHome(join(tmp.dir, 'home')), config: cfg.config, concurrency: 1, lock: false });
  const ctx: ServerContext = { host, adminToken: 'bench', adminPort: () => 0, webRoot: null, startedAt: Date.now() };
  configureRemote(ctx, { slotsPerWorker: slots });
  const tls = o.tls ? await loadOrCreateHostCert(host.paths.home) : null;
  const app = await buildUserApp(ctx, { logger: false, accessCode: null, tls });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const remote = remoteOf(ctx);
  if (!remote) throw new Error('no remote host');
  const owner = 'session:bench-user';
  const specs: AgentSpec[] = [];
  for (let i = 0; i < nWorkers; i++) {
    // The workspace root lies outside the worker's home: the worker's gateway refuses a workspace inside its own home.
    const home = join(tmp.dir, `w${i}`, 'home');
    const root = join(tmp.dir, `w${i}`, 'work');
    mkdirSync(root, { recursive: true });
    const { code } = await remote.pairing.createCode(owner, SYSTEM);
    await pairWorker({ home, hostUrl: url, code, name: `bench-${i}`, engines: ['noop'], openToAdmin: false });
    specs.push({ home, root, concurrency: slots });
  }
  const agents = await startAgents(specs, mode);
  // Opt-in (`--frames`): the counter parses every frame the host sends, CPU the product does not spend.
  const hostFrames = mode === 'thread' && process.argv.includes('--frames') ? countFrames() : null; // in 'main' mode the agents' frames would be counted too

  // Timestamps per task from the store's committed events (the host's view).
  const ready = new Map<string, number>();
  const started = new Map<string, number>();
  const finished = new Map<string, number>();
  const unsubscribe = host.store.subscribe((events) => {
    const t = performance.now();
    for (const e of events) {
      if (e.kind !== 'task.state' || e.task_id === null) continue;
      if (e.data['to'] === 'running') started.set(e.task_id, t);
      else if (e.data['to'] === 'succeeded') finished.set(e.task_id, t);
    }
  });
  let seq = 0;
  const submit = (n: number): void => {
    const tasks = Array.from({ length: n }, () => ({ id: `t${seq++}`, prompt: 'noop', engine: 'noop', depends_on: [], trigger: 'all_success' as const }));
    const r = host.service.submitGraph(
      { name: 'bench', tasks },
      { submittedBy: owner, who: SYSTEM, workspace: tmp.dir, defaultTarget: 'own-worker', holdHostTasks: true },
    );
    const t = performance.now();
    for (const id of r.task_ids) ready.set(id, t);
  };
  const waitAll = async (limitMs: number): Promise<void> => {
    const deadline = Date.now() + limitMs;
    while (finished.size < ready.size) {
      if (Date.now() > deadline) throw new Error(`only ${finished.size}/${ready.size} tasks finished within ${limitMs} ms`);
      await sleep(5);
    }
  };
  const measure = (ids: string[], seconds: number, cpuUs: number, hostUs: number): LoadFigures => {
    const s2s = ids.map((id) => (started.get(id) ?? NaN) - (ready.get(id) ?? NaN));
    const e2e = ids.map((id) => (finished.get(id) ?? NaN) - (ready.get(id) ?? NaN));
    const stats = (v: number[]) => ({ p50: round(percentile(v, 50), 2), p99: round(percentile(v, 99), 2), max: round(Math.max(...v), 2) });
    return {
      tasks: ids.length,
      seconds: round(seconds, 2),
      tasks_per_s: Math.round(ids.length / seconds),
      schedule_to_start_ms: stats(s2s),
      end_to_end_ms: stats(e2e),
      cpu_us_per_task: round(cpuUs / ids.length, 1),
      host_thread_cpu_us_per_task: round(hostUs / ids.length, 1),
    };
  };
  const reset = () => [ready, started, finished].forEach((m) => m.clear());

  try {
    submit(Math.min(2000, nTasks)); // warm-up: JIT, prepared statements, connections
    await waitAll(120_000);
    reset();

    let cpu0 = process.cpuUsage();
    let host0 = mainThreadCpuUs();
    const t0 = performance.now();
    submit(nTasks);
    await waitAll(600_000);
    const fullIds = [...ready.keys()];
    const fullSeconds = (Math.max(...finished.values()) - t0) / 1000;
    let cpu = process.cpuUsage(cpu0);
    const full = measure(fullIds, fullSeconds, cpu.user + cpu.system, mainThreadCpuUs() - host0);
    reset();

    const rate = full.tasks_per_s / 2;
    const seconds = o.halfSeconds ?? 5;
    cpu0 = process.cpuUsage();
    host0 = mainThreadCpuUs();
    const h0 = performance.now();
    let sent = 0;
    while (performance.now() - h0 < seconds * 1000) {
      const due = Math.floor(((performance.now() - h0) / 1000) * rate) - sent;
      if (due > 0) {
        submit(due);
        sent += due;
      }
      await sleep(2);
    }
    await waitAll(120_000);
    cpu = process.cpuUsage(cpu0);
    const halfIds = [...ready.keys()];
    const half = {
      ...measure(halfIds, (performance.now() - h0) / 1000, cpu.user + cpu.system, mainThreadCpuUs() - host0),
      offered_per_s: Math.round(rate),
    };
    const targets = { tasks_per_s: 5000, half_p99_schedule_to_start_ms: 5 };
    return {
      benchmark: 'remote',
      machine: machine(),
      workers: nWorkers,
      slots_per_worker: slots,
      agents: mode,
      tls: tls !== null,
      full,
      half,
      targets,
      pass: {
        tasks_per_s: full.tasks_per_s >= targets.tasks_per_s,
        half_p99_schedule_to_start_ms: half.schedule_to_start_ms.p99 < targets.half_p99_schedule_to_start_ms,
      },
    };
  } finally {
    if (hostFrames) console.log(`host frames (warm-up included): ${JSON.stringify(hostFrames())}`);
    if (process.env['BENCH_ROWS'])
      console.log(JSON.stringify(dbOf(host.store).prepare('SELECT COALESCE(kind, action) AS k, COUNT(*) AS n FROM log GROUP BY 1 ORDER BY 2 DESC').all()));
    unsubscribe();
    await agents.stop();
    await app.close();
    await host.close();
    tmp.cleanup();
  }
}

/** CPU time of this process's main thread in µs (Linux: utime + stime of its task, in clock ticks of 10 ms). */
function mainThreadCpuUs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10_000;
  } catch {
    return NaN;
  }
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/**
 * `--tls both`: the cost of TLS on the same machine in the same run — plain and
 * TLS runs alternate (off, on, off, on, …) so drifting load hits both alike;
 * the loss is computed from the summed full-load throughputs.
 */
async function compareTls(base: RemoteBenchOptions, rounds: number): Promise<void> {
  const runs: RemoteBenchResult[] = [];
  for (let i = 0; i < rounds; i++) {
    for (const tls of [false, true]) {
      const r = await runRemoteBench({ ...base, tls });
      console.log(
        `${tls ? 'tls  ' : 'plain'}: ${r.full.tasks_per_s} tasks/s full load, half-load s2s p99 ${r.half.schedule_to_start_ms.p99} ms, ${r.full.cpu_us_per_task} µs CPU/task (load ${r.machine.loadavg_1m})`,
      );
      runs.push(r);
    }
  }
  const sum = (tls: boolean, f: (r: RemoteBenchResult) => number) => runs.filter((r) => r.tls === tls).reduce((n, r) => n + f(r), 0);
  const plain = sum(false, (r) => r.full.tasks_per_s);
  const tls = sum(true, (r) => r.full.tasks_per_s);
  const lossPct = Math.round((1 - tls / plain) * 1000) / 10;
  const cpuPct = Math.round((sum(true, (r) => r.full.cpu_us_per_task) / sum(false, (r) => r.full.cpu_us_per_task) - 1) * 1000) / 10;
  const out = {
    benchmark: 'remote-tls',
    machine: machine(),
    agents: base.agents ?? 'main',
    rounds,
    runs: runs.map((r) => ({
      tls: r.tls,
      tasks_per_s: r.full.tasks_per_s,
      cpu_us_per_task: r.full.cpu_us_per_task,
      half_p99_s2s_ms: r.half.schedule_to_start_ms.p99,
      loadavg_1m: r.machine.loadavg_1m,
    })),
    throughput_loss_pct: lossPct,
    cpu_per_task_increase_pct: cpuPct,
    target: { max_throughput_loss_pct: 15 },
    pass: lossPct <= 15,
  };
  console.log(JSON.stringify(out, null, 2));
  console.log(`results: ${writeResult('remote-tls', out)}`);
}

if (isMain(import.meta.url)) {
  const agentsArg = arg('agents');
  const base: RemoteBenchOptions = {
    tasks: arg('tasks') ? Number(arg('tasks')) : undefined,
    workers: arg('workers') ? Number(arg('workers')) : undefined,
    slotsPerWorker: arg('slots') ? Number(arg('slots')) : undefined,
    agents: agentsArg === 'thread' ? 'thread' : 'main',
  };
  if (arg('tls') === 'both') await compareTls(base, Number(arg('rounds') ?? 2));
  else {
    const r = await runRemoteBench({ ...base, tls: arg('tls') === 'on' });
    console.log(JSON.stringify(r, null, 2));
    console.log(`results: ${writeResult(r.agents === 'thread' ? 'remote-thread' : 'remote', r)}`);
  }
}
