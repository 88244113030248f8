// Bundles the dashboard client (src/web) with esbuild into dist/web. No CDN: everything from npm.
import { build } from 'esbuild';
import { cpSync, existsSync, mkdirSync } from 'node:fs';

const entry = 'src/web/main.ts';
mkdirSync('dist/web', { recursive: true });
if (existsSync(entry)) {
  await build({ entryPoints: [entry], bundle: true, format: 'esm', target: 'es2022', outfile: 'dist/web/app.js', minify: true, sourcemap: true, logLevel: 'warning' });
}
for (const f of ['index.html', 'style.css']) if (existsSync(`src/web/${f}`)) cpSync(`src/web/${f}`, `dist/web/${f}`);
