import { readFileSync } from 'node:fs';
import { defaultConfig } from '../../src/core/config.js';
import { loadPriceTable } from '../../src/core/pricing.js';
import type { RouteContext, RouteInput } from '../../src/core/router.js';

export const PRICING = loadPriceTable(JSON.parse(readFileSync(new URL('../../config/pricing.json', import.meta.url), 'utf8')));
const CONFIG = defaultConfig();

export const HARD =
  'Refactor the scheduler to fix a race condition where two workers claim the same task; make claimNextReady atomic in src/store/store.ts and src/runner/pool.ts.';
export const EASY = 'Fix the typo in README.md';
export const MEDIUM = 'Add a --json flag to the `colony status` command that prints the task list as JSON instead of a table.';

export function ctx(over: Partial<RouteContext> = {}): RouteContext {
  return {
    router: CONFIG.router,
    providers: CONFIG.engines.providers,
    claude_default_model: 'sonnet',
    pricing: PRICING,
    rng: () => 0.99,
    ...over,
  };
}

export function input(over: Partial<RouteInput> = {}): RouteInput {
  return { prompt: MEDIUM, engine: 'auto', model: null, budget_usd: 1, depends_on_depth: 0, env_engine: null, ...over };
}
