/**
 * The error catalogue, its documentation and the codes the code uses agree:
 * every code in src/ is in the catalogue, every catalogue code is documented
 * in docs/ERRORS.md with its HTTP status and used somewhere.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/core/errors.js';

const ROOT = join(import.meta.dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Every quoted 'E_…' literal in src/ (or, with `keys`, also codes used as object keys: `E_HALTED: …`). */
function codesUsed(keys = false): Map<string, string> {
  const used = new Map<string, string>();
  const re = keys ? /(?:['"`](E_[A-Z][A-Z_]*)['"`]|(?<![\w])(E_[A-Z][A-Z_]*)\s*:)/g : /['"`](E_[A-Z][A-Z_]*)['"`]/g;
  for (const f of sources(join(ROOT, 'src'))) {
    if (keys && f.endsWith(join('core', 'errors.ts'))) continue;
    for (const m of readFileSync(f, 'utf8').matchAll(re)) used.set((m[1] ?? m[2]) as string, f.slice(ROOT.length + 1));
  }
  return used;
}

describe('error catalogue', () => {
  const catalogue = Object.keys(ERROR_CODES);
  const used = codesUsed();

  it('contains every code used in src/', () => {
    const unknown = [...used].filter(([c]) => !catalogue.includes(c)).map(([c, f]) => `${c} (${f})`);
    expect(unknown).toEqual([]);
  });

  it('has no code that src/ never uses', () => {
    const anywhere = codesUsed(true);
    expect(catalogue.filter((c) => !anywhere.has(c))).toEqual([]);
  });

  it('is documented in docs/ERRORS.md with the same status and text', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'ERRORS.md'), 'utf8');
    const rows = new Map(
      [...doc.matchAll(/^\| `(E_[A-Z_]+)` \| (\d+) \| (.+) \|$/gm)].map((m) => [m[1] as string, { status: Number(m[2]), doc: m[3] as string }]),
    );
    expect([...rows.keys()].sort()).toEqual([...catalogue].sort());
    for (const [code, v] of Object.entries(ERROR_CODES)) expect(rows.get(code), code).toEqual({ status: v.status, doc: v.doc });
  });
});
