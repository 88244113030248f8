/**
 * Durable dispatch through PostgreSQL (issue 19), against BullMQ and the
 * SQLite store in the same run: bench/dispatch.bench.ts's colony side with
 * the store opened on a throwaway PostgreSQL cluster (temp data dir, fsync on,
 * loopback TCP), one host. Run alone:
 *   npx tsx bench/dispatch-pg.bench.ts [--tasks 5000] [--concurrency 50]
 */
import { cpus, loadavg } from 'node:os';
import { openStore } from '../src/store/open.js';
import { startPg } from '../test/helpers/pg.js';
import { arg, bullmqDispatch, colonyDispatch } from './dispatch.bench.js';
import { isMain, machine, round, writeResult } from './perf-kit.js';

export async function runDispatchPgBench(o: { tasks?: number; concurrency?: number } = {}): Promise<Record<string, unknown>> {
  const n = o.tasks ?? 5_000;
  const concurrency = o.concurrency ?? 50;
  const timeoutMs = 600_000;
  const cluster = await startPg({ fsync: true });
  try {
    const url = await cluster.createDatabase('dispatch_bench');
    const load = loadavg().map((x) => round(x, 2));
    const pg = await colonyDispatch(n, concurrency, timeoutMs, () => openStore(url));
    const sqlite = await colonyDispatch(n, concurrency, timeoutMs);
    const bullmq = await bullmqDispatch(n, concurrency, timeoutMs);
    const result = {
      benchmark: 'dispatch-pg',
      machine: machine(),
      cores: cpus().length,
      loadavg_at_start: load,
      tasks: n,
      concurrency,
      postgres: pg,
      sqlite,
      bullmq,
      ratio_postgres_over_bullmq: round(pg.jobs_per_s / bullmq.jobs_per_s, 2),
      ratio_postgres_over_sqlite: round(pg.jobs_per_s / sqlite.jobs_per_s, 2),
      target_ratio: 1,
      pass: { 'PostgreSQL/BullMQ ≥ 1× (one host)': pg.jobs_per_s >= bullmq.jobs_per_s },
    };
    writeResult('dispatch-pg', result);
    return result;
  } finally {
    cluster.destroy();
  }
}

if (isMain(import.meta.url)) {
  const r = await runDispatchPgBench({ tasks: arg('tasks'), concurrency: arg('concurrency') });
  for (const k of ['postgres', 'sqlite', 'bullmq'] as const) {
    const s = r[k] as { jobs_per_s: number; submit_ms: number; run_ms: number; cpu_us_per_job: number };
    console.log(`${k.padEnd(8)} ${s.jobs_per_s} jobs/s (submit ${s.submit_ms} ms, run ${s.run_ms} ms, ${s.cpu_us_per_job} µs CPU/job)`);
  }
  console.log(`ratio postgres/bullmq ${String(r['ratio_postgres_over_bullmq'])}× (target ≥ 1×), postgres/sqlite ${String(r['ratio_postgres_over_sqlite'])}×`);
}
