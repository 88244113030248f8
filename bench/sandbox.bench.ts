/**
 * What the OS sandbox costs (issue 20, "Measure"):
 *
 * 1. Start latency an attempt pays: the exec engine runs `true` N times with
 *    and without the sandbox plan (interleaved, so load drifts hit both), from
 *    the engine's start to its `done`. The sandbox's cost is the difference of
 *    the percentiles. Targets: added p50 < 15 ms, added p99 < 40 ms.
 *    Default config: no network allow-list, so no proxy and no bridge.
 * 2. 1,000 `true` exec tasks through a real host (store, gate, router, pool
 *    of 4 slots, default config) with `safety.sandbox` on and off.
 *
 *   npx tsx bench/sandbox.bench.ts [--samples 300] [--tasks 1000]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig, type ColonyConfig } from '../src/core/config.js';
import type { EngineRequest } from '../src/core/engine.js';
import { parseGraph } from '../src/core/graph-schema.js';
import { createExecEngine } from '../src/engines/exec.js';
import { openHost } from '../src/runner/host.js';
import { resolveHome } from '../src/runner/home.js';
import { createSandboxPlanner } from '../src/safety/os-sandbox/index.js';
import { isMain, machine, percentile, round, tempDir, writeResult } from './perf-kit.js';

const TARGET_P50_MS = 15;
const TARGET_P99_MS = 40;

function config(sandbox: boolean, roots: string[]): ColonyConfig {
  const r = parseConfig({ safety: { sandbox, allowed_roots: roots } });
  if (!r.ok) throw new Error(r.problems.join('; '));
  return r.config;
}

async function runOnce(req: EngineRequest): Promise<number> {
  const t0 = performance.now();
  let ok = false;
  for await (const ev of createExecEngine().run(req)) if (ev.type === 'done') ok = ev.ok;
  if (!ok) throw new Error('`true` failed');
  return performance.now() - t0;
}

function stats(xs: number[]): { p50: number; p99: number; mean: number } {
  return { p50: round(percentile(xs, 50), 2), p99: round(percentile(xs, 99), 2), mean: round(xs.reduce((a, b) => a + b, 0) / xs.length, 2) };
}

export async function startLatency(
  samples: number,
): Promise<{ plain_ms: ReturnType<typeof stats>; sandboxed_ms: ReturnType<typeof stats>; added_p50_ms: number; added_p99_ms: number }> {
  const tmp = tempDir('colony-bench-sbx-');
  try {
    const ws = realpathSync(tmp.dir);
    const planner = createSandboxPlanner({ safety: config(true, [ws]).safety, colonyHome: join(ws, '.colony'), configFile: null });
    const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/root' };
    const req = (sandbox: boolean): EngineRequest => ({
      task_id: 'b',
      attempt: 1,
      prompt: 'true',
      model: null,
      workspace: ws,
      budget_usd: 0,
      env,
      run_timeout_ms: null,
      silence_timeout_ms: null,
      signal: new AbortController().signal,
      sandbox: sandbox ? planner.planFor({ taskId: 'b', engine: 'exec', workspace: ws, env }) : null,
    });
    for (let i = 0; i < 20; i++) await runOnce(req(i % 2 === 0)); // warm-up
    const plain: number[] = [];
    const boxed: number[] = [];
    for (let i = 0; i < samples; i++) {
      plain.push(await runOnce(req(false)));
      boxed.push(await runOnce(req(true)));
    }
    const p = stats(plain);
    const s = stats(boxed);
    return { plain_ms: p, sandboxed_ms: s, added_p50_ms: round(s.p50 - p.p50, 2), added_p99_ms: round(s.p99 - p.p99, 2) };
  } finally {
    tmp.cleanup();
  }
}

/** The floor: bare `bwrap --unshare-all … true` against bare `true`, spawned the same way (what bubblewrap itself costs here). */
export async function bwrapFloor(
  samples: number,
): Promise<{ true_ms: ReturnType<typeof stats>; bwrap_ms: ReturnType<typeof stats>; added_p50_ms: number; added_p99_ms: number }> {
  const base = [
    '--unshare-all',
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--ro-bind',
    '/usr',
    '/usr',
    '--symlink',
    'usr/bin',
    '/bin',
    '--symlink',
    'usr/lib',
    '/lib',
    '--symlink',
    'usr/lib64',
    '/lib64',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--tmpfs',
    '/tmp',
  ];
  const time = (cmd: string, args: string[]): Promise<number> =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      const c = spawn(cmd, args, { stdio: 'ignore', detached: true });
      c.on('error', reject);
      c.on('close', () => resolve(performance.now() - t0));
    });
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < samples; i++) {
    a.push(await time('/bin/true', []));
    b.push(await time('bwrap', [...base, 'true']));
  }
  const sa = stats(a);
  const sb = stats(b);
  return { true_ms: sa, bwrap_ms: sb, added_p50_ms: round(sb.p50 - sa.p50, 2), added_p99_ms: round(sb.p99 - sa.p99, 2) };
}

export async function manyTasks(n: number, sandbox: boolean): Promise<{ tasks: number; sandbox: boolean; wall_ms: number; tasks_per_s: number }> {
  const tmp = tempDir('colony-bench-sbx-host-');
  const ws = join(realpathSync(tmp.dir), 'ws');
  mkdirSync(ws);
  const host = openHost({ paths: resolveHome(join(tmp.dir, 'home')), config: config(sandbox, [realpathSync(tmp.dir)]), concurrency: 4 });
  try {
    const graph = parseGraph({ name: 'sandbox-bench', tasks: Array.from({ length: n }, (_, i) => ({ id: `t${i}`, engine: 'exec', prompt: 'true' })) });
    let ended = 0;
    let bad = 0;
    let resolveAll!: () => void;
    const all = new Promise<void>((r) => (resolveAll = r));
    host.store.subscribe((events) => {
      for (const e of events) {
        if (e.kind !== 'task.state') continue;
        const to = e.data['to'];
        if (to === 'succeeded') ended++;
        else if (to === 'failed' || to === 'cancelled' || to === 'timed_out') (ended++, bad++);
      }
      if (ended >= n) resolveAll();
    });
    const t0 = performance.now();
    host.service.submitGraph(graph, {
      submittedBy: 'admin',
      who: { actor: 'admin', origin: 'local' },
      workspace: ws,
      defaultTarget: 'host',
      holdHostTasks: false,
    });
    host.pool.start();
    await all;
    const wall = performance.now() - t0;
    if (bad > 0) throw new Error(`${bad} of ${n} tasks did not succeed (sandbox ${sandbox})`);
    return { tasks: n, sandbox, wall_ms: Math.round(wall), tasks_per_s: round(n / (wall / 1000), 1) };
  } finally {
    await host.close();
    tmp.cleanup();
  }
}

export async function runSandboxBench(o: { samples?: number; tasks?: number } = {}): Promise<unknown> {
  const samples = o.samples ?? 300;
  const n = o.tasks ?? 1000;
  const load0 = (await import('node:os')).loadavg()[0] ?? 0;
  const floor = await bwrapFloor(samples);
  console.log(
    `bubblewrap itself: \`true\` p50 ${floor.true_ms.p50} ms; \`bwrap --unshare-all … true\` p50 ${floor.bwrap_ms.p50} ms p99 ${floor.bwrap_ms.p99} ms (adds p50 ${floor.added_p50_ms}, p99 ${floor.added_p99_ms})`,
  );
  const latency = await startLatency(samples);
  console.log(
    `start latency (exec \`true\`, ${samples} each): plain p50 ${latency.plain_ms.p50} ms p99 ${latency.plain_ms.p99} ms; sandboxed p50 ${latency.sandboxed_ms.p50} ms p99 ${latency.sandboxed_ms.p99} ms; added p50 ${latency.added_p50_ms} ms (target < ${TARGET_P50_MS}), p99 ${latency.added_p99_ms} ms (target < ${TARGET_P99_MS})`,
  );
  const off = await manyTasks(n, false);
  const on = await manyTasks(n, true);
  console.log(`${n} \`true\` exec tasks, pool of 4: sandbox off ${off.wall_ms} ms (${off.tasks_per_s}/s); sandbox on ${on.wall_ms} ms (${on.tasks_per_s}/s)`);
  return {
    machine: machine(),
    date: new Date().toISOString(),
    load_1m: { start: round(load0, 1), end: round((await import('node:os')).loadavg()[0] ?? 0, 1) },
    bwrap_floor: floor,
    start_latency: latency,
    tasks: { off, on, slowdown: round(on.wall_ms / off.wall_ms, 2) },
    pass: { added_p50_under_15ms: latency.added_p50_ms < TARGET_P50_MS, added_p99_under_40ms: latency.added_p99_ms < TARGET_P99_MS },
  };
}

if (isMain(import.meta.url)) {
  const arg = (k: string): number | undefined => {
    const i = process.argv.indexOf(k);
    return i >= 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const r = await runSandboxBench({ samples: arg('--samples'), tasks: arg('--tasks') });
  console.log(`wrote ${writeResult('sandbox', r)}`);
}
