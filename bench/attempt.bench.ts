/**
 * What one task attempt costs (issue 24): N trivial `exec` tasks (`true`)
 * through the real `colony run` binary (dist/cli/index.js) at concurrency 8,
 * against bare Node spawns of the same command (`sh -c true`, 8 at a time) in
 * the same run, in an empty workspace and in workspaces of 30,000 and 200,000
 * small files (with a few protected files in them, so the guard has work).
 *
 * Targets: colony ≥ 0.8× the bare spawn rate (empty workspace); the per-task
 * cost with 200,000 files within 10% of the empty workspace's.
 *
 *   npm run bench -- attempt
 *   npx tsx bench/attempt.bench.ts [--tasks 1000] [--sizes 0,30000,200000]
 *
 * Wall time and CPU (user+sys of the colony process and its children, from
 * /usr/bin/time) per run; workspaces are built once (not timed) and the
 * colony home is fresh for each run.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR, isMain, machine, round, tempDir, writeResult } from './perf-kit.js';

const CLI = join(BENCH_DIR, '..', 'dist', 'cli', 'index.js');

export interface AttemptOptions {
  tasks?: number;
  concurrency?: number;
  sizes?: number[];
}

interface RunFigures {
  files: number;
  wall_ms: number;
  cpu_ms: number | null;
  per_task_ms: number;
  tasks_per_s: number;
}

/** `files` small files, 100 per directory, two levels deep, plus a few protected ones. */
function makeWorkspace(dir: string, files: number): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, '.env'), 'SECRET=bench\n');
  writeFileSync(join(dir, 'dev.key'), 'not a real key\n');
  for (let i = 0; i < files; i++) {
    const d = join(dir, `d${Math.floor(i / 10_000)}`, `e${Math.floor(i / 100) % 100}`);
    if (i % 100 === 0) mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `f${i}.txt`), 'x');
  }
}

function graphFile(dir: string, n: number): string {
  const file = join(dir, 'attempt-bench.json');
  const tasks = Array.from({ length: n }, (_, i) => ({ id: `t${i}`, engine: 'exec', prompt: 'true' }));
  writeFileSync(file, JSON.stringify({ name: 'attempt-bench', tasks }));
  return file;
}

/** Runs a command under /usr/bin/time; returns wall ms and user+sys CPU ms of it and its children. */
function timed(cmd: string, args: string[], cwd: string): Promise<{ wall_ms: number; cpu_ms: number | null; code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('/usr/bin/time', ['-f', 'CPU %U %S', cmd, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const wall = performance.now() - t0;
      const m = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(err);
      resolve({ wall_ms: wall, cpu_ms: m ? (Number(m[1]) + Number(m[2])) * 1000 : null, code, out: out + err });
    });
  });
}

async function colonyRun(ws: string, home: string, n: number, concurrency: number): Promise<RunFigures & { files: number }> {
  const graph = graphFile(ws, n);
  const r = await timed(process.execPath, [CLI, 'run', graph, '--concurrency', String(concurrency), '--home', home, '--json'], ws);
  if (r.code !== 0) throw new Error(`colony run exited ${r.code}: ${r.out.slice(-2000)}`);
  const summary = JSON.parse(r.out.slice(r.out.indexOf('{'), r.out.lastIndexOf('}') + 1)) as { ok: boolean; tasks: unknown[] };
  if (!summary.ok || summary.tasks.length !== n) throw new Error('colony run did not succeed on every task');
  return {
    files: 0,
    wall_ms: round(r.wall_ms, 0),
    cpu_ms: r.cpu_ms === null ? null : round(r.cpu_ms, 0),
    per_task_ms: round(r.wall_ms / n, 2),
    tasks_per_s: round((n * 1000) / r.wall_ms, 1),
  };
}

/** The same command spawned by Node, `concurrency` at a time, nothing else (run in its own process for its CPU figure). */
async function bareSpawns(ws: string, n: number, concurrency: number): Promise<RunFigures> {
  const script = `
    const { spawn } = require('node:child_process');
    let started = 0, done = 0;
    const next = () => {
      if (started >= ${n}) return;
      started++;
      spawn('sh', ['-c', 'true'], { stdio: 'ignore' }).on('close', () => { done++; if (done === ${n}) process.exit(0); next(); });
    };
    for (let i = 0; i < ${concurrency}; i++) next();`;
  const r = await timed(process.execPath, ['-e', script], ws);
  if (r.code !== 0) throw new Error(`bare spawns exited ${r.code}`);
  return {
    files: 0,
    wall_ms: round(r.wall_ms, 0),
    cpu_ms: r.cpu_ms === null ? null : round(r.cpu_ms, 0),
    per_task_ms: round(r.wall_ms / n, 2),
    tasks_per_s: round((n * 1000) / r.wall_ms, 1),
  };
}

export async function runAttemptBench(o: AttemptOptions = {}): Promise<Record<string, unknown>> {
  const n = o.tasks ?? 1000;
  const concurrency = o.concurrency ?? 8;
  const sizes = o.sizes ?? [0, 30_000, 200_000];
  readFileSync(CLI); // fail early: run `npm run build` first
  const tmp = tempDir('colony-bench-attempt-');
  try {
    const workspaces = sizes.map((files) => {
      const ws = join(tmp.dir, `ws-${files}`);
      const t0 = performance.now();
      makeWorkspace(ws, files);
      console.log(`workspace of ${files} files built in ${Math.round(performance.now() - t0)} ms`);
      return { files, ws };
    });
    const bareBefore = await bareSpawns(tmp.dir, n, concurrency);
    const colony: RunFigures[] = [];
    for (const { files, ws } of workspaces) {
      const f = await colonyRun(ws, join(tmp.dir, `home-${files}`), n, concurrency);
      colony.push({ ...f, files });
      console.log(`colony, ${files} files: ${f.wall_ms} ms wall, ${f.cpu_ms ?? '?'} ms CPU, ${f.per_task_ms} ms/task`);
    }
    const bareAfter = await bareSpawns(tmp.dir, n, concurrency);
    const bareWall = (bareBefore.wall_ms + bareAfter.wall_ms) / 2;
    console.log(`bare Node spawns: ${bareBefore.wall_ms} / ${bareAfter.wall_ms} ms wall`);
    const empty = colony.find((c) => c.files === 0) ?? colony[0];
    const biggest = colony[colony.length - 1];
    const ratio = empty ? round(bareWall / empty.wall_ms, 2) : null;
    const growth = empty && biggest ? round(biggest.per_task_ms / empty.per_task_ms, 3) : null;
    // On a shared, overloaded machine wall time mostly measures the neighbours; CPU time is the cost we add.
    const bareCpu = bareBefore.cpu_ms !== null && bareAfter.cpu_ms !== null ? (bareBefore.cpu_ms + bareAfter.cpu_ms) / 2 : null;
    const cpuRatio = empty?.cpu_ms && bareCpu ? round(bareCpu / empty.cpu_ms, 2) : null;
    const cpuGrowth = empty?.cpu_ms && biggest?.cpu_ms ? round(biggest.cpu_ms / empty.cpu_ms, 3) : null;
    // Kernel/FS info: the cost of a walk depends on the page cache and the filesystem.
    const fs = execFileSync('sh', ['-c', `df -T ${tmp.dir} | tail -1 | awk '{print $2}'`], { encoding: 'utf8' }).trim();
    return {
      machine: machine(),
      filesystem: fs,
      tasks: n,
      concurrency,
      bare_spawns: { before: bareBefore, after: bareAfter },
      colony,
      colony_over_bare_rate: ratio,
      per_task_biggest_over_empty: growth,
      cpu: { bare_over_colony: cpuRatio, biggest_over_empty: cpuGrowth },
      pass: {
        'colony ≥ 0.8× bare spawn rate': ratio !== null && ratio >= 0.8,
        'per-task cost with the biggest workspace within 10% of empty': growth !== null && growth <= 1.1,
        'CPU per task with the biggest workspace within 10% of empty': cpuGrowth !== null && cpuGrowth <= 1.1,
      },
    };
  } finally {
    tmp.cleanup();
  }
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (isMain(import.meta.url)) {
  const tasks = arg('tasks');
  const sizes = arg('sizes');
  const r = await runAttemptBench({ tasks: tasks ? Number(tasks) : undefined, sizes: sizes ? sizes.split(',').map(Number) : undefined });
  writeResult('attempt', r);
  console.log(JSON.stringify({ ratio: r['colony_over_bare_rate'], growth: r['per_task_biggest_over_empty'], cpu: r['cpu'], pass: r['pass'] }, null, 2));
}
