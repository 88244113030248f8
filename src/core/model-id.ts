/**
 * One identity per model. Users and configs name models by alias ('sonnet'),
 * the Claude CLI reports full dated ids ('claude-sonnet-4-5-20250929'),
 * providers list their own ids: the router keys its statistics, prices and
 * explanations by the canonical id of the price table, so every spelling of a
 * model meets the same history. Pure.
 */
import { resolvePrice, type PriceTable } from './pricing.js';

/** The price table's id for a model ('sonnet' → 'claude-sonnet-5-5'); an unpriced model keeps its own id, lower-cased. */
export function canonicalModel(pricing: PriceTable, model: string | null): string | null {
  if (!model) return null;
  return resolvePrice(pricing, model)?.id ?? model.trim().toLowerCase();
}

/** "engine/canonical-model": the key of an option in the router's statistics. */
export function optionId(pricing: PriceTable, engine: string, model: string | null): string {
  return `${engine}/${canonicalModel(pricing, model) ?? 'default'}`;
}
