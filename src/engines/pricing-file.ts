/**
 * Reads config/pricing.json (shipped with colony) and merges the `pricing`
 * overrides of colony.config.json. The maths lives in core/pricing.ts.
 */
import { readFileSync } from 'node:fs';
import { ColonyError } from '../core/errors.js';
import { loadPriceTable, type PriceOverrides, type PriceTable } from '../core/pricing.js';

/** Resolves from src/engines and from dist/engines alike (both are two levels below the package root). */
export const PRICING_FILE = new URL('../../config/pricing.json', import.meta.url);

export function loadPricingFile(overrides: PriceOverrides = {}, file: string | URL = PRICING_FILE): PriceTable {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ColonyError('E_CONFIG', `cannot read the price file ${String(file)}: ${e instanceof Error ? e.message : String(e)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    throw new ColonyError('E_CONFIG', `the price file ${String(file)} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  return loadPriceTable(json, overrides);
}
