/**
 * The red "unsandboxed" badge (issue 20): with `safety.sandbox: false` both
 * dashboards (admin and LAN) show it; with the sandbox on (the default) it
 * is not there. Real Chromium against a real host.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHost } from '../../src/server/host-server.js';
import { buildWeb, CHROMIUM_MIN_ARGS, configOrThrow, launchChromium, startWebHost } from '../helpers/e2e-host.js';

let browser: Browser;
const hosts: RunningHost[] = [];
const dirs: string[] = [];

async function host(sandbox: boolean): Promise<RunningHost> {
  const dir = mkdtempSync(join(tmpdir(), 'colony-badge-'));
  dirs.push(dir);
  const h = await startWebHost({ home: join(dir, 'home'), config: configOrThrow({ safety: { sandbox } }) });
  hosts.push(h);
  return h;
}

beforeAll(async () => {
  buildWeb();
  browser = await launchChromium(CHROMIUM_MIN_ARGS);
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
