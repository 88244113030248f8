/**
 * Durable dispatch through PostgreSQL (issue 19), against BullMQ and the
 * SQLite store in the same run: bench/dispatch.bench.ts's colony side with
 * the store opened on a throwaway PostgreSQL cluster (temp data dir, fsync on,
 * loopback TCP), one host joined as a host of a cluster (write lock and head
 * re-read per transaction, as `colony serve` does). Repetitions run the three
 * sides in turn (a fresh database each); the verdict is the median
 * PostgreSQL/BullMQ ratio. Then two hosts (two processes on one database,
 * bench/dispatch-pg-host.ts, each submitting and running half of the tasks
 * with the same concurrency; the figure is all tasks / the wall time until
 * both are done). Then the
 * physical limits of this machine, measured alone: round trips per second
 * through the store's synchronous port and through node-postgres, commits per
 * second with fsync on, and the server's cost of one single-row UPDATE; and one run
 * with fsync off, to show what the commits' fsync costs. Run alone:
 *   npx tsx bench/dispatch-pg.bench.ts [--tasks 5000] [--concurrency 50] [--reps 3]
 */
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Cluster } from '../src/store/cluster.js';
import { dbOf } from '../src/store/internal.js';
import { openStore } from '../src/store/open.js';
import { PgDb } from '../src/store/pg/pg-db.js';
import { openPgDb } from '../src/store/pg/open.js';
import { startPg, type PgCluster } from '../test/helpers/pg.js';
import { arg, bullmqDispatch, colonyDispatch, median } from './dispatch.bench.js';
import { isMain, machine, round, writeResult } from './perf-kit.js';
import { pgServerCpuMs } from './pg-server-cpu.js';

export async function runDispatchPgBench(o: { tasks?: number; concurrency?: number; reps?: number } = {}): Promise<Record<string, unknown>> {
  const n = o.tasks ?? 5_000;
  const concurrency = o.concurrency ?? 50;
  const reps = o.reps ?? 3;
  const timeoutMs = 600_000;
  const cluster = await startPg({ fsync: true });
  try {
    const runs = [];
    for (let i = 0; i < reps; i++) {
      const url = await cluster.createDatabase(`dispatch_bench_${i}`);
      const load = round(loadavg()[0] ?? 0, 2);
      let db: PgDb | null = null;
      let setup = { round_trips: 0, statements: 0, merged_updates: 0 };
      const server0 = pgServerCpuMs(cluster.port);
      const postgres = await colonyDispatch(n, concurrency, timeoutMs, () => {
        const store = openStore(url);
        Cluster.join(store, { hostId: `bench-one-${i}`, leaseMs: 30_000, beatMs: 3_000, onFenced: () => undefined });
        db = dbOf(store) as PgDb;
        setup = { ...db.stats };
        return store;
      });
      const stats = (db as PgDb | null)?.stats ?? setup;
      await new Promise((r) => setTimeout(r, 200)); // the closed connections' backends exit and are reaped
      const server1 = pgServerCpuMs(cluster.port);
      const sqlite = await colonyDispatch(n, concurrency, timeoutMs);
      const bullmq = await bullmqDispatch(n, concurrency, timeoutMs);
      runs.push({
        loadavg_1m: load,
        postgres,
        sqlite,
        bullmq,
        postgres_round_trips_per_task: round((stats.round_trips - setup.round_trips) / n, 3),
        postgres_statements_per_task: round((stats.statements - setup.statements) / n, 2),
        // The server's CPU for the whole side (setup and migrations included), per task.
        postgres_server_cpu_us_per_task: server0 === null || server1 === null ? null : round(((server1 - server0) * 1000) / n, 0),
        postgres_updates_merged_per_task: round((stats.merged_updates - setup.merged_updates) / n, 2),
        ratio_postgres_over_bullmq: round(postgres.jobs_per_s / bullmq.jobs_per_s, 2),
        ratio_postgres_over_sqlite: round(postgres.jobs_per_s / sqlite.jobs_per_s, 2),
      });
    }
    const ratios = runs.map((r) => r.ratio_postgres_over_bullmq);
    const ratio = median(ratios);
    const two = await twoHosts(await cluster.createDatabase('dispatch_bench_two'), n, concurrency, timeoutMs);
    const limits = await physicalLimits(cluster);
    // What fsync costs (a diagnostic, not the verdict: BullMQ's Redis runs without persistence, colony's figure keeps fsync on).
    const loose = await startPg({ fsync: false });
    let postgres_fsync_off;
    try {
      const url = await loose.createDatabase('dispatch_bench_nofsync');
      postgres_fsync_off = await colonyDispatch(n, concurrency, timeoutMs, () => openStore(url));
    } finally {
      loose.destroy();
    }
    const result = {
      benchmark: 'dispatch-pg',
      machine: machine(),
      cores: cpus().length,
      tasks: n,
      concurrency,
      reps,
      runs,
      ratio_postgres_over_bullmq: ratio,
      ratio_spread: [Math.min(...ratios), Math.max(...ratios)],
      ratio_postgres_over_sqlite: median(runs.map((r) => r.ratio_postgres_over_sqlite)),
      postgres_two_hosts: two,
      ratio_two_hosts_over_one: round(two.jobs_per_s / median(runs.map((r) => r.postgres.jobs_per_s)), 2),
      limits,
      postgres_fsync_off,
      target_ratio: 1,
      pass: { 'PostgreSQL/BullMQ ≥ 1× (one host)': ratio >= 1 },
    };
    writeResult('dispatch-pg', result);
    return result;
  } finally {
    cluster.destroy();
  }
}

/** What PostgreSQL on this machine can do at most, each measured alone. */
async function physicalLimits(cluster: PgCluster): Promise<Record<string, number>> {
  const url = await cluster.createDatabase('dispatch_limits');
  const N = 2_000;
  const rate = (count: number, t0: number): number => Math.round(count / ((performance.now() - t0) / 1000));
  const db = openPgDb(url, []);
  const one = db.prepare('SELECT 1 AS x');
  let t0 = performance.now();
  for (let i = 0; i < N; i++) one.get();
  const port = rate(N, t0);
  db.close();
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    t0 = performance.now();
    for (let i = 0; i < N; i++) await c.query('SELECT 1');
    const driver = rate(N, t0);
    await c.query('CREATE TABLE k (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)');
    t0 = performance.now();
    for (let i = 0; i < 500; i++) await c.query('INSERT INTO k VALUES ($1, 0)', [i]);
    const commits = rate(500, t0);
    const updates = Array.from({ length: N }, (_, i) => `UPDATE k SET v = v + 1 WHERE id = ${i % 500}`).join(';\n');
    t0 = performance.now();
    await c.query(`BEGIN;\n${updates};\nCOMMIT`);
    const statements = rate(N, t0);
    return {
      round_trips_per_s_sync_port: port,
      round_trips_per_s_node_postgres: driver,
      commits_per_s_fsync_on: commits,
      single_row_updates_per_s_in_one_batch: statements,
    };
  } finally {
    await c.end();
  }
}

if (isMain(import.meta.url)) {
  const r = await runDispatchPgBench({ tasks: arg('tasks'), concurrency: arg('concurrency'), reps: arg('reps') });
  type Side = { jobs_per_s: number; cpu_us_per_job: number };
  for (const run of r['runs'] as (Record<'postgres' | 'sqlite' | 'bullmq', Side> & Record<string, unknown>)[]) {
    const line = (['postgres', 'sqlite', 'bullmq'] as const).map((k) => `${k} ${run[k].jobs_per_s}/s (${run[k].cpu_us_per_job} µs CPU)`).join(', ');
    const server = `server ${String(run['postgres_server_cpu_us_per_task'])} µs CPU/task, ${String(run['postgres_updates_merged_per_task'])} UPDATEs merged/task`;
    console.log(
      `load ${String(run['loadavg_1m'])}: ${line}; pg ${String(run['postgres_round_trips_per_task'])} round trips and ${String(run['postgres_statements_per_task'])} statements per task, ${server}`,
    );
  }
  console.log(
    `ratio postgres/bullmq ${String(r['ratio_postgres_over_bullmq'])}× (spread ${JSON.stringify(r['ratio_spread'])}, target ≥ 1×), postgres/sqlite ${String(r['ratio_postgres_over_sqlite'])}×`,
  );
  const two = r['postgres_two_hosts'] as { jobs_per_s: number; total_ms: number };
  console.log(`two hosts ${two.jobs_per_s} jobs/s (wall ${two.total_ms} ms), two hosts/one host ${String(r['ratio_two_hosts_over_one'])}×`);
  console.log('limits', JSON.stringify(r['limits']));
  const off = r['postgres_fsync_off'] as { jobs_per_s: number; cpu_us_per_job: number };
  console.log(`postgres with fsync off (diagnostic): ${off.jobs_per_s}/s (${off.cpu_us_per_job} µs CPU)`);
}

/** Two host processes on one database, each submitting and running n/2 tasks; started together on `go`. */
async function twoHosts(
  url: string,
  n: number,
  concurrency: number,
  timeoutMs: number,
): Promise<{ jobs: number; total_ms: number; jobs_per_s: number; hosts: Record<string, number>[] }> {
  const script = fileURLToPath(new URL('./dispatch-pg-host.ts', import.meta.url));
  const hosts = ['bench-a', 'bench-b'].map((id) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, url, String(n / 2), String(concurrency), id], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    const ready = new Promise<void>((res, rej) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('ready\n')) res();
      });
      child.once('exit', (code) => rej(new Error(`bench host ${id} exited ${String(code)}: ${out}`)));
    });
    const result = new Promise<Record<string, number>>((res, rej) => {
      const timer = setTimeout(() => (child.kill('SIGKILL'), rej(new Error(`bench host ${id}: no result in ${timeoutMs} ms`))), timeoutMs);
      child.once('exit', () => {
        clearTimeout(timer);
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (!line) return rej(new Error(`bench host ${id}: ${out}`));
        res(JSON.parse(line) as Record<string, number>);
      });
    });
    return { child, ready, result };
  });
  await Promise.all(hosts.map((h) => h.ready));
  for (const h of hosts) h.child.stdin.write('go\n');
  const results = await Promise.all(hosts.map((h) => h.result));
  // Both start on `go` (within a millisecond): the wall time is the slower host's, from its own clock.
  const total = Math.max(...results.map((r) => r['total_ms'] as number));
  for (const r of results) if (r['done'] !== n / 2) throw new Error(`two hosts: ${JSON.stringify(r)}`);
  return {
    jobs: n,
    total_ms: round(total, 0),
    jobs_per_s: round(n / (total / 1000), 0),
    hosts: results.map((r) => ({
      submit_ms: round(r['submit_ms'] as number, 0),
      run_ms: round(r['run_ms'] as number, 0),
      cpu_ms: round(r['cpu_ms'] as number, 0),
    })),
  };
}
