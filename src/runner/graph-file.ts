/** Reads a graph file (JSON or YAML) into a validated GraphInput; errors name the file. */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ColonyError } from '../core/errors.js';
import { parseGraph, type GraphInput } from '../core/graph-schema.js';

export function decodeGraphText(text: string, file: string): unknown {
  const ext = extname(file).toLowerCase();
  try {
    if (ext === '.yaml' || ext === '.yml') return parseYaml(text, { maxAliasCount: 100 }) as unknown;
    return JSON.parse(text) as unknown;
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    throw new ColonyError('E_BAD_JSON', `${file}: not valid ${ext === '.yaml' || ext === '.yml' ? 'YAML' : 'JSON'}: ${msg}`);
  }
}

export function readGraphFile(file: string): GraphInput {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ColonyError('E_BAD_INPUT', `${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseGraph(decodeGraphText(text, file), file);
}
