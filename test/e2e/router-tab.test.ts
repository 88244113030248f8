/**
 * The Router tab in a real browser (Debian's Chromium via playwright-core): a
 * real host serving dist/web runs an auto-routed task on the fake Claude CLI;
 * the tab then shows every task class with its candidates (success, prior,
 * samples, cost) and the decision with the explanation the API stored.
 */
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHost } from '../../src/server/host-server.js';
import {
  adminJson,
  buildWeb,
  CHROMIUM_MIN_ARGS,
  configOrThrow,
  fakeClaudeEnv,
  launchChromium,
  requireChromium,
  ROOT,
  startWebHost,
} from '../helpers/e2e-host.js';

let host: RunningHost;
let browser: Browser;
let home: string;
let workspace: string;

const api = <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => adminJson<T>(host, method, path, body);

beforeAll(async () => {
  buildWeb();
  requireChromium();
  home = mkdtempSync(join(tmpdir(), 'colony-e2e-router-'));
  workspace = realpathSync(mkdtempSync(join(tmpdir(), 'colony-e2e-router-ws-')));
  const config = configOrThrow({ runner: { worktrees: 'off' }, safety: { allowed_roots: [workspace] } });
  host = await startWebHost({ home, config, lan: false, env: fakeClaudeEnv() });
  browser = await launchChromium(CHROMIUM_MIN_ARGS);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await host?.close(500);
  for (const d of [home, workspace]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('admin Router tab', () => {
  it('shows per-class candidates and the last decision with its explanation', async () => {
    const sub = await api<{ task_ids: string[] }>('POST', '/admin/execute', { prompt: 'Fix the typo in README.md', engine: 'auto', workspace });
    const id = sub.task_ids[0] as string;
    await expect
      .poll(async () => (await api<{ task: { state: string } }>('GET', `/admin/tasks/${encodeURIComponent(id)}`)).task.state, { timeout: 30_000 })
      .toBe('succeeded');
    const state = await api<{ decisions: { task_id: string; explanation: string; option: string }[] }>('GET', '/admin/router');
    const decision = state.decisions.find((d) => d.task_id === id);
    expect(decision).toBeDefined();

    const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await ctx.newPage();
    page.setDefaultTimeout(45_000);
    await page.goto(host.adminTokenUrl);
    await page.locator('a.tab[href="#router"]').click();
    await page.locator('#panel-router .router-class[data-class="trivial"] tbody tr').first().waitFor();
    expect(await page.locator('#panel-router .router-class').count()).toBe(5);
    // Every candidate row carries its success, prior, samples and cost.
    const row = page.locator('#panel-router .router-class[data-class="trivial"] tbody tr').first();
    const cells = await row.locator('td').allTextContents();
    expect(cells[1]).toMatch(/^0\.\d{3}$/);
    expect(cells[2]).toMatch(/^0\.\d{3}$/);
    expect(cells[3]).toMatch(/^\d+\.\d \/ \d+ \(\d+ ok\)$/);
    expect(cells[4]).toMatch(/^\$\d/);
    // The class the task ran in shows the one learned attempt.
    await expect.poll(async () => (await page.locator('#panel-router .router-class h3').allTextContents()).join(' ')).toMatch(/1 attempts learned/);
    const explanation = page.locator('#panel-router .router-decisions .router-explanation').first();
    expect(await explanation.textContent()).toBe(decision?.explanation);
    expect(await page.locator('#panel-router .router-decisions td.mono').allTextContents()).toContain(decision?.option);
    await page.screenshot({ path: join(ROOT, 'test-artifacts', 'admin-router.png'), fullPage: true });
    await ctx.close();
  }, 90_000);
});
