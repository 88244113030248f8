/**
 * Durable dispatch through PostgreSQL (issue 19), against BullMQ and the
 * SQLite store in the same run: bench/dispatch.bench.ts's colony side with
 * the store opened on a throwaway PostgreSQL cluster (temp data dir, fsync on,
 * loopback TCP), one host — and two hosts (two processes on one database,
 * bench/dispatch-pg-host.ts, each submitting and running half of the tasks
 * with the same concurrency; the figure is all tasks / the wall time until
 * both are done). The one-host run joins the database as a host too (write
 * lock and head re-read per transaction, as `colony serve` does); the
 * `postgres_no_cluster` run is the store alone, without that prologue. Run alone:
 *   npx tsx bench/dispatch-pg.bench.ts [--tasks 5000] [--concurrency 50]
 */
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Cluster } from '../src/store/cluster.js';
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
    const bareUrl = await cluster.createDatabase('dispatch_bench_bare');
    const twoUrl = await cluster.createDatabase('dispatch_bench_two');
    const load = loadavg().map((x) => round(x, 2));
    const pg = await colonyDispatch(n, concurrency, timeoutMs, () => {
      const s = openStore(url);
      Cluster.join(s, { hostId: 'bench-one', leaseMs: 30_000, beatMs: 3_000, onFenced: () => undefined });
      return s;
    });
    const bare = await colonyDispatch(n, concurrency, timeoutMs, () => openStore(bareUrl));
    const two = await twoHosts(twoUrl, n, concurrency, timeoutMs);
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
      postgres_no_cluster: bare,
      postgres_two_hosts: two,
      sqlite,
      bullmq,
      ratio_postgres_over_bullmq: round(pg.jobs_per_s / bullmq.jobs_per_s, 2),
      ratio_postgres_over_sqlite: round(pg.jobs_per_s / sqlite.jobs_per_s, 2),
      ratio_two_hosts_over_one: round(two.jobs_per_s / pg.jobs_per_s, 2),
      ratio_two_hosts_over_bullmq: round(two.jobs_per_s / bullmq.jobs_per_s, 2),
      ratio_one_host_over_no_cluster: round(pg.jobs_per_s / bare.jobs_per_s, 2),
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
  for (const k of ['postgres', 'postgres_no_cluster', 'sqlite', 'bullmq'] as const) {
    const s = r[k] as { jobs_per_s: number; submit_ms: number; run_ms: number; cpu_us_per_job: number };
    console.log(`${k.padEnd(8)} ${s.jobs_per_s} jobs/s (submit ${s.submit_ms} ms, run ${s.run_ms} ms, ${s.cpu_us_per_job} µs CPU/job)`);
  }
  const two = r['postgres_two_hosts'] as { jobs_per_s: number; total_ms: number; hosts: { submit_ms: number; run_ms: number }[] };
  console.log(
    `two hosts ${two.jobs_per_s} jobs/s (wall ${two.total_ms} ms; ${two.hosts.map((h) => `submit ${h.submit_ms} ms, run ${h.run_ms} ms`).join(' | ')})`,
  );
  console.log(`ratio two hosts/one host ${String(r['ratio_two_hosts_over_one'])}×, two hosts/bullmq ${String(r['ratio_two_hosts_over_bullmq'])}×`);
  console.log(`ratio postgres/bullmq ${String(r['ratio_postgres_over_bullmq'])}× (target ≥ 1×), postgres/sqlite ${String(r['ratio_postgres_over_sqlite'])}×`);
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
