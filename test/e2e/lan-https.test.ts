/**
 * Chromium on the user app over https (issue 14): the visitor accepts the
 * self-signed certificate once (ignoreHTTPSErrors stands in for that click),
 * signs in through the welcome form — a POST whose Origin is https://… must
 * pass the CSRF check — gets Secure cookies, and sees no plain-HTTP warning;
 * the admin app (loopback, plain HTTP) shows the certificate fingerprint.
 * Needs `npm run build` (dist/web) and Debian's chromium.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHost } from '../../src/server/host-server.js';
import { makeHome, type TestHome } from '../helpers/admin-host.js';
import { launchChromium, requireChromium, WEB_ROOT } from '../helpers/e2e-host.js';
import { startTlsHost } from '../helpers/tls-host.js';

let home: TestHome;
let h: RunningHost;
let browser: Browser;

beforeAll(async () => {
  requireChromium();
  const webRoot = WEB_ROOT;
  if (!existsSync(join(webRoot, 'index.html'))) throw new Error('dist/web is missing: run `npm run build` first');
  home = makeHome('colony-https-e2e-');
  h = await startTlsHost(home, webRoot);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await h?.close(200);
  home?.cleanup();
});

describe('the user app in Chromium over https', () => {
  it('refuses the self-signed certificate until accepted, then signs in over https with Secure cookies and no plain-HTTP warning', async () => {
    const url = (h.userUrl ?? '').replace(/\/$/, '');
    expect(url).toMatch(/^https:/);
    const strict = await browser.newContext();
    await expect((await strict.newPage()).goto(`${url}/dashboard`)).rejects.toThrow(/ERR_CERT/);
    await strict.close();

    const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await ctx.newPage();
    await page.goto(`${url}/dashboard`);
    await page.fill('#display-name', 'Ada');
    await page.click('#session-form button[type=submit]');
    await page.waitForSelector('#my-name', { timeout: 10_000 });
    expect(await page.textContent('#my-name')).toBe('Ada');
    const cookies = await ctx.cookies();
    for (const name of ['colony_session', 'colony_device']) expect(cookies.find((c) => c.name === name)).toMatchObject({ secure: true, httpOnly: true });
    expect(await page.isHidden('#transport-banner')).toBe(true);
    await ctx.close();
  }, 60_000);

  it('shows the certificate fingerprint in the admin app (plain HTTP on loopback)', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(h.adminTokenUrl);
    await page.waitForSelector('#transport-banner:not([hidden])', { timeout: 10_000 });
    expect(await page.textContent('#transport-banner')).toContain(String(h.tlsFingerprint));
    await ctx.close();
  }, 60_000);
});
