/**
 * Recovery after a host SIGKILL with 1,000 tasks in flight or queued (issue 23).
 *
 * `colony run` (the built CLI, a process of its own) over a 1,000-task graph
 * of exec tasks with a background child (`sleep 0.2 & wait; echo i >> out.txt`)
 * at --concurrency 32 is SIGKILLed once 100 tasks have written their effect:
 * ~32 attempts in flight, ~870 queued. Then `colony run --resume` is started
 * and timed:
 *   - first re-dispatch: restart (spawn of the process) → the first attempt
 *     started by the new process (attempts.started_at), which includes node's
 *     start-up, opening the store, the orphan sweep and TaskService.recover();
 *   - recovered: restart → the audit record of the first attempt closed as lost;
 *   - all done: restart → the process exited with every task succeeded.
 * Two variants: `default` (parent-death signal + reaper end the killed
 * attempts' trees at once, the sweep finds nothing alive) and `sweep`
 * (COLONY_REAPER=off, COLONY_PDEATHSIG=off: the killed attempts' processes are
 * still alive at restart and the sweep at recovery ends them).
 * In `sweep` the first run's attempts take 3 s (a `slow` flag file, removed at
 * the kill), so the killed ones are still running at the restart.
 * `colony --version` is timed right before each restart: node's start-up,
 * which every figure includes, on this (shared) machine at that moment.
 * Target: first re-dispatch < 1 s.
 *
 *   npx tsx bench/recovery.bench.ts [--tasks 1000] [--concurrency 32]
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CLI, isMain, machine, round, sleep, tempDir, writeResult } from './perf-kit.js';

export interface RecoveryFigures {
  variant: 'default' | 'sweep';
  tasks: number;
  concurrency: number;
  done_at_kill: number;
  in_flight_at_kill: number;
  queued_at_kill: number;
  /** Processes of killed attempts the sweep found alive and ended at restart. */
  swept_processes: number;
  restart_to_recovered_ms: number;
  restart_to_first_dispatch_ms: number;
  restart_to_all_done_ms: number;
  /** `colony --version` wall time right before the restart: node's start-up on this machine now, part of every figure above. */
  cli_startup_ms: number;
  lost_attempts: number;
  effects: number;
}

function lines(file: string): number {
  if (!existsSync(file)) return 0;
  const s = readFileSync(file, 'utf8');
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === 10) n++;
  return n;
}

async function once(variant: 'default' | 'sweep', tasks: number, concurrency: number): Promise<RecoveryFigures> {
  const tmp = tempDir('colony-bench-recovery-');
  try {
    const ws = tmp.dir;
    const home = join(ws, 'home');
    const out = join(ws, 'out.txt');
    const graph = join(ws, 'graph.json');
    writeFileSync(
      graph,
      JSON.stringify({
        name: 'recovery',
        tasks: Array.from({ length: tasks }, (_, i) => ({
          id: `t${i}`,
          engine: 'exec',
          prompt: `if [ -e slow ]; then sleep 3 & else sleep 0.2 & fi; wait; echo t${i} >> out.txt`,
          max_attempts: 3,
        })),
      }),
    );
    const env = {
      ...process.env,
      COLONY_HOME: undefined,
      COLONY_CONFIG: undefined,
      ...(variant === 'sweep' ? { COLONY_REAPER: 'off', COLONY_PDEATHSIG: 'off', COLONY_ATTEMPT_CGROUP: 'off' } : {}),
    };
    const args = [CLI, 'run', graph, '--home', home, '--concurrency', String(concurrency), '--json'];
    // 'sweep': the attempts of the first run take 3 s, so the killed ones are still alive at the restart.
    if (variant === 'sweep') writeFileSync(join(ws, 'slow'), '');
    const first = spawn(process.execPath, args, { cwd: ws, env, stdio: 'ignore' });
    const deadline = Date.now() + 120_000;
    while (lines(out) < 100) {
      if (first.exitCode !== null || Date.now() > deadline) throw new Error(`the first run ended or stalled before 100 tasks (exit ${first.exitCode})`);
      await sleep(5);
    }
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    rmSync(join(ws, 'slow'), { force: true });
    const db = join(home, 'colony.db');
    const atKill = readOnly(db, (d) => d.prepare('SELECT state, COUNT(*) AS n FROM tasks GROUP BY state').all() as { state: string; n: number }[]);
    const count = (...states: string[]): number => atKill.filter((r) => states.includes(r.state)).reduce((s, r) => s + r.n, 0);

    const s0 = Date.now();
    await new Promise((r) => spawn(process.execPath, [CLI, '--version'], { stdio: 'ignore' }).once('exit', r));
    const startup = Date.now() - s0;
    const t0 = Date.now();
    const resumed = spawn(process.execPath, [...args, '--resume'], { cwd: ws, env, stdio: 'ignore' });
    const code = await new Promise<number | null>((r) => resumed.once('exit', r));
    const t1 = Date.now();
    if (code !== 0) throw new Error(`colony run --resume exited ${code}`);
    const after = readOnly(db, (d) => ({
      first: (d.prepare('SELECT MIN(started_at) AS t FROM attempts WHERE started_at >= ?').get(t0) as { t: number | null }).t,
      recovered: (
        d.prepare(`SELECT MIN(at) AS t FROM audit WHERE action = 'attempt.finished' AND json_extract(detail, '$.state') = 'lost' AND at >= ?`).get(t0) as {
          t: number | null;
        }
      ).t,
      lost: (d.prepare(`SELECT COUNT(*) AS n FROM attempts WHERE state = 'lost'`).get() as { n: number }).n,
      swept: (
        d.prepare(`SELECT COALESCE(SUM(json_extract(detail, '$.killed')), 0) AS n FROM audit WHERE action = 'attempt.processes_ended'`).get() as { n: number }
      ).n,
      notDone: (d.prepare(`SELECT COUNT(*) AS n FROM tasks WHERE state != 'succeeded'`).get() as { n: number }).n,
    }));
    if (after.notDone > 0) throw new Error(`${after.notDone} task(s) did not succeed`);
    return {
      variant,
      tasks,
      concurrency,
      done_at_kill: count('succeeded'),
      in_flight_at_kill: count('assigned', 'running'),
      queued_at_kill: count('waiting', 'ready'),
      swept_processes: after.swept,
      restart_to_recovered_ms: after.recovered === null ? NaN : after.recovered - t0,
      restart_to_first_dispatch_ms: after.first === null ? NaN : after.first - t0,
      restart_to_all_done_ms: t1 - t0,
      cli_startup_ms: startup,
      lost_attempts: after.lost,
      effects: lines(out),
    };
  } finally {
    tmp.cleanup();
  }
}

function readOnly<T>(file: string, fn: (d: Database.Database) => T): T {
  const d = new Database(file, { readonly: true });
  try {
    return fn(d);
  } finally {
    d.close();
  }
}

export async function runRecoveryBench(o: { tasks?: number; concurrency?: number } = {}): Promise<unknown> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: npm run build first`);
  const tasks = o.tasks ?? 1000;
  const concurrency = o.concurrency ?? 32;
  const runs: RecoveryFigures[] = [];
  for (const variant of ['default', 'sweep'] as const) {
    const r = await once(variant, tasks, concurrency);
    runs.push(r);
    console.log(
      `${variant}: at kill ${r.done_at_kill} done, ${r.in_flight_at_kill} in flight, ${r.queued_at_kill} queued; swept ${r.swept_processes} process(es); ` +
        `restart → recovered ${r.restart_to_recovered_ms} ms, → first re-dispatch ${r.restart_to_first_dispatch_ms} ms, → all done ${r.restart_to_all_done_ms} ms (colony --version: ${r.cli_startup_ms} ms)`,
    );
  }
  const worst = Math.max(...runs.map((r) => r.restart_to_first_dispatch_ms));
  const result = {
    benchmark: 'recovery',
    machine: machine(),
    runs,
    target_first_dispatch_ms: 1000,
    pass: { 'first re-dispatch < 1 s': worst < 1000 },
    summary: { worst_first_dispatch_ms: round(worst, 0) },
  };
  writeResult('recovery', result);
  return result;
}

if (isMain(import.meta.url)) {
  const arg = (name: string): number | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  runRecoveryBench({ tasks: arg('tasks'), concurrency: arg('concurrency') }).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
