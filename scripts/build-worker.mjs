// Bundles `colony worker` with its dependencies into one file, dist/worker/colony-worker.mjs, which the
// host serves to LAN visitors (GET /worker/colony-worker.mjs): a machine with only Node.js 20 runs it.
// The worker's one native dependency (better-sqlite3, for its home lock) is swapped for a PID-file lock.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

const out = 'dist/worker/colony-worker.mjs';
mkdirSync('dist/worker', { recursive: true });
const swapLock = {
  name: 'worker-lock',
  setup(b) {
    b.onResolve({ filter: /store\/host-lock\.js$/ }, () => ({ path: resolve('src/cli/worker-bundle/pid-lock.ts') }));
  },
};
// The price table ships inside the bundle: there is no config/pricing.json next to a downloaded file.
const embedPrices = {
  name: 'embed-prices',
  setup(b) {
    b.onLoad({ filter: /engines[\\/]pricing-file\.ts$/ }, (args) => {
      const src = readFileSync(args.path, 'utf8');
      const read = "raw = readFileSync(file, 'utf8');";
      if (!src.includes(read)) throw new Error('build-worker: pricing-file.ts changed; update the embed-prices plugin');
      const json = JSON.stringify(readFileSync('config/pricing.json', 'utf8'));
      return { contents: src.replace(read, `raw = file === PRICING_FILE ? ${json} : readFileSync(file, 'utf8');`), loader: 'ts' };
    });
  },
};
await build({
  entryPoints: ['src/cli/worker-bundle/main.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile: out,
  minify: true,
  legalComments: 'none',
  plugins: [swapLock, embedPrices],
  // CommonJS dependencies (ws, commander) call require() for node builtins: give the ES module one.
  banner: { js: "import{createRequire as __colonyRequire}from'node:module';const require=__colonyRequire(import.meta.url);" },
  logLevel: 'warning',
});
const sha = createHash('sha256').update(readFileSync(out)).digest('hex');
writeFileSync(`${out}.sha256`, `${sha}\n`);
