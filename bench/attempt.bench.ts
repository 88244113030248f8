/**
 * What one task attempt costs (issue 24): N trivial `exec` tasks (`true`)
 * through the real `colony run` binary (dist/cli/index.js) at concurrency 8,
 * against bare Node spawns of the same command (`sh -c true`, 8 at a time) in
 * the same run, in an empty workspace and in workspaces of 30,000 and 200,000
 * small files (with a few protected files in them, so the guard has work).
 *
 * With the OS sandbox off (against bare Node spawns of `sh -c true`) and on
 * (against bare `bwrap … sh -c true` with the same mounts and namespaces as
 * colony's sandbox), interleaved, `--reps` times; ratios per repetition,
 * then median and spread, with the load average before and after each.
 *
 * Targets: colony ≥ 0.8× the bare spawn rate (empty workspace); the per-task
 * cost with 200,000 files within 10% of the empty workspace's.
 *
 *   npm run bench -- attempt
 *   npx tsx bench/attempt.bench.ts [--tasks 1000] [--sizes 0,30000,200000] [--reps 3]
 *
 * Wall time and CPU (user+sys of the colony process and its children, from
 * /usr/bin/time) per run; workspaces are built once (not timed) and the
 * colony home is fresh for each run.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildBwrapArgs, LINUX_SYSTEM_PATHS } from '../src/safety/os-sandbox/linux-bwrap.js';
import { probePath } from '../src/safety/os-sandbox/host-paths.js';
import { ownCgroupV2 } from '../src/engines/attempt-cgroup.js';
import { BENCH_DIR, isMain, machine, round, tempDir, writeResult } from './perf-kit.js';

// COLONY_BENCH_CLI: another build's CLI (A/B of two commits in the same run).
const CLI = process.env['COLONY_BENCH_CLI'] ?? join(BENCH_DIR, '..', 'dist', 'cli', 'index.js');

export interface AttemptOptions {
  tasks?: number;
  concurrency?: number;
  sizes?: number[];
  reps?: number;
  /** Also run colony (empty workspace, sandbox off and on) with the spawn helper and with the spawner thread, alternating. */
  ab?: boolean;
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

/**
 * A cgroup (v2) of its own for one timed run, or null: its `cpu.stat` counts every process of the run,
 * also those its command does not wait for (colony's spawn helper and reaper run detached).
 */
function runCgroup(): string | null {
  try {
    const cg = ownCgroupV2();
    if (!cg) return null;
    // A sibling of our own cgroup: a process may not join a cgroup below one whose controllers are delegated.
    const dir = join(cg.mount, dirname(cg.own), `colony-bench-${process.pid}-${++cgroups}`);
    mkdirSync(dir);
    return dir;
  } catch {
    return null;
  }
}
let cgroups = 0;

/** Removes a run's cgroup and what colony made below it (its `colony-attempts`), deepest first. */
function removeCgroupTree(dir: string): void {
  try {
    for (const d of readdirSync(dir, { withFileTypes: true })) if (d.isDirectory()) removeCgroupTree(join(dir, d.name));
    rmdirSync(dir);
  } catch {
    /* something still runs in it: left for the next boot */
  }
}

const populated = (cg: string): boolean => !/\bpopulated 0\b/.test(readFileSync(join(cg, 'cgroup.events'), 'utf8'));

/**
 * Runs a command; returns wall ms (until it exits) and the CPU ms (user+sys) of it and every process it
 * started: from its own cgroup where one can be made (waiting up to 5 s for detached helpers to end),
 * else from /usr/bin/time (its waited-for children only).
 */
function timed(
  cmd: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ wall_ms: number; cpu_ms: number | null; code: number | null; out: string }> {
  const cg = runCgroup();
  const argv = cg ? ['sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', cg, cmd, ...args] : ['/usr/bin/time', '-f', 'CPU %U %S', cmd, ...args];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(argv[0] as string, argv.slice(1), { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', async (code) => {
      const wall = performance.now() - t0;
      let cpu: number | null = null;
      if (cg) {
        for (let i = 0; i < 250 && populated(cg); i++) await new Promise((r) => setTimeout(r, 20));
        const usec = /usage_usec (\d+)/.exec(readFileSync(join(cg, 'cpu.stat'), 'utf8'));
        cpu = usec ? Number(usec[1]) / 1000 : null;
        removeCgroupTree(cg);
      } else {
        const m = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(err);
        cpu = m ? (Number(m[1]) + Number(m[2])) * 1000 : null;
      }
      resolve({ wall_ms: wall, cpu_ms: cpu, code, out: out + err });
    });
  });
}

async function colonyRun(
  ws: string,
  home: string,
  n: number,
  concurrency: number,
  config?: string,
  env: Record<string, string> = {},
): Promise<RunFigures & { files: number }> {
  const graph = graphFile(ws, n);
  const extra = config ? ['--config', config] : [];
  const r = await timed(process.execPath, [CLI, 'run', graph, '--concurrency', String(concurrency), '--home', home, '--json', ...extra], ws, env);
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

/** The same command spawned by Node, `concurrency` at a time, nothing else (run in its own process for its CPU figure); `argv` is the command. */
async function bareSpawns(ws: string, n: number, concurrency: number, argv: string[] = ['sh', '-c', 'true']): Promise<RunFigures> {
  const script = `
    const { spawn } = require('node:child_process');
    const argv = ${JSON.stringify(argv)};
    let started = 0, done = 0;
    const next = () => {
      if (started >= ${n}) return;
      started++;
      spawn(argv[0], argv.slice(1), { stdio: 'ignore' }).on('close', () => { done++; if (done === ${n}) process.exit(0); next(); });
    };
    for (let i = 0; i < ${concurrency}; i++) next();`;
  const r = await timed(process.execPath, ['-e', script], ws);
  if (r.code !== 0) throw new Error(`bare spawns exited ${r.code}: ${r.out.slice(-500)}`);
  return {
    files: 0,
    wall_ms: round(r.wall_ms, 0),
    cpu_ms: r.cpu_ms === null ? null : round(r.cpu_ms, 0),
    per_task_ms: round(r.wall_ms / n, 2),
    tasks_per_s: round((n * 1000) / r.wall_ms, 1),
  };
}

/** `bwrap … sh -c true` with the mounts and namespaces colony's sandbox gives an exec task in `ws` (buildBwrapArgs). */
function bareBwrapArgv(ws: string): string[] {
  const spec = {
    command: '/bin/sh',
    args: ['-c', 'true'],
    cwd: ws,
    env: {},
    workspace: ws,
    home: '/root',
    system: [...LINUX_SYSTEM_PATHS],
    ro: [{ src: dirname(dirname(process.execPath)) }],
    rw: [],
    hide: [],
    network: { proxySocket: null, forwardPorts: [], bridgeScript: null, nodeBin: process.execPath },
  };
  return ['bwrap', ...buildBwrapArgs(spec, probePath)];
}

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const spread = (v: number[]): { median: number; min: number; max: number; values: number[] } => ({
  median: round(median(v), 3),
  min: round(Math.min(...v), 3),
  max: round(Math.max(...v), 3),
  values: v.map((x) => round(x, 3)),
});
const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

interface Rep {
  load_before: string;
  load_after: string;
  bare_node: RunFigures;
  bare_bwrap: RunFigures;
  colony_unsandboxed: RunFigures;
  colony_sandboxed: RunFigures[]; // one per workspace size
  /** --ab: the same empty-workspace runs with COLONY_SPAWN_HELPER=1 and =0. */
  spawner_ab?: { helper: { off: RunFigures; on: RunFigures }; thread: { off: RunFigures; on: RunFigures } };
}

export async function runAttemptBench(o: AttemptOptions = {}): Promise<Record<string, unknown>> {
  const n = o.tasks ?? 1000;
  const concurrency = o.concurrency ?? 8;
  const sizes = o.sizes ?? [0, 30_000, 200_000];
  const reps = o.reps ?? 3;
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
    const empty = workspaces[0] as { files: number; ws: string };
    const offConfig = join(tmp.dir, 'unsandboxed.json');
    writeFileSync(offConfig, JSON.stringify({ safety: { sandbox: false } }));
    const runs: Rep[] = [];
    let k = 0;
    for (let rep = 0; rep < reps; rep++) {
      const load_before = loadavg();
      const bare_node = await bareSpawns(empty.ws, n, concurrency);
      const bare_bwrap = await bareSpawns(empty.ws, n, concurrency, bareBwrapArgv(empty.ws));
      const colony_unsandboxed = { ...(await colonyRun(empty.ws, join(tmp.dir, `home-${k++}`), n, concurrency, offConfig)), files: empty.files };
      const colony_sandboxed: RunFigures[] = [];
      for (const { files, ws } of workspaces) colony_sandboxed.push({ ...(await colonyRun(ws, join(tmp.dir, `home-${k++}`), n, concurrency)), files });
      const r: Rep = { load_before, load_after: '', bare_node, bare_bwrap, colony_unsandboxed, colony_sandboxed };
      if (o.ab) {
        const ab = async (helper: boolean): Promise<{ off: RunFigures; on: RunFigures }> => {
          const env = { COLONY_SPAWN_HELPER: helper ? '1' : '0' };
          const off = await colonyRun(empty.ws, join(tmp.dir, `home-${k++}`), n, concurrency, offConfig, env);
          return { off, on: await colonyRun(empty.ws, join(tmp.dir, `home-${k++}`), n, concurrency, undefined, env) };
        };
        // Alternating order per repetition, so a drifting load hits both alike.
        const first = await ab(rep % 2 === 0);
        const second = await ab(rep % 2 !== 0);
        r.spawner_ab = rep % 2 === 0 ? { helper: first, thread: second } : { helper: second, thread: first };
        console.log(
          `  helper off/on ${r.spawner_ab.helper.off.cpu_ms}/${r.spawner_ab.helper.on.cpu_ms} ms CPU, thread ${r.spawner_ab.thread.off.cpu_ms}/${r.spawner_ab.thread.on.cpu_ms}`,
        );
      }
      r.load_after = loadavg();
      runs.push(r);
      console.log(
        `rep ${rep + 1}: load ${r.load_before} → ${r.load_after}; bare node ${bare_node.wall_ms} ms, bare bwrap ${bare_bwrap.wall_ms} ms, ` +
          `colony off ${colony_unsandboxed.wall_ms} ms, colony on ${colony_sandboxed.map((c) => `${c.files}: ${c.wall_ms} ms`).join(', ')}`,
      );
    }
    const last = sizes.length - 1;
    const ratios = {
      unsandboxed_over_bare_node_rate: spread(runs.map((r) => r.bare_node.wall_ms / r.colony_unsandboxed.wall_ms)),
      sandboxed_over_bare_bwrap_rate: spread(runs.map((r) => r.bare_bwrap.wall_ms / (r.colony_sandboxed[0] as RunFigures).wall_ms)),
      sandboxed_over_bare_node_rate: spread(runs.map((r) => r.bare_node.wall_ms / (r.colony_sandboxed[0] as RunFigures).wall_ms)),
      biggest_over_empty_wall: spread(runs.map((r) => (r.colony_sandboxed[last] as RunFigures).wall_ms / (r.colony_sandboxed[0] as RunFigures).wall_ms)),
      biggest_over_empty_cpu: spread(
        runs.map((r) => ((r.colony_sandboxed[last] as RunFigures).cpu_ms ?? NaN) / ((r.colony_sandboxed[0] as RunFigures).cpu_ms ?? NaN)),
      ),
      cpu_bare_node_over_unsandboxed: spread(runs.map((r) => (r.bare_node.cpu_ms ?? NaN) / (r.colony_unsandboxed.cpu_ms ?? NaN))),
      ...(o.ab ? abRatios(runs) : {}),
      cpu_bare_bwrap_over_sandboxed: spread(runs.map((r) => (r.bare_bwrap.cpu_ms ?? NaN) / ((r.colony_sandboxed[0] as RunFigures).cpu_ms ?? NaN))),
    };
    const fs = execFileSync('sh', ['-c', `df -T ${tmp.dir} | tail -1 | awk '{print $2}'`], { encoding: 'utf8' }).trim();
    return {
      machine: machine(),
      filesystem: fs,
      tasks: n,
      concurrency,
      sizes,
      reps: runs,
      ratios,
      pass: {
        'colony ≥ 0.8× the bare spawn rate (unsandboxed vs bare node, median)': ratios.unsandboxed_over_bare_node_rate.median >= 0.8,
        'colony ≥ 0.8× the bare spawn rate (sandboxed vs bare bwrap, median)': ratios.sandboxed_over_bare_bwrap_rate.median >= 0.8,
        'biggest workspace within 10% of empty (wall, median)': ratios.biggest_over_empty_wall.median <= 1.1,
        'biggest workspace within 10% of empty (CPU, median)': ratios.biggest_over_empty_cpu.median <= 1.1,
      },
    };
  } finally {
    tmp.cleanup();
  }
}

/** Spawn helper ÷ spawner thread, per repetition (--ab). */
function abRatios(runs: Rep[]): Record<string, ReturnType<typeof spread>> {
  const ab = runs.flatMap((r) => (r.spawner_ab ? [r.spawner_ab] : []));
  const cpu = (f: RunFigures): number => f.cpu_ms ?? NaN;
  return {
    helper_over_thread_cpu_unsandboxed: spread(ab.map((x) => cpu(x.helper.off) / cpu(x.thread.off))),
    helper_over_thread_cpu_sandboxed: spread(ab.map((x) => cpu(x.helper.on) / cpu(x.thread.on))),
    helper_over_thread_wall_unsandboxed: spread(ab.map((x) => x.helper.off.wall_ms / x.thread.off.wall_ms)),
    helper_over_thread_wall_sandboxed: spread(ab.map((x) => x.helper.on.wall_ms / x.thread.on.wall_ms)),
  };
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (isMain(import.meta.url)) {
  const tasks = arg('tasks');
  const sizes = arg('sizes');
  const reps = arg('reps');
  const r = await runAttemptBench({
    tasks: tasks ? Number(tasks) : undefined,
    sizes: sizes ? sizes.split(',').map(Number) : undefined,
    reps: reps ? Number(reps) : undefined,
    ab: process.argv.includes('--ab'),
  });
  writeResult('attempt', r);
  console.log(JSON.stringify({ ratios: r['ratios'], pass: r['pass'] }, null, 2));
}
