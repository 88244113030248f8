/**
 * Self-fencing by time, with real processes: two `colony serve` hosts on one
 * throwaway PostgreSQL (lease 3 s, heartbeat 500 ms); host A reaches the
 * database through a TCP proxy the test controls. A runs long exec tasks, each
 * run writing its own marker file (a start line, then a timestamp every
 * 100 ms). The proxy is black-holed (no forwarding either way, no socket
 * closed) for longer than the lease. Then: A fences itself and exits 75 (after
 * its attempts' processes were killed) before B's `host.claimed` record; they are dead — the last line any A run wrote is older than
 * B's `host.claimed` audit record and no A run writes after it — B reruns the
 * tasks, every task ends succeeded and no two runs of a task overlap in time.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostIdFile } from '../../src/runner/host-id.js';
import { assertBuilt, runCli, startServe, type ServeProcess } from '../helpers/cli.js';
import { pgMissing, pgQuery, startPg, type PgCluster } from '../helpers/pg.js';
import { killQuietly, makeTempDir, waitFor } from '../helpers/proc.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const missing = pgMissing();
const TASKS = 3;
const TICKS = 80; // 8 s per run: an A run that survived the fence would still be writing when B claims
let pgc: PgCluster | null = null;
let proxy: TcpProxy | null = null;
let url = '';
const tmp = makeTempDir('colony-pg-fence-');
const children: ChildProcess[] = [];

beforeAll(async () => {
  if (missing) return;
  pgc = await startPg();
  url = await pgc.createDatabase('fence_e2e');
  proxy = await startTcpProxy(pgc.port);
}, 120_000);

afterAll(async () => {
  for (const c of children) killQuietly(c.pid);
  await proxy?.close();
  pgc?.destroy();
  tmp.cleanup();
});

function workspace(name: string, storeUrl: string): string {
  const ws = join(tmp.dir, name);
  mkdirSync(join(ws, 'marks'), { recursive: true });
  const config = {
    store: { url: storeUrl, lease_ms: 3_000, heartbeat_ms: 500 },
    runner: { worktrees: 'off', kill_grace_ms: 500, concurrency: 4 },
    safety: { allowed_roots: [realpathSync(tmpdir())] },
  };
  writeFileSync(join(ws, 'colony.config.json'), JSON.stringify(config));
  return ws;
}

async function serve(ws: string): Promise<ServeProcess & { home: string }> {
  const home = join(ws, 'home');
  const s = await startServe(ws, home);
  children.push(s.child);
  return { ...s, home };
}

function query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
  return pgQuery<T>(url, sql, params);
}

/** One run of a task: its marker file's timestamps (ms since the epoch, this machine's clock). */
interface Run {
  task: string;
  file: string;
  ticks: number[];
}

function runsIn(dir: string): Run[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).map((f) => {
    const lines = readFileSync(join(dir, f), 'utf8').split('\n');
    return { task: f.split('.')[0] as string, file: f, ticks: lines.slice(1).filter(Boolean).map(Number) };
  });
}

describe.skipIf(missing !== null)(`self-fencing of a host cut off from PostgreSQL${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('kills A’s attempts before B claims A; B reruns them, each task succeeds, no two runs of a task overlap', async () => {
    assertBuilt();
    const p = proxy as TcpProxy;
    const proxied = url.replace(/:\d+\//, `:${p.port}/`);
    const wsA = workspace('a', proxied);
    const wsB = workspace('b', url);
    const a = await serve(wsA);
    const b = await serve(wsB);
    const marks = join(wsA, 'marks');
    // Each run writes its own file (the task name, then the run's start in ns): start, then a tick every 100 ms.
    const tasks = Array.from({ length: TASKS }, (_, i) => ({
      id: `t${i}`,
      engine: 'exec',
      prompt: `f=${marks}/t${i}.$(date +%s%N); echo start > $f; n=0; while [ $n -lt ${TICKS} ]; do date +%s%3N >> $f; sleep 0.1; n=$((n+1)); done`,
      max_attempts: 3,
    }));
    writeFileSync(join(wsA, 'graph.json'), JSON.stringify({ name: 'fence-graph', tasks }));
    const sub = await runCli(['submit', join(wsA, 'graph.json'), '--home', a.home], { cwd: wsA });
    expect(sub.code, sub.stdout + sub.stderr).toBe(0);
    const idA = readFileSync(hostIdFile(a.home), 'utf8').trim();
    const idB = readFileSync(hostIdFile(b.home), 'utf8').trim();
    expect(idA).not.toBe(idB);

    // Every task runs on A for a moment, then A is cut off from the database.
    await waitFor(() => (runsIn(marks).filter((r) => r.ticks.length >= 5).length >= TASKS ? true : undefined), 'A to run every task', 60_000);
    const runsOfA = new Set(runsIn(marks).map((r) => r.file));
    let exitedAt = Number.POSITIVE_INFINITY;
    a.child.once('exit', () => (exitedAt = Date.now()));
    await p.partition();
    const cutAt = Date.now();

    // A fences itself and exits 75 for its supervisor.
    await waitFor(() => (a.child.exitCode !== null ? true : undefined), 'A to exit', 30_000);
    expect(a.child.exitCode, a.out()).toBe(75);
    expect(a.out()).toContain('fenced itself');

    // B claims A and runs the tasks again to the end.
    const claimed = await waitFor(
      async () => (await query<{ at: string }>("SELECT at FROM log WHERE action = 'host.claimed' AND target = $1", [idA]))[0],
      'B to claim A',
      30_000,
    );
    const claimedAt = Number(claimed.at);
    // A exits only after its attempts' processes were SIGKILLed and seen gone (fence-watch.ts): before the claim.
    expect(exitedAt).toBeLessThan(claimedAt);
    await waitFor(
      async () => {
        const rows = await query<{ n: number }>("SELECT COUNT(*)::int AS n FROM tasks WHERE state = 'succeeded'");
        return rows[0]?.n === TASKS || undefined;
      },
      'every task to succeed',
      60_000,
    ).catch(async (e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify(await query('SELECT id, state FROM tasks'))}\nB: ${b.out().slice(-2000)}`);
    });

    const runs = runsIn(marks);
    const first = runs.filter((r) => runsOfA.has(r.file));
    const second = runs.filter((r) => !runsOfA.has(r.file));
    expect(first).toHaveLength(TASKS);
    // A's runs died before B claimed A: their last tick is older than the claim, and they were cut short.
    for (const r of first) {
      const last = Math.max(...r.ticks);
      expect(last, `${r.file} ticked after the claim`).toBeLessThan(claimedAt);
      expect(r.ticks.length).toBeLessThan(TICKS);
    }
    expect(claimedAt - cutAt).toBeGreaterThanOrEqual(3_000 - 200); // not before the lease ran out (clock granularity aside)
    // B ran each task again to the end; no two runs of a task overlap.
    expect(second.map((r) => r.task).sort()).toEqual(tasks.map((t) => t.id).sort());
    for (const r of second) expect(r.ticks.length).toBe(TICKS);
    const problems: string[] = [];
    for (const t of tasks) {
      const spans = runs
        .filter((r) => r.task === t.id)
        .map((r) => [Math.min(...r.ticks), Math.max(...r.ticks)] as const)
        .sort((x, y) => x[0] - y[0]);
      for (let i = 1; i < spans.length; i++)
        if ((spans[i] as readonly number[])[0]! <= (spans[i - 1] as readonly number[])[1]!) problems.push(`${t.id}: runs overlap`);
    }
    expect(problems).toEqual([]);
    // Nothing of A's runs writes any more.
    const sizes = first.map((r) => r.ticks.length);
    await new Promise((r) => setTimeout(r, 500));
    expect(
      runsIn(marks)
        .filter((r) => runsOfA.has(r.file))
        .map((r) => r.ticks.length),
    ).toEqual(sizes);
    const owners = await query<{ owner_host: string }>('SELECT owner_host FROM graphs');
    expect(owners.map((o) => o.owner_host)).toEqual([idB]);

    b.child.kill('SIGTERM');
    await waitFor(() => (b.child.exitCode !== null || b.child.signalCode !== null ? true : undefined), 'B exited', 30_000);
  }, 180_000);
});
