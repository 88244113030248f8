/**
 * The simulated world of the router benchmark: tasks of hidden difficulty
 * with generated texts whose features correlate with it (imperfectly), five
 * engine/model options whose success falls with difficulty, and token counts
 * priced with the real config/pricing.json. Everything is drawn from seeded
 * PRNGs, so a run is reproducible and all policies face the same outcomes
 * (common random numbers: attempt k of option o on task t always draws the
 * same number, whichever policy makes it).
 *
 * Outcomes are correlated across models (a Gaussian copula: a task-level
 * factor shared by every model plus each attempt's own noise), and a world may
 * change mid-run (a model upgraded or degraded at a given task index).
 *
 * These are modelling assumptions, not measurements; bench/README.md lists them.
 */
import { priceUsage, type PriceTable } from '../src/core/pricing.js';
import type { TokenUsage } from '../src/core/task.js';
import { mulberry32 } from '../src/core/rng.js';

export { mulberry32 };

export interface SimOption {
  engine: string;
  model: string;
  capability: number; // difficulty at which success drops to half of its ceiling
}

/** Ordered cheapest first. Capabilities: assumptions for agentic coding tasks (an API model writes a diff blind). */
export const OPTIONS: SimOption[] = [
  { engine: 'groq', model: 'llama-3.1-8b-instant', capability: 0.25 },
  { engine: 'groq', model: 'llama-3.3-70b-versatile', capability: 0.42 },
  { engine: 'claude', model: 'haiku', capability: 0.55 },
  { engine: 'claude', model: 'sonnet', capability: 0.78 },
  { engine: 'claude', model: 'opus', capability: 0.9 },
];

export const optionIndex = (engine: string, model: string | null): number => OPTIONS.findIndex((o) => o.engine === engine && o.model === model);

export function successProbability(o: SimOption, difficulty: number): number {
  return 0.97 / (1 + Math.exp((difficulty - o.capability) * 12));
}

/** A world: how strongly outcomes are correlated, how often texts mislead, and a mid-run change of models. */
export interface SimWorld {
  name: string;
  rho: number; // share of an attempt's noise that is the task's own (shared by every model)
  mislead: number; // share of texts written in another tier's style
  change_at: number | null; // task index of the change
  changes: { model: string; capability: number }[]; // capabilities after the change
}

export const WORLDS: SimWorld[] = [
  { name: 'stable', rho: 0.5, mislead: 0.15, change_at: null, changes: [] },
  // A cheap model gets much better and the default fallback model gets worse, halfway through.
  {
    name: 'change',
    rho: 0.6,
    mislead: 0.25,
    change_at: 0.5,
    changes: [
      { model: 'llama-3.3-70b-versatile', capability: 0.72 },
      { model: 'sonnet', capability: 0.6 },
    ],
  },
];

/** Options as they are at task `index` of a run of `n` tasks in `world`. */
export function optionsAt(world: SimWorld, index: number, n: number): SimOption[] {
  if (world.change_at === null || index < world.change_at * n) return OPTIONS;
  return OPTIONS.map((o) => {
    const c = world.changes.find((x) => x.model === o.model);
    return c ? { ...o, capability: c.capability } : o;
  });
}

/** Standard normal CDF (Abramowitz–Stegun 7.1.26, |error| < 1.5e-7). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

const gauss = (a: number, b: number): number => Math.sqrt(-2 * Math.log(1 - a)) * Math.cos(2 * Math.PI * b);

/**
 * The uniform that decides attempt `k` of option `o` on task `t`: correlated
 * across options and attempts through the task's shared factor (ρ), still
 * uniform on its own, so success probabilities keep their meaning.
 */
export function correlatedDraw(seed: number, rho: number, t: number, o: number, k: number): [number, number] {
  const [a, b] = draw(seed, t, -1, -1);
  const [c, jitter] = draw(seed, t, o, k);
  const [d] = draw(seed, t, o, k + 1000);
  const x = Math.sqrt(rho) * gauss(a, b) + Math.sqrt(1 - rho) * gauss(c, d);
  return [normalCdf(x), jitter];
}

export interface SimTask {
  id: number;
  difficulty: number;
  tier: 'easy' | 'medium' | 'hard';
  text: string;
  depth: number;
  budget_usd: number;
}

const pick = <T>(rng: () => number, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)] as T;

const FILES = [
  'src/core/dag.ts',
  'src/runner/pool.ts',
  'src/store/store.ts',
  'src/server/admin.ts',
  'src/cli/index.ts',
  'src/web/app.ts',
  'src/remote/worker.ts',
  'lib/util.py',
  'api/handlers.go',
  'README.md',
];
const MODULES = [
  'the scheduler',
  'the worker pool',
  'the event bus',
  'the lease manager',
  'the audit log',
  'the session store',
  'the remote protocol',
  'the cache layer',
];
const IDENTS = ['tmp', 'pendingTasks', 'retryCount', 'cfg', 'handleEvent', 'parse_config', 'MAX_SIZE'];

const EASY = [
  (r: () => number) => `Fix the typo in ${pick(r, ['README.md', 'docs/usage.md', 'CHANGELOG.md'])}: "recieve" should be "receive".`,
  (r: () => number) => `Rename \`${pick(r, IDENTS)}\` to \`${pick(r, IDENTS)}\` in ${pick(r, FILES)}.`,
  (r: () => number) => `Add a docstring to \`${pick(r, IDENTS)}\` in ${pick(r, FILES)}.`,
  (r: () => number) => `Run prettier on src/${pick(r, ['core', 'cli', 'web'])} and commit the formatting.`,
  (r: () => number) => `Remove unused imports flagged by eslint in ${pick(r, FILES)}.`,
  (r: () => number) => `Bump the version number to 0.${Math.floor(r() * 9)}.0 and update the changelog.`,
  (r: () => number) => `Add ${pick(r, ['.colony', 'dist', 'coverage'])} to .gitignore`,
  (r: () => number) => `Explain what \`${pick(r, IDENTS)}\` does in ${pick(r, FILES)}.`,
];

const MEDIUM = [
  (r: () => number) =>
    `Add a --${pick(r, ['json', 'quiet', 'since', 'limit'])} flag to the \`colony ${pick(r, ['status', 'tasks', 'logs'])}\` command and document it.`,
  (r: () => number) => `Write unit tests for ${pick(r, FILES)} covering the empty input and the error path.`,
  (r: () => number) =>
    `The /api/${pick(r, ['status', 'workers', 'tasks'])} endpoint returns 500 when there are no workers; return an empty list and add a test.`,
  (r: () => number) => `Add pagination to GET /admin/${pick(r, ['audit', 'tasks'])}: accept ?limit and ?cursor, default 100.`,
  (r: () => number) => `Add input validation with zod to the ${pick(r, ['submit-task', 'pairing', 'session'])} route and return 400 with the problems.`,
  (r: () => number) => `Show tokens and cost per worker on the dashboard card and keep the layout on narrow screens.`,
  (r: () => number) => `Create a script scripts/export-${pick(r, ['costs', 'tasks'])}.ts that writes a CSV report from the database.`,
  (r: () => number) => `Handle the case where the config file is missing in ${pick(r, FILES)} and print a helpful error.`,
];

const HARD = [
  (r: () => number) =>
    `Refactor ${pick(r, MODULES)} to fix a race condition where two workers claim the same task; make claimNextReady atomic in ${pick(r, FILES)} and ${pick(r, FILES)}.`,
  (r: () => number) => `Investigate the intermittent deadlock in ${pick(r, MODULES)} under load, find the root cause and fix it.`,
  (r: () => number) => `Migrate ${pick(r, MODULES)} from SQLite to PostgreSQL behind the same interface, keeping backwards compatibility.`,
  (r: () => number) => `There is a memory leak in ${pick(r, MODULES)}: RSS grows ${20 + Math.floor(r() * 80)} MB per hour. Profile it and fix it.`,
  (r: () => number) => `Audit ${pick(r, MODULES)} for security vulnerabilities (CSRF, injection, DNS rebinding) and fix them with attacker-side tests.`,
  (r: () => number) => `Redesign the architecture of ${pick(r, MODULES)} for distributed workers with leases and heartbeats.`,
  (r: () => number) => `Optimize ${pick(r, MODULES)}: throughput collapses above ${pick(r, ['10k', '50k', '100k'])} tasks; make scheduling linear.`,
  (r: () => number) => `Implement signed messages in ${pick(r, MODULES)} with replay protection and a state machine for the protocol.`,
];

const TRACE =
  '\nTypeError: Cannot read properties of undefined\n    at Pool.acquire (src/runner/pool.ts:88:13)\n    at async Runner.dispatch (src/runner/runner.ts:142:5)';
const STEPS = '\n1. reproduce it in a test\n2. fix it\n3. check the other callers\n4. update the docs';

/** Tier shares 40 / 35 / 25 %; `mislead` of the texts (default 15 %) are written in another tier's style. */
export function generateTasks(n: number, seed: number, mislead = 0.15): SimTask[] {
  const rng = mulberry32(seed);
  const tasks: SimTask[] = [];
  for (let id = 0; id < n; id += 1) {
    const u = rng();
    const tier = u < 0.4 ? 'easy' : u < 0.75 ? 'medium' : 'hard';
    const [lo, hi] = tier === 'easy' ? [0, 0.35] : tier === 'medium' ? [0.3, 0.65] : [0.6, 1];
    const difficulty = lo + (hi - lo) * rng();
    const styleTier = rng() < mislead ? pick(rng, ['easy', 'medium', 'hard'] as const) : tier;
    const templates = styleTier === 'easy' ? EASY : styleTier === 'medium' ? MEDIUM : HARD;
    let text = pick(rng, templates)(rng);
    if (difficulty > 0.6 && rng() < 0.35) text += TRACE;
    if (difficulty > 0.45 && rng() < 0.3) text += STEPS;
    const depth = Math.floor(rng() * (1 + 3 * difficulty));
    tasks.push({ id, difficulty, tier, text, depth, budget_usd: 1 });
  }
  return tasks;
}

/**
 * Tokens of one attempt. Claude Code runs are agentic: more turns on harder
 * tasks, ~18k tokens of system prompt and tools written to the cache once and
 * re-read every turn, the context growing each turn. An API call is one prompt
 * (the task, our system prompt, the named files) and one answer.
 */
export function attemptUsage(o: SimOption, t: SimTask, jitter: number): TokenUsage {
  if (o.engine === 'claude') {
    const turns = Math.max(1, Math.round(2 + 8 * t.difficulty + (jitter - 0.5) * 2));
    let cacheRead = 0;
    for (let i = 0; i < turns; i += 1) cacheRead += 18_000 + 2_500 * i;
    return { input: 20 * turns, output: 450 * turns, cache_read: cacheRead, cache_write: 18_000 + 2_500 * turns };
  }
  const files = (t.text.match(/\.(ts|py|go|md)\b/g) ?? []).length;
  return {
    input: Math.ceil(t.text.length / 4) + 400 + 600 * files,
    output: Math.round(600 + 1_400 * t.difficulty * (0.5 + jitter)),
    cache_read: 0,
    cache_write: 0,
  };
}

export function attemptCost(pricing: PriceTable, o: SimOption, t: SimTask, jitter: number): number {
  const usd = priceUsage(pricing, o.model, attemptUsage(o, t, jitter)).usd;
  if (usd === null) throw new Error(`no price for ${o.model}`);
  return usd;
}

export const attemptLatencyMs = (o: SimOption, t: SimTask): number => (o.engine === 'claude' ? 60_000 + 240_000 * t.difficulty : 2_000 + 6_000 * t.difficulty);

/** The shared draw for attempt `k` of option `o` on task `t`: [0] decides success, [1] jitters the token counts. */
export function draw(seed: number, t: number, o: number, k: number): [number, number] {
  const r = mulberry32((seed ^ Math.imul(t + 1, 0x9e3779b1) ^ Math.imul(o + 1, 0x85ebca6b) ^ Math.imul(k + 1, 0xc2b2ae35)) >>> 0);
  r();
  return [r(), r()];
}
