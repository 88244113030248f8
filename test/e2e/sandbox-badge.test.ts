/**
 * The red "unsandboxed" badge (issue 20): with `safety.sandbox: false` both
 * dashboards (admin and LAN) show it; with the sandbox on (the default) it
 * is not there. Real Chromium against a real host.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config.js';
import { resolveHome } from '../../src/runner/home.js';
import { startHost, type RunningHost } from '../../src/server/host-server.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
let browser: Browser;
const hosts: RunningHost[] = [];
const dirs: string[] = [];

async function host(sandbox: boolean): Promise<RunningHost> {
  const dir = mkdtempSync(join(tmpdir(), 'colony-badge-'));
  dirs.push(dir);
  const c = parseConfig({ safety: { sandbox } });
  if (!c.ok) throw new Error(c.problems.join('; '));
  const h = await startHost({
    paths: resolveHome(join(dir, 'home')),
    config: c.config,
    adminPort: 0,
    userPort: 0,
    lan: true,
    insecureHttp: true,
    hostIp: '127.0.0.1',
    concurrency: 1,
    logger: false,
    webRoot: join(ROOT, 'dist', 'web'),
  });
  hosts.push(h);
  return h;
}

beforeAll(async () => {
  execFileSync(process.execPath, ['scripts/build-web.mjs'], { cwd: ROOT, stdio: 'inherit' });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  for (const h of hosts) await h.close(500);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function pages(h: RunningHost): Promise<{ admin: Page; lan: Page }> {
  const admin = await (await browser.newContext()).newPage();
  await admin.goto(h.adminTokenUrl);
  await admin.locator('#killswitch-state').waitFor();
  const lan = await (await browser.newContext()).newPage();
  await lan.goto(new URL('/dashboard', h.userUrl ?? '').toString());
  await lan.locator('#session-form').waitFor();
  await lan.locator('#display-name').fill('badge-viewer');
  await lan.locator('#session-form button[type=submit]').click();
  await lan.locator('#my-name', { hasText: 'badge-viewer' }).waitFor();
  return { admin, lan };
}

describe('the unsandboxed badge', () => {
  it('is red on both dashboards when safety.sandbox is false', async () => {
    const { admin, lan } = await pages(await host(false));
    for (const page of [admin, lan]) {
      const badge = page.locator('#sandbox-state');
      await badge.waitFor({ state: 'visible' });
      expect(await badge.textContent()).toBe('unsandboxed');
      expect(await badge.evaluate((el) => getComputedStyle(el).backgroundColor)).toBe('rgb(217, 45, 32)');
    }
  }, 60_000);

  it('is not shown when the sandbox is on', async () => {
    const { admin, lan } = await pages(await host(true));
    for (const page of [admin, lan]) {
      await page.waitForFunction(() => document.querySelector('#killswitch-state')?.textContent === 'running');
      expect(await page.locator('#sandbox-state').isVisible()).toBe(false);
    }
  }, 60_000);
});
