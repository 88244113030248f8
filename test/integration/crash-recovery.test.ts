/**
 * Crash recovery for real: `colony run` in a child process is SIGKILLed mid
 * graph, then `colony run --resume` finishes it. No task is lost, none
 * succeeds twice, tasks that had finished are not re-run, interrupted attempts
 * are closed as `lost`. Also: a second `colony run` on a busy home refuses.
 */
import Database from 'better-sqlite3';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { lockHolder } from '../../src/store/host-lock.js';
import { assertBuilt, runCli, startCli } from '../helpers/cli.js';
import { killQuietly, makeTempDir, waitFor } from '../helpers/proc.js';

vi.setConfig({ testTimeout: 120_000 }); // each test spawns the CLI; only a hang should hit this on a busy 2-core box
const cleanups: (() => void)[] = [];
beforeAll(() => assertBuilt());
afterAll(() => cleanups.forEach((c) => c()));

/** 30 tasks: 6 chains of 3, 8 independent tasks, 3 joins and a final task; each logs its id then sleeps 0.2–0.4 s. */
function crashGraph(): { name: string; tasks: Record<string, unknown>[] } {
  const tasks: Record<string, unknown>[] = [];
  const add = (id: string, deps: string[] = []): void => {
    const secs = (0.2 + ((tasks.length * 7) % 5) * 0.05).toFixed(2);
    // max_attempts 2: an attempt interrupted by the crash counts as one (closed as lost), the rerun is the second.
    tasks.push({ id, engine: 'exec', prompt: `echo ${id} >> log.txt; sleep ${secs}`, depends_on: deps, max_attempts: 2 });
  };
  for (let c = 1; c <= 6; c++) {
    add(`c${c}-1`);
    add(`c${c}-2`, [`c${c}-1`]);
    add(`c${c}-3`, [`c${c}-2`]);
  }
  for (let p = 1; p <= 8; p++) add(`p${p}`);
  add('j1', ['c1-3', 'c2-3']);
  add('j2', ['c3-3', 'c4-3', 'p1']);
  add('j3', ['c5-3', 'c6-3', 'p2', 'p3']);
  add('final', ['j1', 'j2', 'j3']);
  return { name: 'crash', tasks };
}

interface TaskRow {
  id: string;
  state: string;
  attempt: number;
}
interface AttemptRow {
  task_id: string;
  attempt: number;
  state: string;
  finished_at: number | null;
}

function readDb(file: string): { tasks: TaskRow[]; attempts: AttemptRow[]; graphs: number } {
  // Not read-only: after a SIGKILL the WAL may need recovery, which needs write access to the -shm file.
  const db = new Database(file);
  try {
    return {
      tasks: db.prepare('SELECT id, state, attempt FROM tasks ORDER BY seq').all() as TaskRow[],
      attempts: db.prepare('SELECT task_id, attempt, state, finished_at FROM attempts ORDER BY task_id, attempt').all() as AttemptRow[],
      graphs: (db.prepare('SELECT COUNT(*) AS n FROM graphs').get() as { n: number }).n,
    };
  } finally {
    db.close();
  }
}

const local = (id: string): string => id.slice(id.indexOf(':') + 1);

function logCounts(file: string): Map<string, number> {
  const counts = new Map<string, number>();
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  for (const line of text.split('\n')) if (line) counts.set(line, (counts.get(line) ?? 0) + 1);
  return counts;
}

describe('crash recovery', () => {
  it('finishes a SIGKILLed run with --resume: every task succeeds exactly once, finished tasks are not re-run', async () => {
    const tmp = makeTempDir('colony-crash-');
    cleanups.push(tmp.cleanup);
    const dir = tmp.dir;
    const graph = crashGraph();
    expect(graph.tasks).toHaveLength(30);
    writeFileSync(join(dir, 'graph.json'), JSON.stringify(graph, null, 2));
    const logFile = join(dir, 'log.txt');
    const dbFile = join(dir, 'H', 'colony.db');

    // 1. Start the run and SIGKILL it once some, but not all, tasks have started.
    const first = startCli(['run', 'graph.json', '--home', 'H', '--concurrency', '4', '--json'], { cwd: dir });
    cleanups.push(() => killQuietly(first.child.pid));
    await waitFor(() => (logCounts(logFile).size >= 10 ? true : false), 'ten tasks to have started', 30_000, 10);
    first.child.kill('SIGKILL');
    const killed = await first.result;
    expect(killed.signal).toBe('SIGKILL');

    // 2. What the store says happened before the crash.
    const before = readDb(dbFile);
    expect(before.tasks).toHaveLength(30);
    const doneBefore = new Set(before.tasks.filter((t) => t.state === 'succeeded').map((t) => local(t.id)));
    const interrupted = before.tasks.filter((t) => t.state === 'running' || t.state === 'assigned').map((t) => local(t.id));
    expect(doneBefore.size).toBeGreaterThan(0); // the kill really happened mid-graph…
    expect(doneBefore.size).toBeLessThan(30); // …and not after the end
    expect(before.tasks.some((t) => t.state !== 'succeeded')).toBe(true);

    // 3. Resume to completion.
    const resumed = await runCli(['run', 'graph.json', '--resume', '--home', 'H', '--json'], { cwd: dir, timeoutMs: 60_000 });
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    const summary = JSON.parse(resumed.stdout) as { graph_id: string; ok: boolean; tasks: { id: string; state: string }[] };
    expect(summary.ok).toBe(true);
    expect(summary.graph_id).toBe(before.tasks[0]?.id.split(':')[0]); // the same graph, not a new submission

    // 4. The store: one graph, every task succeeded once; earlier attempts were closed as lost.
    const after = readDb(dbFile);
    expect(after.graphs).toBe(1);
    expect(after.tasks.map((t) => t.state)).toEqual(Array(30).fill('succeeded'));
    for (const t of after.tasks) {
      const attempts = after.attempts.filter((a) => a.task_id === t.id);
      const what = `${local(t.id)} attempts ${JSON.stringify(attempts.map((a) => a.state))}`;
      expect(
        attempts.filter((a) => a.state === 'succeeded'),
        what,
      ).toHaveLength(1);
      expect(attempts[attempts.length - 1]?.state, what).toBe('succeeded');
      expect(
        attempts.slice(0, -1).every((a) => a.state === 'lost'),
        what,
      ).toBe(true);
      expect(
        attempts.every((a) => a.finished_at !== null),
        what,
      ).toBe(true);
      expect(t.attempt, what).toBe(attempts.length);
      if (doneBefore.has(local(t.id))) expect(attempts, what).toHaveLength(1);
    }
    for (const id of interrupted) {
      const attempts = after.attempts.filter((a) => local(a.task_id) === id);
      // A running task lost its attempt; an assigned one had not started one yet.
      expect(attempts.length, id).toBeGreaterThanOrEqual(1);
    }

    // 5. The side effects: finished tasks ran once; the others at least once, at most twice.
    const counts = logCounts(logFile);
    for (const t of graph.tasks) {
      const id = t['id'] as string;
      const n = counts.get(id) ?? 0;
      if (doneBefore.has(id)) expect(n, `${id} had succeeded before the kill`).toBe(1);
      else expect(n >= 1 && n <= 2, `${id} ran ${n} times`).toBe(true);
    }
    expect([...counts.keys()].sort()).toEqual(graph.tasks.map((t) => t['id'] as string).sort());

    // 6. The audit chain survived the crash and continued.
    const verify = await runCli(['audit', 'verify', '--home', 'H'], { cwd: dir });
    expect(verify.stdout).toMatch(/^ok \d+ records/);
    expect(verify.code).toBe(0);
  });

  it('refuses a second colony run on a home that is in use, and writes nothing', async () => {
    const tmp = makeTempDir('colony-lock-');
    cleanups.push(tmp.cleanup);
    const dir = tmp.dir;
    writeFileSync(
      join(dir, 'hold.json'),
      JSON.stringify({ name: 'hold', tasks: [{ id: 'hold', engine: 'exec', prompt: 'touch started; while [ ! -f release ]; do sleep 0.05; done' }] }),
    );
    writeFileSync(join(dir, 'other.json'), JSON.stringify({ name: 'other', tasks: [{ id: 'x', engine: 'exec', prompt: 'touch other-ran' }] }));

    const first = startCli(['run', 'hold.json', '--home', 'H', '--json'], { cwd: dir });
    cleanups.push(() => killQuietly(first.child.pid));
    await waitFor(() => existsSync(join(dir, 'started')), 'the first run to start its task', 30_000);

    const second = await runCli(['run', 'other.json', '--home', 'H'], { cwd: dir });
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(new RegExp(`^colony: another colony process \\(pid ${first.child.pid}\\) is using this home`));
    expect(second.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(join(dir, 'other-ran'))).toBe(false);

    writeFileSync(join(dir, 'release'), '');
    const done = await first.result;
    expect(done.code).toBe(0);
    expect(lockHolder(join(dir, 'H', 'host-lock.db'))).toBeNull(); // released on exit
    const db = readDb(join(dir, 'H', 'colony.db'));
    expect(db.graphs).toBe(1);
    expect(db.tasks.map((t) => local(t.id))).toEqual(['hold']);
  });
});
