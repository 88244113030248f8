/**
 * Token prices and cost maths. Pure: the price file is read by the engines
 * layer (src/engines/pricing-file.ts) and handed in as parsed JSON.
 *
 * DESIGN §11: the old system estimated cost as characters ÷ 4 and counted an
 * unknown model as $0. Here a reported cost always wins over a priced one, a
 * model without a price gives `null` (never a silent 0), and estimates made
 * before a call are deliberately pessimistic.
 */
import { z } from 'zod';
import { ColonyError } from './errors.js';
import type { TokenUsage } from './task.js';

/** USD per million tokens. Missing cache rates fall back to the input rate (see priceUsage). */
export interface ModelPrice {
  input: number;
  output: number;
  cache_read?: number;
  cache_write?: number;
}

export interface PricedModel extends ModelPrice {
  provider: string; // section of pricing.json, or 'override' for colony.config.json
}

export interface PriceTable {
  models: Readonly<Record<string, PricedModel>>;
  aliases: Readonly<Record<string, string>>; // 'sonnet' -> 'claude-sonnet-5-5'
  providers: Readonly<Record<string, { as_of: string; source: string }>>;
}

const priceSchema = z.strictObject({
  input: z.number().nonnegative(),
  output: z.number().nonnegative(),
  cache_read: z.number().nonnegative().optional(),
  cache_write: z.number().nonnegative().optional(),
});

const pricingFileSchema = z.object({
  unit: z.literal('USD per million tokens'),
  providers: z.record(
    z.string().min(1),
    z.object({
      as_of: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'as_of must be a YYYY-MM-DD date'),
      source: z.string().min(1),
      aliases: z.record(z.string().min(1), z.string().min(1)).default({}),
      models: z.record(z.string().min(1), priceSchema),
    }),
  ),
});

export type PriceOverrides = Readonly<Record<string, ModelPrice>>;

/**
 * Builds the table from the parsed pricing.json and the `pricing` section of
 * colony.config.json. Overrides replace a model's whole entry (or add a new
 * model); an override keyed by an alias ('sonnet') wins over the alias.
 */
export function loadPriceTable(json: unknown, overrides: PriceOverrides = {}): PriceTable {
  const parsed = pricingFileSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ColonyError('E_CONFIG', `pricing file is invalid: ${problems.join('; ')}`, { problems });
  }
  const models: Record<string, PricedModel> = {};
  const aliases: Record<string, string> = {};
  const providers: Record<string, { as_of: string; source: string }> = {};
  for (const [provider, section] of Object.entries(parsed.data.providers)) {
    providers[provider] = { as_of: section.as_of, source: section.source };
    for (const [id, price] of Object.entries(section.models)) models[id] = { ...price, provider };
    for (const [alias, target] of Object.entries(section.aliases)) {
      if (!section.models[target]) {
        throw new ColonyError('E_CONFIG', `pricing file: alias '${alias}' points at unknown model '${target}'`);
      }
      aliases[alias] = target;
    }
  }
  for (const [id, price] of Object.entries(overrides)) {
    const checked = priceSchema.safeParse(price);
    if (!checked.success) throw new ColonyError('E_CONFIG', `pricing override for '${id}' is invalid`);
    models[id] = { ...checked.data, provider: 'override' };
  }
  return { models, aliases, providers };
}

/**
 * Finds the price of a model as engines report it: exact id, then alias, then
 * the id without a date suffix ('claude-sonnet-4-5-20250929') or a context
 * suffix ('claude-sonnet-4-5[1m]'). Returns null when nothing matches.
 */
export function resolvePrice(table: PriceTable, model: string | null): { id: string; price: PricedModel } | null {
  if (!model) return null;
  // Memoised per table (tables are immutable once built): the router prices every candidate on every decision.
  let memo = resolved.get(table);
  if (!memo) resolved.set(table, (memo = new Map()));
  const hit = memo.get(model);
  if (hit !== undefined) return hit;
  const found = resolveUncached(table, model);
  if (memo.size < 10_000) memo.set(model, found);
  return found;
}

const resolved = new WeakMap<PriceTable, Map<string, { id: string; price: PricedModel } | null>>();

function resolveUncached(table: PriceTable, model: string): { id: string; price: PricedModel } | null {
  const tries = [model, model.toLowerCase()];
  const base = model.toLowerCase().replace(/\[[^\]]*\]$/, '');
  tries.push(base, base.replace(/-\d{8}$/, ''), base.replace(/-latest$/, ''));
  for (const id of tries) {
    const direct = table.models[id];
    if (direct) return { id, price: direct };
    const target = table.aliases[id];
    const viaAlias = target === undefined ? undefined : table.models[target];
    if (target !== undefined && viaAlias) return { id: target, price: viaAlias };
  }
  return null;
}

export interface PricedCost {
  usd: number | null; // null = no price known for this model
  known: boolean;
}

/**
 * Prices token usage. `usage.input` is the non-cached input (Anthropic's
 * convention; the OpenAI engine subtracts cached tokens before calling this),
 * so the four counts never overlap.
 */
export function priceUsage(table: PriceTable, model: string | null, usage: TokenUsage): PricedCost {
  const found = resolvePrice(table, model);
  if (!found) return { usd: null, known: false };
  const p = found.price;
  const perToken =
    usage.input * p.input + usage.output * p.output + usage.cache_read * (p.cache_read ?? p.input) + usage.cache_write * (p.cache_write ?? p.input);
  return { usd: roundUsd(perToken / 1_000_000), known: true };
}

export interface CostEstimate extends PricedCost {
  input_tokens: number;
  output_tokens: number;
}

/** Characters per token used for estimates. Real text averages ~4; 3 errs on the expensive side. */
export const PESSIMISTIC_CHARS_PER_TOKEN = 3;

/**
 * Worst-case cost of one call, used to reserve budget before it starts:
 * tokens are over-counted (chars ÷ 3), and every input token is charged at the
 * dearest input rate (a cache write costs more than plain input).
 * `overheadInputTokens` covers what the engine adds (Claude Code's system
 * prompt and tool definitions are tens of thousands of tokens).
 */
export function estimateCost(
  table: PriceTable,
  model: string | null,
  promptChars: number,
  expectedOutputTokens: number,
  overheadInputTokens = 0,
): CostEstimate {
  const input_tokens = Math.ceil(Math.max(0, promptChars) / PESSIMISTIC_CHARS_PER_TOKEN) + Math.max(0, overheadInputTokens);
  const output_tokens = Math.max(0, Math.ceil(expectedOutputTokens));
  const found = resolvePrice(table, model);
  if (!found) return { usd: null, known: false, input_tokens, output_tokens };
  const p = found.price;
  const inputRate = Math.max(p.input, p.cache_write ?? p.input);
  const usd = roundUsd((input_tokens * inputRate + output_tokens * p.output) / 1_000_000);
  return { usd, known: true, input_tokens, output_tokens };
}

/** Rounds to a millionth of a dollar so sums of many small costs stay stable. */
export function roundUsd(usd: number): number {
  return Math.round(usd * 1_000_000) / 1_000_000;
}

/** "$0.12", "$0.0501", "$3.00", "$0.00002": at least 2 decimals, no trailing zeros beyond 2. */
export function formatUsd(usd: number): string {
  const abs = Math.abs(usd);
  const digits = abs !== 0 && abs < 0.01 ? 6 : 4;
  const fixed = abs.toFixed(digits);
  // Trailing zeros go, down to two decimals (a loop, not a regex: the router formats several amounts per decision).
  let end = fixed.length;
  const keep = fixed.indexOf('.') + 3;
  while (end > keep && fixed.charCodeAt(end - 1) === 48) end -= 1;
  return `${usd < 0 ? '-' : ''}$${fixed.slice(0, end)}`;
}

/** Token counts assumed when estimating one attempt before it runs (no history yet). */
export interface UsageExpectation {
  api_output_tokens: number;
  api_overhead_tokens: number; // our system prompt for OpenAI-compatible engines
  claude_output_tokens: number;
  claude_overhead_tokens: number; // Claude Code's own system prompt and tool definitions
}

export const DEFAULT_EXPECTATION: UsageExpectation = {
  api_output_tokens: 2_000,
  api_overhead_tokens: 400,
  claude_output_tokens: 4_000,
  claude_overhead_tokens: 20_000,
};

/**
 * Worst-case cost of one attempt on an engine/model (estimateCost with the
 * engine's own overhead): what the runner checks against the remaining budget
 * before a call, and the router's prior for an option with no history.
 * 'exec' costs nothing; an unknown price gives null.
 */
export function estimateAttemptCost(
  pricing: PriceTable,
  engine: string,
  model: string | null,
  promptChars: number,
  expected: Partial<UsageExpectation> = {},
): number | null {
  if (engine === 'exec') return 0;
  const e = { ...DEFAULT_EXPECTATION, ...expected };
  // Agent CLIs (Claude Code, Codex, Gemini CLI, opencode) send a large system prompt and tool definitions.
  const claude = engine === 'claude' || engine === 'codex' || engine === 'gemini' || engine === 'opencode';
  return estimateCost(
    pricing,
    model,
    promptChars,
    claude ? e.claude_output_tokens : e.api_output_tokens,
    claude ? e.claude_overhead_tokens : e.api_overhead_tokens,
  ).usd;
}
