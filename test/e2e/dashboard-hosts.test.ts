/**
 * Several hosts on one PostgreSQL store in a real browser (Debian's Chromium
 * via playwright-core): two real hosts serving dist/web over one throwaway
 * database. Host A's overview shows the Hosts card listing both hosts live,
 * A marked as this host and B owning one graph; B's waiting task opened on
 * A shows B as its owner with every action button disabled and saying why.
 * The card and the task drawer have no serious or critical axe-core violation.
 */
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHost } from '../../src/server/host-server.js';
import { adminJson, buildWeb, CHROMIUM_MIN_ARGS, configOrThrow, launchChromium, requireChromium, ROOT, startWebHost } from '../helpers/e2e-host.js';
import { pgMissing, startPg, type PgCluster } from '../helpers/pg.js';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const missing = pgMissing();
let pgc: PgCluster | null = null;
let browser: Browser | null = null;
const hosts: RunningHost[] = [];
const dirs: string[] = [];

afterAll(async () => {
  await browser?.close();
  for (const h of hosts) await h.close(500).catch(() => undefined);
  pgc?.destroy();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function seriousViolations(page: Page, selector: string): Promise<string[]> {
  // Colours are read once the drawer's slide-in has finished.
  await page.evaluate(() =>
    Promise.all(
      document
        .getAnimations()
        .filter((a) => a.effect?.getComputedTiming().iterations !== Infinity)
        .map((a) => a.finished),
    ),
  );
  await page.addScriptTag({ content: AXE });
  return page.evaluate(async (sel) => {
    const axe = (window as unknown as { axe: { run: (e: Element) => Promise<{ violations: { id: string; impact: string | null }[] }> } }).axe;
    const el = document.querySelector(sel);
    if (!el) return [`missing ${sel}`];
    return (await axe.run(el)).violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id}: ${(v as unknown as { nodes: { target: string[] }[] }).nodes.map((n) => n.target.join(' ')).join(', ')}`);
  }, selector);
}

describe.skipIf(missing !== null)(`admin Hosts card with two hosts on PostgreSQL${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let workspace = '';
  beforeAll(async () => {
    buildWeb();
    requireChromium();
    pgc = await startPg();
    const url = await pgc.createDatabase('dashboard_hosts');
    workspace = realpathSync(mkdtempSync(join(tmpdir(), 'colony-e2e-hosts-ws-')));
    dirs.push(workspace);
    for (const name of ['a', 'b']) {
      const home = mkdtempSync(join(tmpdir(), `colony-e2e-hosts-${name}-`));
      dirs.push(home);
      const config = configOrThrow({
        runner: { worktrees: 'off', kill_grace_ms: 200 },
        safety: { allowed_roots: [workspace] },
        store: { url, lease_ms: 60_000, heartbeat_ms: 1_000 },
      });
      hosts.push(await startWebHost({ home, config, lan: false }));
    }
    browser = await launchChromium(CHROMIUM_MIN_ARGS);
  }, 180_000);

  it("lists both hosts on A and disables the actions of B's task there, saying why", async () => {
    const [a, b] = hosts as [RunningHost, RunningHost];
    const info = await adminJson<{ this_host: string }>(b, 'GET', '/admin/hosts');
    const idB = info.this_host;
    const idA = (await adminJson<{ this_host: string }>(a, 'GET', '/admin/hosts')).this_host;
    // On B: a running task and one waiting for it (force-run, skip and cancel would apply).
    const graph = {
      name: 'on-b',
      tasks: [
        { id: 'slow', engine: 'exec', prompt: 'sleep 60', workspace },
        { id: 'next', engine: 'exec', prompt: 'true', depends_on: ['slow'], workspace },
      ],
    };
    const sub = await adminJson<{ graph_id: string; task_ids: string[] }>(b, 'POST', '/admin/execute', { graph });
    const waiting = sub.task_ids.find((t) => t.endsWith(':next')) as string;

    const ctx = await (browser as Browser).newContext({ viewport: { width: 1440, height: 900 }, bypassCSP: true });
    const page = await ctx.newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(a.adminTokenUrl);
    const rows = page.locator('#hosts .hosts-table tbody tr');
    await expect.poll(() => rows.count()).toBe(2);
    const rowA = page.locator(`#hosts tr[data-host="${idA}"]`);
    const rowB = page.locator(`#hosts tr[data-host="${idB}"]`);
    expect(await rowA.locator('.this-host').textContent()).toBe('this host');
    expect(await rowB.locator('.this-host').count()).toBe(0);
    expect(await rowA.locator('.pill').textContent()).toMatch(/^live \(\d+ s left\)$/);
    expect(await rowB.locator('.pill').textContent()).toMatch(/^live \(\d+ s left\)$/);
    expect((await rowB.locator('td').allTextContents())[3]).toBe('1');
    expect((await rowA.locator('td').allTextContents())[3]).toBe('0');
    expect(await seriousViolations(page, '#hosts')).toEqual([]);
    // The run picker marks B's graph as running on B.
    await expect.poll(() => page.locator('#graph-select option').allTextContents()).toEqual([`on-b · ${sub.graph_id} (latest) · on host ${idB}`]);

    // B's waiting task opened on A: its owner said, every action disabled.
    await page.goto(`${a.adminUrl}#task=${encodeURIComponent(waiting)}`);
    const note = page.locator('#task-drawer .foreign-note');
    await note.waitFor();
    expect(await note.textContent()).toContain(`Owned by colony host ${idB}`);
    const buttons = page.locator('#task-drawer .detail-actions button');
    expect(await buttons.allTextContents()).toEqual(['Force run', 'Skip', 'Cancel']);
    for (const disabled of await buttons.evaluateAll((bs) => bs.map((x) => (x as HTMLButtonElement).disabled))) expect(disabled).toBe(true);
    // The note, the disabled buttons and the output pane.
    expect(await seriousViolations(page, '#task-drawer')).toEqual([]);
    await page.screenshot({ path: join(ROOT, 'test-artifacts', 'admin-hosts.png'), fullPage: true });

    // The same task on its own host keeps its actions.
    const pageB = await ctx.newPage();
    await pageB.goto(b.adminTokenUrl);
    await pageB.goto(`${b.adminUrl}#task=${encodeURIComponent(waiting)}`);
    await pageB.locator('#task-drawer .detail-actions button').first().waitFor();
    expect(await pageB.locator('#task-drawer .foreign-note').count()).toBe(0);
    expect(await pageB.locator('#task-drawer .detail-actions button:disabled').count()).toBe(0);
    await ctx.close();
  }, 120_000);
});
