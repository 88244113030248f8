/**
 * Self-fencing reaches remote workers: a host on PostgreSQL (through a TCP
 * proxy the test controls, lease 3 s) has a paired worker running a long exec
 * task of its graph; the proxy is black-holed. The host fences itself and
 * sends TASK_CANCELLED for its remote leases (no store write): the worker's
 * task stops writing before the host's lease could have run out.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../helpers/admin-host.js';
import { pgMissing, startPg, type PgCluster } from '../helpers/pg.js';
import { waitFor } from '../helpers/proc.js';
import { FAST, newSession, startAgent, startRemoteHost, submitTask } from '../helpers/remote-host.js';
import { startTcpProxyProcess, type TcpProxy } from '../helpers/tcp-proxy.js';

const missing = pgMissing();
const LEASE_MS = 3_000;
let pgc: PgCluster | null = null;
let proxy: TcpProxy | null = null;

beforeAll(async () => {
  if (missing) return;
  pgc = await startPg();
  proxy = await startTcpProxyProcess(pgc.port);
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  pgc?.destroy();
});

const ticksOf = (file: string): number[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number) : []);

describe.skipIf(missing !== null)(`self-fencing and remote workers${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('tells the workers to stop the fenced host’s tasks before its lease runs out', async () => {
    const p = proxy as TcpProxy;
    const url = (await (pgc as PgCluster).createDatabase('fence_remote')).replace(/:\d+\//, `:${p.port}/`);
    const config = testConfig({
      lan: { rate_limit_read_per_min: 100_000, rate_limit_submit_per_min: 100_000 },
      store: { url, lease_ms: LEASE_MS, heartbeat_ms: 500 },
    });
    const fenced: string[] = [];
    const h = await startRemoteHost(FAST, config, { onFenced: (m) => fenced.push(m) });
    try {
      const ada = await newSession(h, 'Ada');
      const w = await startAgent(h, ada);
      const file = join(w.root, 'ticks');
      submitTask(h, ada.submitter, { prompt: `while true; do date +%s%3N >> ${file}; sleep 0.1; done`, target: w.identity.worker_id, id: 'long' });
      await waitFor(() => (ticksOf(file).length >= 5 ? true : undefined), 'the worker to run the task', 30_000);
      await p.partition();
      const cutAt = Date.now();
      await waitFor(() => fenced[0], 'the host to fence itself', 10_000);
      expect(fenced[0]).toContain('fenced itself');
      // The task stops: no tick for a while, and the last one well before the lease could have run out.
      let seen = -1;
      await waitFor(
        async () => {
          const n = ticksOf(file).length;
          if (n === seen) return true;
          seen = n;
          await new Promise((r) => setTimeout(r, 400));
          return undefined;
        },
        'the remote task to stop',
        10_000,
      );
      expect(Math.max(...ticksOf(file))).toBeLessThan(cutAt + LEASE_MS);
      expect(w.events.some((e) => e.type === 'connected')).toBe(true);
      await w.stop();
    } finally {
      await p.heal();
      await h.close();
    }
  }, 90_000);
});
