/**
 * One host of bench/dispatch-pg.bench.ts's two-hosts run, as its own process
 * (hosts are processes): joins the PostgreSQL database as a host (lease,
 * write lock, NOTIFY), prints `ready`, waits for `go` on stdin, then submits
 * a graph of no-op tasks and runs it with a LocalPool, and prints its figures
 * as one JSON line. Args: url tasks concurrency host-id.
 */
import { createInterface } from 'node:readline';
import { defaultConfig } from '../src/core/config.js';
import { parseGraph } from '../src/core/graph-schema.js';
import { LocalPool } from '../src/runner/pool.js';
import { TaskService } from '../src/runner/service.js';
import { Cluster } from '../src/store/cluster.js';
import { openStore } from '../src/store/open.js';
import { noopEngine } from './dispatch.bench.js';

const [url = '', tasksArg = '1000', concArg = '50', hostId = 'bench-host'] = process.argv.slice(2);
const n = Number(tasksArg);
const store = openStore(url);
Cluster.join(store, {
  hostId,
  leaseMs: 30_000,
  beatMs: 3_000,
  onFenced: (m) => {
    process.stderr.write(`${m}\n`);
    process.exit(75);
  },
});
const service = new TaskService(store, defaultConfig());
const pool = new LocalPool({
  service,
  concurrency: Number(concArg),
  route: () => ({ engine: noopEngine, model: null, rule: 'bench', explanation: 'no-op engine' }),
});
let done = 0;
let failed = 0;
let finish!: () => void;
const all = new Promise<void>((r) => (finish = r));
store.subscribe((events) => {
  for (const e of events) {
    if (e.kind !== 'task.state') continue;
    if (e.data['to'] === 'succeeded') done++;
    else if (['failed', 'cancelled', 'timed_out', 'upstream_failed'].includes(String(e.data['to']))) failed++;
  }
  if (done + failed >= n) finish();
});
const lines = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
await new Promise<void>((r) => lines.once('line', () => r()));
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const graph = parseGraph({ name: `bench-${hostId}`, tasks: Array.from({ length: n }, (_, i) => ({ id: `t${i}`, engine: 'exec', prompt: 'true' })) });
service.submitGraph(graph, { submittedBy: 'admin', who: { actor: 'admin', origin: 'local' }, workspace: '/tmp', defaultTarget: 'host', holdHostTasks: false });
const t1 = performance.now();
pool.start();
await all;
const t2 = performance.now();
await pool.stop();
const cpu = process.cpuUsage(cpu0);
process.stdout.write(
  `${JSON.stringify({ host: hostId, done, failed, submit_ms: t1 - t0, run_ms: t2 - t1, total_ms: t2 - t0, cpu_ms: (cpu.user + cpu.system) / 1000 })}\n`,
);
store.close();
lines.close();
