/**
 * Durable dispatch, colony vs BullMQ, in the same run (issue 10, benchmark 1).
 *
 * colony: a 20k-task graph with no edges submitted through TaskService into a
 * real SQLite file, then run to completion by a LocalPool of 50 slots whose
 * engine is a real Engine object that yields `done` at once (no process spawn):
 * what is measured is dispatch, the store (every transition with its audit
 * record and live event) and the pool's bookkeeping.
 *
 * BullMQ: the same 20k no-op jobs added with addBulk to a local Redis (started
 * and stopped here, persistence off) and processed by one Worker with
 * concurrency 50 and a no-op processor. Completed jobs are kept (BullMQ's
 * default), as colony keeps its rows.
 *
 * Both sides: submit everything, then start processing; the figure is
 * jobs / (submit + run-to-completion) wall time. Run alone:
 *   npx tsx bench/dispatch.bench.ts [--tasks 20000] [--concurrency 50] [--reps 3]
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { defaultConfig } from '../src/core/config.js';
import type { Engine, EngineEvent } from '../src/core/engine.js';
import { parseGraph } from '../src/core/graph-schema.js';
import { LocalPool } from '../src/runner/pool.js';
import { TaskService } from '../src/runner/service.js';
import { Store } from '../src/store/store.js';
import { isMain, machine, round, startRedis, tempDir, writeResult } from './perf-kit.js';
import { dbOf } from '../src/store/internal.js';

export interface DispatchOptions {
  tasks?: number;
  concurrency?: number;
  /** Hard bound for each side's run; the benchmark fails rather than hang. */
  timeoutMs?: number;
  /** Repetitions (each runs both sides); the median ratio is the verdict. */
  reps?: number;
}

export interface SideFigures {
  jobs: number;
  /** CPU time spent from submit to completion (colony: this process; BullMQ: this process + redis-server). */
  cpu_ms: number;
  cpu_us_per_job: number;
  submit_ms: number;
  run_ms: number;
  total_ms: number;
  jobs_per_s: number; // jobs / total_ms
  run_jobs_per_s: number; // jobs / run_ms (processing only)
}

/** A real Engine whose every run ends at once: measures everything but the work. */
export const noopEngine: Engine = {
  name: 'noop',
  async *run(): AsyncGenerator<EngineEvent> {
    yield { type: 'done', ok: true, summary: 'no-op' };
  },
};

/** `open`: the store to dispatch through (default a SQLite file in a temp dir; bench/dispatch-pg.bench.ts passes PostgreSQL). */
export async function colonyDispatch(
  n: number,
  concurrency: number,
  timeoutMs: number,
  open: (dir: string) => Store = (dir) => Store.open(join(dir, 'colony.db')),
): Promise<SideFigures & { store_rows: Record<string, number> }> {
  const tmp = tempDir('colony-bench-dispatch-');
  const store = open(tmp.dir);
  const service = new TaskService(store, defaultConfig());
  const pool = new LocalPool({
    service,
    concurrency,
    route: () => ({ engine: noopEngine, model: null, rule: 'bench', explanation: 'no-op engine' }),
  });
  try {
    const tasks = Array.from({ length: n }, (_, i) => ({ id: `t${i}`, engine: 'exec', prompt: 'true' }));
    const graph = parseGraph({ name: 'dispatch-bench', tasks });
    let done = 0;
    let failed = 0;
    let resolveAll!: () => void;
    const all = new Promise<void>((r) => (resolveAll = r));
    store.subscribe((events) => {
      for (const e of events) {
        if (e.kind !== 'task.state') continue;
        const to = e.data['to'];
        if (to === 'succeeded') done++;
        else if (to === 'failed' || to === 'cancelled' || to === 'timed_out' || to === 'upstream_failed') failed++;
      }
      if (done + failed >= n) resolveAll();
    });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    service.submitGraph(graph, {
      submittedBy: 'admin',
      who: { actor: 'admin', origin: 'local' },
      workspace: tmp.dir,
      defaultTarget: 'host',
      holdHostTasks: false,
    });
    const t1 = performance.now();
    pool.start();
    await withTimeout(all, timeoutMs, () => `colony: ${done}/${n} tasks done`);
    const t2 = performance.now();
    await pool.stop();
    if (failed > 0) throw new Error(`colony: ${failed} task(s) did not succeed`);
    const count = (sql: string): number => (dbOf(store).prepare(sql).get() as { n: number }).n;
    const store_rows = {
      tasks_succeeded: count("SELECT COUNT(*) AS n FROM tasks WHERE state = 'succeeded'"),
      attempts: count('SELECT COUNT(*) AS n FROM attempts'),
      audit: count('SELECT COUNT(*) AS n FROM audit'),
      events: count('SELECT COUNT(*) AS n FROM events'),
    };
    if (store_rows.tasks_succeeded !== n) throw new Error(`colony: store has ${store_rows.tasks_succeeded}/${n} succeeded tasks`);
    return { ...figures(n, t0, t1, t2, cpuMs(process.cpuUsage(cpu0))), store_rows };
  } finally {
    await pool.stop();
    store.close();
    tmp.cleanup();
  }
}

export async function bullmqDispatch(n: number, concurrency: number, timeoutMs: number): Promise<SideFigures & { redis: string }> {
  const redis = await startRedis();
  const connection = { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null };
  const name = 'dispatch-bench';
  const queue = new Queue(name, { connection });
  let worker: Worker | null = null;
  try {
    await queue.waitUntilReady();
    const cpu0 = process.cpuUsage();
    const redisCpu0 = procCpuMs(redis.pid);
    const t0 = performance.now();
    const CHUNK = 1000;
    for (let i = 0; i < n; i += CHUNK) {
      const jobs = Array.from({ length: Math.min(CHUNK, n - i) }, (_, k) => ({ name: 'noop', data: { i: i + k } }));
      await queue.addBulk(jobs);
    }
    const t1 = performance.now();
    let done = 0;
    let failed = 0;
    let resolveAll!: () => void;
    const all = new Promise<void>((r) => (resolveAll = r));
    worker = new Worker(name, async () => undefined, { connection, concurrency });
    worker.on('completed', () => {
      if (++done + failed >= n) resolveAll();
    });
    worker.on('failed', () => {
      if (done + ++failed >= n) resolveAll();
    });
    await withTimeout(all, timeoutMs, () => `bullmq: ${done}/${n} jobs done`);
    const t2 = performance.now();
    const cpu = cpuMs(process.cpuUsage(cpu0)) + (procCpuMs(redis.pid) - redisCpu0);
    if (failed > 0) throw new Error(`bullmq: ${failed} job(s) failed`);
    const counts = await queue.getJobCounts('completed');
    if (counts['completed'] !== n) throw new Error(`bullmq: ${counts['completed']}/${n} jobs completed in Redis`);
    return { ...figures(n, t0, t1, t2, cpu), redis: redis.version };
  } finally {
    await worker?.close();
    await queue.close();
    await redis.stop();
  }
}

export async function runDispatchBench(o: DispatchOptions = {}): Promise<Record<string, unknown>> {
  const n = o.tasks ?? 20_000;
  const concurrency = o.concurrency ?? 50;
  const timeoutMs = o.timeoutMs ?? 120_000;
  const reps = o.reps ?? 3;
  // Repetitions alternate the sides, so a change of the machine's load hits both alike; the
  // verdict is on the median of the per-repetition ratios (issue 17: median and spread).
  const runs: { colony: SideFigures & { store_rows: Record<string, number> }; bullmq: SideFigures & { redis: string }; ratio: number; loadavg_1m: number }[] =
    [];
  for (let i = 0; i < reps; i++) {
    const colony = await colonyDispatch(n, concurrency, timeoutMs);
    const bullmq = await bullmqDispatch(n, concurrency, timeoutMs);
    runs.push({ colony, bullmq, ratio: round(colony.jobs_per_s / bullmq.jobs_per_s, 2), loadavg_1m: round(loadavg()[0] ?? 0, 2) });
  }
  const ratios = runs.map((r) => r.ratio);
  const ratio = median(ratios);
  const mid = runs.find((r) => r.ratio === ratio) ?? (runs[0] as (typeof runs)[number]);
  const { colony, bullmq } = mid;
  const cpuRatio = median(runs.map((r) => r.bullmq.cpu_us_per_job / r.colony.cpu_us_per_job));
  const result = {
    benchmark: 'dispatch',
    machine: machine(),
    tasks: n,
    concurrency,
    reps,
    colony,
    bullmq,
    runs: runs.map((r) => ({ colony_jobs_per_s: r.colony.jobs_per_s, bullmq_jobs_per_s: r.bullmq.jobs_per_s, ratio: r.ratio, loadavg_1m: r.loadavg_1m })),
    ratio_colony_over_bullmq: ratio,
    ratio_spread: [Math.min(...ratios), Math.max(...ratios)],
    ratio_processing_only: round(colony.run_jobs_per_s / bullmq.run_jobs_per_s, 2),
    ratio_cpu_per_job_bullmq_over_colony: round(cpuRatio, 2),
    target_ratio: 3,
    pass: { 'colony/BullMQ ≥ 3×': ratio >= 3 },
  };
  writeResult('dispatch', result);
  return result;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] ?? NaN;
}

function figures(n: number, t0: number, t1: number, t2: number, cpu: number): SideFigures {
  return {
    jobs: n,
    cpu_ms: Math.round(cpu),
    cpu_us_per_job: round((cpu * 1000) / n),
    submit_ms: round(t1 - t0),
    run_ms: round(t2 - t1),
    total_ms: round(t2 - t0),
    jobs_per_s: Math.round(n / ((t2 - t0) / 1000)),
    run_jobs_per_s: Math.round(n / ((t2 - t1) / 1000)),
  };
}

function cpuMs(u: NodeJS.CpuUsage): number {
  return (u.user + u.system) / 1000;
}

/** utime + stime of another process from /proc, in ms. */
function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15 of stat)
  return (ticks * 1000) / CLOCK_TICKS;
}

const CLOCK_TICKS = 100; // sysconf(_SC_CLK_TCK) on Linux

function withTimeout<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error(`timed out after ${ms} ms (${what()})`)), ms);
    }),
  ]);
}

export function arg(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(v) ? v : undefined;
}

if (isMain(import.meta.url)) {
  const r = await runDispatchBench({ tasks: arg('tasks'), concurrency: arg('concurrency'), reps: arg('reps') });
  const c = r['colony'] as SideFigures;
  const b = r['bullmq'] as SideFigures;
  console.log(`colony  ${c.jobs_per_s} jobs/s (submit ${c.submit_ms} ms, run ${c.run_ms} ms, ${c.cpu_us_per_job} µs CPU/job)`);
  console.log(`bullmq  ${b.jobs_per_s} jobs/s (submit ${b.submit_ms} ms, run ${b.run_ms} ms, ${b.cpu_us_per_job} µs CPU/job incl. redis)`);
  console.log(`runs ${JSON.stringify(r['runs'])}`);
  console.log(`ratio colony/bullmq median ${String(r['ratio_colony_over_bullmq'])}× spread ${JSON.stringify(r['ratio_spread'])} (target ≥ 3×)`);
}
