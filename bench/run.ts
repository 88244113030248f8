/**
 * `npm run bench`: runs every bench/*.bench.ts module's exported `run…Bench`
 * function (dag → runDagBench, router → runRouterBench, …), writes each result
 * to bench/results/<name>.json and prints a summary. A module that is not there
 * (yet) is skipped; one that throws is reported and makes the exit code 1.
 * A missed target is printed (MISSED) but is not an error: figures depend on the machine.
 *
 *   npm run bench            every bench
 *   npm run bench -- dag     only bench/dag.bench.ts
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** Benches we know about, so a missing one is named in the summary rather than silently absent. */
const KNOWN: Record<string, string> = { dag: 'runDagBench', router: 'runRouterBench', recovery: 'runRecoveryBench' };

type BenchFn = () => Promise<unknown>;

interface Outcome {
  name: string;
  status: 'ok' | 'missing' | 'failed';
  ms?: number;
  file?: string;
  error?: string;
  pass?: Record<string, boolean>;
}

function benchNames(): string[] {
  const present = readdirSync(here)
    .filter((f) => f.endsWith('.bench.ts'))
    .map((f) => f.slice(0, -'.bench.ts'.length));
  return [...new Set([...Object.keys(KNOWN), ...present])].sort();
}

/** The module's `run…Bench` export: the known name first, else the single one it exports. */
function pickRunner(name: string, mod: Record<string, unknown>): BenchFn | null {
  const known = KNOWN[name];
  if (known && typeof mod[known] === 'function') return mod[known] as BenchFn;
  const found = Object.entries(mod).filter(([k, v]) => /^run\w*Bench$/.test(k) && typeof v === 'function');
  return found.length === 1 ? (found[0]?.[1] as BenchFn) : null;
}

async function runOne(name: string): Promise<Outcome> {
  const file = join(here, `${name}.bench.ts`);
  if (!existsSync(file)) return { name, status: 'missing' };
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    return { name, status: 'failed', error: `cannot load ${file}: ${(e as Error).message}` };
  }
  const run = pickRunner(name, mod);
  if (!run) return { name, status: 'failed', error: `${file} exports no run…Bench function` };
  console.log(`\n=== ${name} ===`);
  const t0 = performance.now();
  try {
    const result = await run();
    const ms = Math.round(performance.now() - t0);
    const out = join(here, 'results', `${name}.json`);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
    const r = result as { pass?: Record<string, boolean>; targets?: Record<string, boolean> } | null;
    const pass = r?.pass ?? r?.targets; // benches name their met/missed map one way or the other
    return { name, status: 'ok', ms, file: out, pass: pass && typeof pass === 'object' ? pass : undefined };
  } catch (e) {
    return { name, status: 'failed', ms: Math.round(performance.now() - t0), error: (e as Error).stack ?? String(e) };
  }
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const names = benchNames().filter((n) => only.length === 0 || only.includes(n));
  if (names.length === 0) throw new Error(`no bench matches ${only.join(', ')} (have: ${benchNames().join(', ')})`);
  const outcomes: Outcome[] = [];
  for (const name of names) outcomes.push(await runOne(name));

  console.log('\n=== summary ===');
  for (const o of outcomes) {
    if (o.status === 'missing') console.log(`${o.name.padEnd(8)} skipped (bench/${o.name}.bench.ts not present)`);
    else if (o.status === 'failed') console.log(`${o.name.padEnd(8)} FAILED: ${o.error}`);
    else {
      const targets = o.pass
        ? Object.entries(o.pass)
            .map(([k, v]) => `${k} ${v ? 'met' : 'MISSED'}`)
            .join(', ')
        : 'no targets';
      console.log(`${o.name.padEnd(8)} ${((o.ms ?? 0) / 1000).toFixed(1)} s → ${o.file} (${targets})`);
    }
  }
  if (outcomes.some((o) => o.status === 'failed')) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
