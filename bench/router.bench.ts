/**
 * Router benchmark: 5,000 simulated tasks (bench/router-sim.ts) routed by
 * fixed policies, the rule-only router, the adaptive router learning online
 * from its own outcomes, and an oracle. Fallback retries (core/adaptive.ts
 * fallbackFor, up to 3 attempts within the task budget) are counted in cost.
 * Also measures the cost of one routing decision.
 *
 *   npx tsx bench/router.bench.ts [--tasks 5000] [--seed 42]
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { addRecord, emptyStats, fallbackFor, meanCost, type AdaptiveStats } from '../src/core/adaptive.js';
import { defaultConfig } from '../src/core/config.js';
import { loadPriceTable, type PriceTable } from '../src/core/pricing.js';
import { routeTask, type RouteContext } from '../src/core/router.js';
import { isMain, machine, round, writeResult } from './perf-kit.js';
import {
  attemptCost,
  attemptLatencyMs,
  draw,
  generateTasks,
  mulberry32,
  OPTIONS,
  optionIndex,
  successProbability,
  type SimTask,
} from './router-sim.js';

export interface PolicyFigures {
  policy: string;
  success_rate: number;
  successes: number;
  total_cost_usd: number;
  cost_per_success_usd: number;
  attempts_per_task: number;
  first_1000_success: number;
  last_1000_success: number;
}

const MAX_ATTEMPTS = 3;

interface Outcome {
  ok: boolean;
  cost: number;
  attempts: number;
}

type FirstChoice = (t: SimTask) => { engine: string; model: string | null; bucket: string };

function loadPricing(): PriceTable {
  return loadPriceTable(JSON.parse(readFileSync(new URL('../config/pricing.json', import.meta.url), 'utf8')));
}

/** Runs one policy over all tasks; with `fallback`, failed attempts climb the fallback ladder within the budget. */
function simulate(
  name: string,
  tasks: readonly SimTask[],
  seed: number,
  pricing: PriceTable,
  first: FirstChoice,
  opts: { fallback: boolean; learn?: AdaptiveStats },
): PolicyFigures {
  const outcomes: Outcome[] = [];
  const learned = opts.learn ?? emptyStats();
  for (const t of tasks) {
    const start = first(t);
    const bucket = start.bucket;
    let choice: { engine: string; model: string | null } = { engine: start.engine, model: start.model };
    let remaining = t.budget_usd;
    let cost = 0;
    let ok = false;
    let attempts = 0;
    for (let k = 0; k < MAX_ATTEMPTS; k += 1) {
      const oi = optionIndex(choice.engine, choice.model);
      const o = OPTIONS[oi];
      if (!o) throw new Error(`unknown option ${choice.engine}/${choice.model}`);
      const [u, jitter] = draw(seed, t.id, oi, k);
      const full = attemptCost(pricing, o, t, jitter);
      const overBudget = full > remaining; // the engine stops at the budget: the attempt fails
      const spent = Math.min(full, remaining);
      attempts += 1;
      cost += spent;
      remaining -= spent;
      ok = !overBudget && u < successProbability(o, t.difficulty);
      opts.learn && addRecord(opts.learn, { bucket, engine: o.engine, model: o.model, ok, cost_usd: spent, latency_ms: attemptLatencyMs(o, t) });
      if (ok || !opts.fallback) break;
      const fb = fallbackFor(choice, { error_code: overBudget ? 'E_BUDGET' : 'E_ENGINE' }, remaining, {
        claude_default_model: 'sonnet',
        pricing,
        prompt_chars: t.text.length,
        ...(opts.learn ? { observed_cost: (e: string, m: string) => meanCost(learned, bucket, e, m) } : {}),
      });
      if (!fb.next) break;
      choice = fb.next;
    }
    outcomes.push({ ok, cost, attempts });
  }
  return figures(name, outcomes);
}

function figures(policy: string, outcomes: readonly Outcome[]): PolicyFigures {
  const successes = outcomes.filter((o) => o.ok).length;
  const total = outcomes.reduce((s, o) => s + o.cost, 0);
  const rate = (xs: readonly Outcome[]): number => round(xs.filter((o) => o.ok).length / Math.max(1, xs.length), 4);
  return {
    policy,
    success_rate: rate(outcomes),
    successes,
    total_cost_usd: round(total, 2),
    cost_per_success_usd: round(total / Math.max(1, successes), 4),
    attempts_per_task: round(outcomes.reduce((s, o) => s + o.attempts, 0) / outcomes.length, 3),
    first_1000_success: rate(outcomes.slice(0, 1000)),
    last_1000_success: rate(outcomes.slice(-1000)),
  };
}

/** Knows every draw: pays only for the cheapest option that succeeds (on its first, else second, else third attempt). */
function oracle(tasks: readonly SimTask[], seed: number, pricing: PriceTable): PolicyFigures {
  const outcomes: Outcome[] = tasks.map((t) => {
    for (let k = 0; k < MAX_ATTEMPTS; k += 1) {
      for (const [oi, o] of OPTIONS.entries()) {
        const [u, jitter] = draw(seed, t.id, oi, k);
        if (u < successProbability(o, t.difficulty)) return { ok: true, cost: attemptCost(pricing, o, t, jitter), attempts: 1 };
      }
    }
    return { ok: false, cost: 0, attempts: 0 };
  });
  return figures('oracle (knows outcomes)', outcomes);
}

export async function runRouterBench(o: { tasks?: number; seed?: number } = {}): Promise<Record<string, unknown>> {
  const n = o.tasks ?? 5000;
  const seed = o.seed ?? 42;
  const pricing = loadPricing();
  const tasks = generateTasks(n, seed);
  const config = defaultConfig();
  const base: Omit<RouteContext, 'rng' | 'stats'> = { router: config.router, providers: config.engines.providers, claude_default_model: 'sonnet', pricing };
  const fixed = (engine: string, model: string): FirstChoice => () => ({ engine, model, bucket: '' });
  const route = (ctx: RouteContext, timings?: number[]): FirstChoice => (t) => {
    const start = process.hrtime.bigint();
    const d = routeTask({ prompt: t.text, engine: 'auto', model: null, budget_usd: t.budget_usd, depends_on_depth: t.depth, env_engine: null, attempts_left: MAX_ATTEMPTS }, ctx);
    timings?.push(Number(process.hrtime.bigint() - start) / 1000);
    return { engine: d.engine, model: d.model, bucket: d.complexity.bucket };
  };

  const stats = emptyStats();
  const decisionUs: number[] = [];
  const rows: PolicyFigures[] = [
    simulate('always-cheap (groq llama-3.1-8b)', tasks, seed, pricing, fixed('groq', 'llama-3.1-8b-instant'), { fallback: false }),
    simulate('always-default (claude sonnet)', tasks, seed, pricing, fixed('claude', 'sonnet'), { fallback: false }),
    simulate('always-strong (claude opus)', tasks, seed, pricing, fixed('claude', 'opus'), { fallback: false }),
    simulate('rule-only router + fallback', tasks, seed, pricing, route({ ...base, rng: mulberry32(seed + 1) }), { fallback: true }),
    simulate('adaptive router + fallback', tasks, seed, pricing, route({ ...base, rng: mulberry32(seed + 2), stats }, decisionUs), { fallback: true, learn: stats }),
    oracle(tasks, seed, pricing),
  ];

  // Decision overhead on a warm, fully trained router: routeTask alone, many times.
  const overheadCtx: RouteContext = { ...base, rng: mulberry32(seed + 3), stats };
  const sample = tasks.slice(0, 2000);
  for (const t of sample) routeTask({ prompt: t.text, engine: 'auto', model: null, budget_usd: 1, depends_on_depth: t.depth, env_engine: null, attempts_left: MAX_ATTEMPTS }, overheadCtx);
  // CPU time is what a decision costs; wall time also counts whatever else the machine is running.
  const loops = 10;
  const wall0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < loops; i += 1) {
    for (const t of sample) routeTask({ prompt: t.text, engine: 'auto', model: null, budget_usd: 1, depends_on_depth: t.depth, env_engine: null, attempts_left: MAX_ATTEMPTS }, overheadCtx);
  }
  const cpu = process.cpuUsage(cpu0);
  const decisions = loops * sample.length;
  const cpuUs = (cpu.user + cpu.system) / decisions;
  const wallUs = Number(process.hrtime.bigint() - wall0) / 1000 / decisions;
  const sorted = [...decisionUs].sort((a, b) => a - b);

  const strong = rows[2] as PolicyFigures;
  const sonnet = rows[1] as PolicyFigures;
  const adaptive = rows[4] as PolicyFigures;
  const vs = (p: PolicyFigures, ref: PolicyFigures) => ({
    success_ratio: round(p.success_rate / ref.success_rate, 3),
    cost_ratio: round(p.total_cost_usd / ref.total_cost_usd, 3),
  });
  return {
    bench: 'router',
    machine: machine(),
    tasks: n,
    seed,
    max_attempts: MAX_ATTEMPTS,
    policies: rows,
    adaptive_vs_strong: vs(adaptive, strong),
    adaptive_vs_default: vs(adaptive, sonnet),
    targets: {
      success_at_least_95pct_of_strong: adaptive.success_rate >= 0.95 * strong.success_rate,
      cost_at_most_50pct_of_strong: adaptive.total_cost_usd <= 0.5 * strong.total_cost_usd,
      decision_under_50_us: cpuUs < 50,
    },
    decision_us: {
      cpu_mean: round(cpuUs, 2),
      wall_mean: round(wallUs, 2),
      load_average_1m: round(loadavg()[0] ?? NaN, 2),
      p50_in_run: round(sorted[Math.floor(sorted.length * 0.5)] ?? NaN, 2),
      p99_in_run: round(sorted[Math.floor(sorted.length * 0.99)] ?? NaN, 2),
    },
    adaptive_routing_by_bucket: shares(stats),
  };
}

/** Attempts per bucket and option, as the adaptive router made them (first tries and fallbacks). */
function shares(stats: AdaptiveStats): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [bucket, m] of stats.buckets) {
    out[bucket] = {};
    for (const [key, s] of m) (out[bucket] as Record<string, string>)[key] = `${s.ok}/${s.n} ok, mean $${(s.cost_sum / Math.max(1, s.cost_n)).toFixed(4)}`;
  }
  return out;
}

export function markdownTable(r: Record<string, unknown>): string {
  const rows = r.policies as PolicyFigures[];
  const lines = [
    '| policy | success | total cost | cost / success | attempts / task | success first 1k → last 1k |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map(
      (p) =>
        `| ${p.policy} | ${(p.success_rate * 100).toFixed(1)}% | $${p.total_cost_usd.toFixed(2)} | $${p.cost_per_success_usd.toFixed(4)} | ${p.attempts_per_task.toFixed(2)} | ${(p.first_1000_success * 100).toFixed(1)}% → ${(p.last_1000_success * 100).toFixed(1)}% |`,
    ),
  ];
  return lines.join('\n');
}

function arg(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(v) ? v : undefined;
}

if (isMain(import.meta.url)) {
  const r = await runRouterBench({ tasks: arg('tasks'), seed: arg('seed') });
  console.log(markdownTable(r));
  console.log();
  console.log('adaptive vs always-strong (opus):', JSON.stringify(r.adaptive_vs_strong));
  console.log('adaptive vs always-default (sonnet):', JSON.stringify(r.adaptive_vs_default));
  console.log('decision µs:', JSON.stringify(r.decision_us));
  console.log('targets:', JSON.stringify(r.targets));
  console.log('result file:', writeResult('router', r));
}
