// Bundles the dashboard client (src/web) with esbuild into dist/web. No CDN: everything from npm.
// Code splitting keeps the admin module in its own chunk: the user app's page never loads it.
import { build } from 'esbuild';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';

const entry = 'src/web/main.ts';
mkdirSync('dist/web', { recursive: true });
if (existsSync(entry)) {
  rmSync('dist/web/chunks', { recursive: true, force: true });
  await build({
    entryPoints: { app: entry },
    bundle: true,
    format: 'esm',
    splitting: true,
    target: 'es2022',
    outdir: 'dist/web',
    chunkNames: 'chunks/[name]-[hash]',
    minify: true,
    sourcemap: true,
    logLevel: 'warning',
  });
}
for (const f of ['index.html', 'style.css']) if (existsSync(`src/web/${f}`)) cpSync(`src/web/${f}`, `dist/web/${f}`);
if (existsSync('node_modules/uplot/dist/uPlot.min.css')) cpSync('node_modules/uplot/dist/uPlot.min.css', 'dist/web/uplot.css');
