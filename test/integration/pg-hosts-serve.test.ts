/**
 * Two real `colony serve` processes on one PostgreSQL database (the built
 * CLI, a throwaway cluster, a short lease): each gets a graph of 1,000 exec
 * tasks. While both run, host B's live events reach an SSE subscriber of
 * host A, and an action on B's task through A is refused with E_FOREIGN_TASK
 * naming B. Then B is SIGKILLed mid-run: A claims B's expired lease, adopts
 * its graph (B's open attempts closed as lost and charged, like a restarted
 * host's: the tasks allow two attempts, so they are requeued) and
 * runs it to the end. Checked in the database: every task succeeded with
 * exactly one succeeded attempt, no task has two attempts whose running
 * times overlap; `colony audit verify` passes on the shared chain; `colony
 * doctor` lists both hosts, B claimed by A.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostIdFile } from '../../src/runner/host-id.js';
import { adminApi } from '../helpers/admin-host.js';
import { assertBuilt, runCli, startServe, type ServeProcess } from '../helpers/cli.js';
import { pgMissing, pgQuery, startPg, type PgCluster } from '../helpers/pg.js';
import { killQuietly, makeTempDir, waitFor } from '../helpers/proc.js';

const missing = pgMissing();
const N = 1_000; // per host
let pgc: PgCluster | null = null;
let url = '';
const tmp = makeTempDir('colony-pg-hosts-');
const children: ChildProcess[] = [];
const streams: ClientRequest[] = [];

beforeAll(async () => {
  if (missing) return;
  pgc = await startPg();
  url = await pgc.createDatabase('hosts_e2e');
}, 120_000);

afterAll(() => {
  for (const s of streams) s.destroy();
  for (const c of children) killQuietly(c.pid);
  pgc?.destroy();
  tmp.cleanup();
});

/** The id a host made for itself at its first start (runner/host-id.ts). */
function hostIdOf(home: string): string {
  return readFileSync(hostIdFile(home), 'utf8').trim();
}

interface Serve extends ServeProcess {
  home: string;
  ws: string;
}

function setup(name: string): { ws: string; home: string; graph: string } {
  const ws = join(tmp.dir, name);
  mkdirSync(ws);
  const config = {
    store: { url, lease_ms: 3_000, heartbeat_ms: 500 },
    runner: { worktrees: 'off', kill_grace_ms: 500, concurrency: 8 },
    safety: { allowed_roots: [realpathSync(tmpdir())] },
  };
  writeFileSync(join(ws, 'colony.config.json'), JSON.stringify(config));
  const tasks = Array.from({ length: N }, (_, i) => ({ id: `t${i}`, engine: 'exec', prompt: `echo ${name}-${i}`, max_attempts: 2 }));
  const graph = join(ws, 'graph.json');
  writeFileSync(graph, JSON.stringify({ name: `graph-${name}`, tasks }));
  return { ws, home: join(ws, 'home'), graph };
}

async function serve(name: string): Promise<Serve & { graph: string }> {
  const { ws, home, graph } = setup(name);
  const s = await startServe(ws, home);
  children.push(s.child);
  return { ...s, home, ws, graph };
}

/** The admin SSE stream of a host; collects the raw text. */
function follow(s: Serve): { text: () => string } {
  let text = '';
  const req = httpRequest(
    {
      host: '127.0.0.1',
      port: s.port,
      path: '/events',
      headers: { host: `127.0.0.1:${s.port}`, authorization: `Bearer ${s.token}`, accept: 'text/event-stream' },
      agent: false,
    },
    (res) =>
      res
        .setEncoding('utf8')
        .on('data', (d: string) => (text += d))
        .on('error', () => undefined),
  );
  req.on('error', () => undefined);
  req.end();
  streams.push(req);
  return { text: () => text };
}

function query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
  return pgQuery<T>(url, sql, params);
}

const graphIdOf = async (name: string): Promise<string> => {
  const rows = await query<{ id: string }>('SELECT id FROM graphs WHERE name = $1', [`graph-${name}`]);
  return (rows[0] as { id: string }).id;
};

describe.skipIf(missing !== null)(`two colony hosts on one PostgreSQL${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('shows B’s live events on A, refuses A acting on B’s task, and after B is SIGKILLed A runs B’s graph to the end: each task succeeded exactly once', async () => {
    assertBuilt();
    const a = await serve('a');
    const b = await serve('b');
    const live = follow(a);
    const subB = await runCli(['submit', b.graph, '--home', b.home], { cwd: b.ws });
    expect(subB.code, subB.stdout + subB.stderr).toBe(0);
    const subA = await runCli(['submit', a.graph, '--home', a.home], { cwd: a.ws });
    expect(subA.code, subA.stdout + subA.stderr).toBe(0);
    const gb = await graphIdOf('b');
    const ga = await graphIdOf('a');

    // B's events reach A's SSE subscriber (through NOTIFY and A's read of the shared log).
    await waitFor(() => live.text().includes(`"task_id":"${gb}:t`), "host B's events on host A's stream", 30_000);
    // A refuses to act on B's task, naming B.
    const refused = await adminApi(a.port, a.token)('POST', `/admin/tasks/${gb}:t999/skip`);
    expect(
      [refused.status, refused.json['code']],
      refused.body + JSON.stringify(await query('SELECT id, owner_host FROM graphs')) + JSON.stringify(await query('SELECT * FROM hosts')),
    ).toEqual([409, 'E_FOREIGN_TASK']);
    expect(String(refused.json['error'] ?? refused.body)).toContain(hostIdOf(b.home));

    // SIGKILL B a quarter of the way through its graph.
    const doneOf = async (g: string): Promise<number> =>
      Number((await query<{ n: string }>("SELECT COUNT(*) AS n FROM tasks WHERE graph_id = $1 AND state = 'succeeded'", [g]))[0]?.n ?? 0);
    await waitFor(async () => (await doneOf(gb)) >= N / 4 || undefined, 'B to run a quarter of its graph', 120_000);
    b.child.kill('SIGKILL');
    await waitFor(() => b.child.exitCode !== null || b.child.signalCode !== null, 'B exited');
    const atKill = await doneOf(gb);
    expect(atKill).toBeLessThan(N);

    await waitFor(
      async () => {
        const rows = await query<{ n: string }>("SELECT COUNT(*) AS n FROM tasks WHERE state <> 'succeeded'");
        return Number(rows[0]?.n) === 0 || undefined;
      },
      'every task of both graphs to succeed',
      150_000,
    ).catch(async (e: Error) => {
      const states = await query('SELECT graph_id, state, COUNT(*) AS n FROM tasks GROUP BY 1, 2');
      throw new Error(`${e.message}: ${JSON.stringify(states)}\nA: ${a.out().slice(-2000)}`);
    });
    expect(a.out()).toContain(`took over host ${hostIdOf(b.home)}`);
    expect(await query('SELECT owner_host, COUNT(*)::int AS n FROM graphs GROUP BY 1')).toEqual([{ owner_host: hostIdOf(a.home), n: 2 }]);

    // Exactly one succeeded attempt per task; no two attempts of a task ran at overlapping times.
    const attempts = await query<{ task_id: string; attempt: number; state: string; started_at: string; finished_at: string | null }>(
      'SELECT task_id, attempt, state, started_at, finished_at FROM attempts ORDER BY task_id, attempt',
    );
    const byTask = new Map<string, typeof attempts>();
    for (const r of attempts) byTask.set(r.task_id, [...(byTask.get(r.task_id) ?? []), r]);
    expect(byTask.size).toBe(2 * N);
    const problems: string[] = [];
    for (const [id, rows] of byTask) {
      const ok = rows.filter((r) => r.state === 'succeeded').length;
      if (ok !== 1) problems.push(`${id}: ${ok} succeeded attempts`);
      for (let i = 1; i < rows.length; i++) {
        const prev = rows[i - 1] as (typeof rows)[number];
        const cur = rows[i] as (typeof rows)[number];
        if (prev.finished_at === null || Number(cur.started_at) < Number(prev.finished_at))
          problems.push(`${id}: attempt ${cur.attempt} overlaps ${prev.attempt}`);
      }
    }
    expect(problems).toEqual([]);
    const lost = attempts.filter((r) => r.state === 'lost');
    expect(lost.every((r) => r.task_id.startsWith(`${gb}:`))).toBe(true);
    expect(attempts.filter((r) => r.task_id.startsWith(`${ga}:`)).every((r) => r.state === 'succeeded')).toBe(true);

    // The one audit chain of both hosts verifies; doctor lists both hosts.
    const verify = await runCli(['audit', 'verify', '--home', a.home], { cwd: a.ws });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/^ok \d+ records/);
    const doctor = await runCli(['doctor', '--json', '--timeout-ms', '2000'], { cwd: a.ws });
    const hosts = (JSON.parse(doctor.stdout) as { store: { hosts: { id: string; lease: string; claimed_by: string | null }[] } }).store.hosts;
    expect(hosts.map((h) => [h.id, h.lease, h.claimed_by])).toEqual(
      expect.arrayContaining([
        [hostIdOf(a.home), 'live', null],
        [hostIdOf(b.home), 'claimed', hostIdOf(a.home)],
      ]),
    );
    a.child.kill('SIGTERM');
    await waitFor(() => a.child.exitCode !== null || a.child.signalCode !== null, 'A exited', 30_000);
  }, 300_000);
});
