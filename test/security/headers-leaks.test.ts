/**
 * Issue 14, headers and leaks: both apps send a CSP without inline script or
 * style (and `frame-ancestors 'none'`), nosniff and a referrer policy on every
 * response; the built dashboard's HTML has no inline script/style and runs in
 * Chromium without a single CSP violation; and the admin token never reaches
 * the request log, even with `--pretty` and `/?token=…`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type RunningHost } from '../../src/server/host-server.js';
import { makeHome, testConfig, type TestHome } from '../helpers/admin-host.js';
import { assertBuilt, REPO, startCli } from '../helpers/cli.js';
import { killQuietly, waitFor } from '../helpers/proc.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

let home: TestHome;
let h: RunningHost;
let browser: Browser | null = null;

beforeAll(async () => {
  assertBuilt();
  const webRoot = join(REPO, 'dist', 'web'); // the built client (app.js bundle), as `colony serve` serves it
  if (!existsSync(join(webRoot, 'app.js'))) throw new Error('dist/web is missing: run npm run build');
  home = makeHome('colony-headers-');
  h = await startHost({
    paths: home.paths,
    config: testConfig(),
    adminPort: 0,
    userPort: 0,
    lan: true,
    insecureHttp: true,
    hostIp: '127.0.0.1',
    logger: false,
    webRoot,
  });
});
afterAll(async () => {
  await browser?.close();
  await h?.close(200);
  home?.cleanup();
});

function checkHeaders(r: Response, what: string): void {
  const csp = r.headers.get('content-security-policy') ?? '';
  expect(csp, what).toContain("frame-ancestors 'none'");
  expect(csp, what).toContain("script-src 'self'");
  expect(csp, what).toContain("style-src 'self'");
  expect(csp, what).not.toContain('unsafe-inline');
  expect(csp, what).not.toContain('unsafe-eval');
  expect(r.headers.get('x-content-type-options'), what).toBe('nosniff');
  expect(r.headers.get('referrer-policy'), what).toBe('no-referrer');
}

describe('security headers', () => {
  it('are on every response of both apps: pages, assets, API, errors, 404s', async () => {
    const admin = h.adminUrl;
    const user = h.userUrl as string;
    const auth = { authorization: `Bearer ${h.ctx.adminToken}` };
    const cases: [string, string, RequestInit?][] = [
      ['admin page', `${admin}?token=${h.ctx.adminToken}`, { redirect: 'manual' }],
      ['admin 401 page', admin],
      ['admin asset', `${admin}assets/style.css`],
      ['admin API', `${admin}api/status`, { headers: auth }],
      ['admin refusal', `${admin}api/status`],
      ['admin 404', `${admin}nope`, { headers: auth }],
      ['user dashboard', `${user}dashboard`],
      ['user asset', `${user}assets/app.js`],
      ['user health', `${user}healthz`],
      ['user 404', `${user}nope/at/all`],
      ['user 401', `${user}api/status`],
    ];
    for (const [what, url, init] of cases) checkHeaders(await fetch(url, init), what);
  });

  it('the served dashboard HTML has no inline script or style', async () => {
    for (const url of [`${h.userUrl}dashboard`, h.adminUrl]) {
      const html = await (await fetch(url, { headers: { cookie: '' } })).text();
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
      expect(html).not.toMatch(/<style[\s>]/i);
      expect(html).not.toMatch(/\sstyle=/i);
      expect(html).not.toMatch(/\son[a-z]+=/i);
    }
  });

  it('the dashboards run in Chromium without a CSP violation', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
    const ctx = await browser.newContext();
    await ctx.addInitScript(() => {
      const w = window as unknown as { __csp: string[] };
      w.__csp = [];
      document.addEventListener('securitypolicyviolation', (e) => w.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    const messages: string[] = [];
    for (const url of [`${h.adminUrl}?token=${h.ctx.adminToken}`, `${h.userUrl}dashboard`]) {
      const page = await ctx.newPage();
      page.on('console', (m) => messages.push(m.text()));
      await page.goto(url);
      await page.waitForFunction(() => document.querySelector('#app') !== null && document.querySelector('#app .boot') === null, undefined, {
        timeout: 30_000,
      });
      await page.evaluate(() => (location.hash = '#costs')); // the charts (uPlot) render there
      await page.waitForTimeout(1500); // let the live stream and charts start
      expect(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp), url).toEqual([]);
      await page.close();
    }
    expect(messages.filter((m) => /Content Security Policy/i.test(m))).toEqual([]);
  }, 90_000);
});

describe('the admin token in logs', () => {
  it('never appears in the request log, with --pretty, for a right or a wrong /?token=', async () => {
    const home2 = makeHome('colony-tokenlog-');
    const p = startCli(['serve', '--pretty', '--home', home2.paths.home, '--admin-port', '0'], { cwd: home2.workspace, timeoutMs: 60_000 });
    try {
      await waitFor(() => existsSync(join(home2.paths.home, 'host.json')), 'host.json', 30_000);
      const { admin_port: port } = JSON.parse(readFileSync(join(home2.paths.home, 'host.json'), 'utf8')) as { admin_port: number };
      const token = readFileSync(join(home2.paths.home, 'admin.token'), 'utf8').trim();
      const guess = 'guessed-token-value-0123456789';
      expect((await fetch(`http://127.0.0.1:${port}/?token=${token}`, { redirect: 'manual' })).status).toBe(303);
      expect((await fetch(`http://127.0.0.1:${port}/?token=${guess}&x=1`)).status).toBe(401);
      expect((await fetch(`http://127.0.0.1:${port}/api/status`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1500)); // pino-pretty writes from a worker thread
      process.kill(p.child.pid as number, 'SIGTERM');
      const out = await p.result;
      const logs = out.stdout.split('\n').filter((l) => !l.includes('admin app:')); // the start banner prints the entry URL once, by design
      const all = logs.join('\n') + out.stderr;
      expect(all).toContain('[redacted]'); // the request log did log those requests
      expect(all).not.toContain(token);
      expect(all).not.toContain(guess);
    } finally {
      killQuietly(p.child.pid);
      home2.cleanup();
    }
  });
});
