/**
 * Notifications and budgets in a real browser (Debian's Chromium via
 * playwright-core), issue 18. A real host serving dist/web: the admin turns
 * browser notifications on and a failing task raises one; agent tasks (the
 * fake Claude CLI, $0.20 a run) reach the admin's budget, the Costs tab at
 * phone width shows the stop and the pause, the admin raises the budget and
 * resumes from the page and the paused task runs; the daily chart is drawn;
 * "Send test" reaches a webhook receiver on 127.0.0.1.
 */
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHost } from '../../src/server/host-server.js';
import { adminJson, buildWeb, CHROMIUM_MIN_ARGS, configOrThrow, fakeClaudeEnv, launchChromium, requireChromium, startWebHost } from '../helpers/e2e-host.js';

let host: RunningHost;
let browser: Browser;
let home: string;
let workspace: string;
let receiver: Server;
const received: string[] = [];

const api = <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => adminJson<T>(host, method, path, body);

const stateOf = async (id: string): Promise<string> => (await api<{ task: { state: string } }>('GET', `/admin/tasks/${encodeURIComponent(id)}`)).task.state;

beforeAll(async () => {
  buildWeb();
  requireChromium();
  receiver = createServer((req, res) => {
    let b = '';
    req.on('data', (c: Buffer) => (b += c.toString('utf8')));
    req.on('end', () => {
      received.push(b);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((ok) => receiver.listen(0, '127.0.0.1', ok));
  home = mkdtempSync(join(tmpdir(), 'colony-e2e-notify-'));
  workspace = realpathSync(mkdtempSync(join(tmpdir(), 'colony-e2e-notify-ws-')));
  const config = configOrThrow({
    runner: { worktrees: 'off' },
    lan: { host_workspace: workspace },
    safety: { allowed_roots: [workspace], env_allow: ['FAKE_CLAUDE_COST'] },
    notifications: { webhooks: [{ name: 'ops', url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`, secret: 'e2e-secret-0123456789' }] },
  });
  host = await startWebHost({ home, config, env: fakeClaudeEnv({ FAKE_CLAUDE_COST: '0.2' }) }); // above the fake's mid-run estimate: budgets are checked in flight too
  browser = await launchChromium(CHROMIUM_MIN_ARGS);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await host?.close(500);
  await new Promise<void>((ok) => (receiver ? receiver.close(() => ok()) : ok()));
  for (const d of [home, workspace]) if (d) rmSync(d, { recursive: true, force: true });
});

/** Records every Notification the page constructs (the real one still shows). */
function spyNotifications(): void {
  const Real = window.Notification;
  const shown: { title: string; body: string }[] = [];
  (window as unknown as { __shown: typeof shown }).__shown = shown;
  class Spy extends Real {
    constructor(title: string, o?: NotificationOptions) {
      super(title, o);
      shown.push({ title, body: o?.body ?? '' });
    }
  }
  Object.defineProperty(Spy, 'permission', { get: () => Real.permission });
  Object.defineProperty(Spy, 'requestPermission', { value: Real.requestPermission.bind(Real) });
  window.Notification = Spy as unknown as typeof Notification;
}

describe('browser notifications', () => {
  it('opt in from the top bar; a failing task then raises a notification', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, permissions: ['notifications'] });
    const page = await ctx.newPage();
    page.setDefaultTimeout(30_000);
    await page.addInitScript(spyNotifications);
    await page.goto(host.adminTokenUrl);
    const toggle = page.locator('#btn-notify');
    await expect.poll(() => toggle.textContent()).toBe('Notify: off');
    await toggle.click();
    await expect.poll(() => toggle.getAttribute('aria-pressed')).toBe('true');
    await page
      .locator('.conn-live, .conn.conn-live')
      .first()
      .waitFor()
      .catch(() => undefined);
    await api('POST', '/admin/execute', { title: 'break the build', prompt: 'exit 4', engine: 'exec', workspace });
    await expect
      .poll(() => page.evaluate(() => (window as unknown as { __shown: { title: string; body: string }[] }).__shown), { timeout: 20_000 })
      .toEqual(expect.arrayContaining([expect.objectContaining({ title: 'Task failed', body: expect.stringMatching(/^break the build/) })]));
    // Turned off, nothing more is shown.
    await toggle.click();
    await expect.poll(() => toggle.textContent()).toBe('Notify: off');
    const before = await page.evaluate(() => (window as unknown as { __shown: unknown[] }).__shown.length);
    await api('POST', '/admin/execute', { title: 'break it again', prompt: 'exit 5', engine: 'exec', workspace });
    await new Promise((ok) => setTimeout(ok, 1500));
    expect(await page.evaluate(() => (window as unknown as { __shown: unknown[] }).__shown.length)).toBe(before);
    await ctx.close();
  }, 60_000);
});

describe('budgets on the Costs tab, phone width', () => {
  it('shows the stop and the pause; raise and resume from the page run the paused task; daily chart; send test', async () => {
    await api('POST', '/admin/budgets', { scope: 'user', key: 'admin', budget_usd: 0.35 }); // b crosses it only as it ends
    const tasks = ['a', 'b', 'c'].map((id, i) => ({
      id,
      prompt: `Write ${id}.txt`,
      engine: 'claude',
      budget_usd: 0.5,
      workspace,
      depends_on: i ? [['a', 'b'][i - 1]] : [],
    }));
    const sub = await api<{ task_ids: string[] }>('POST', '/admin/execute', { graph: { name: 'spendy', tasks } });
    const [, b, c] = sub.task_ids as [string, string, string];
    await expect.poll(() => stateOf(b), { timeout: 30_000 }).toBe('succeeded');
    await expect
      .poll(async () => (await api<{ users: { key: string; paused: boolean }[] }>('GET', '/admin/budgets')).users.find((u) => u.key === 'admin')?.paused)
      .toBe(true);

    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await ctx.newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(host.adminTokenUrl);
    await page.locator('a.tab[href="#costs"]').click();
    const row = page.locator('#budgets tr[data-scope="user"][data-key="admin"]');
    await row.waitFor();
    expect(await row.locator('.budget-level').textContent()).toBe('budget reached');
    expect(await row.locator('.budget-paused').textContent()).toBe('paused');
    expect(await row.textContent()).toContain('$0.4000 of $0.3500');
    // The budgets fit the phone's width (rows stack, no sideways scrolling).
    const box = await page.locator('#budgets').boundingBox();
    expect(box && box.x + box.width).toBeLessThanOrEqual(390);
    // Resume first: refused in the page, the task stays put.
    await row.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(() => row.locator('.inline-error').first().textContent()).toMatch(/raise the budget/);
    expect(await stateOf(c)).toBe('ready');
    await row.getByLabel('Budget in USD for user admin').fill('1');
    await row.getByRole('button', { name: 'Set' }).click();
    await expect.poll(() => page.locator('#budgets tr[data-key="admin"] .budget-level').textContent()).toBe('ok');
    await page.locator('#budgets tr[data-key="admin"]').getByRole('button', { name: 'Resume' }).click();
    await expect.poll(() => stateOf(c), { timeout: 30_000 }).toBe('succeeded');
    await expect.poll(() => page.locator('#budgets tr[data-key="admin"] .budget-paused').count()).toBe(0);
    // The daily chart: a series per engine and model, refreshed live as attempts finish.
    await page.locator('#daily-cost .uplot').waitFor();
    await expect
      .poll(() => page.locator('#daily-cost .chart').getAttribute('aria-label'))
      .toMatch(/^Cost per day by engine and model: claude · [\w.-]+ \$0\.6000, exec \$0\.0000$/);
    // Send test reaches the receiver and reports it.
    await page.locator('#webhooks li[data-hook="ops"]').getByRole('button', { name: 'Send a test to ops' }).click();
    await expect.poll(() => page.locator('#webhooks .hook-result').textContent()).toBe('delivered (204)');
    expect(received.some((r) => (JSON.parse(r) as { event: string }).event === 'test')).toBe(true);
    await page.screenshot({ path: join(tmpdir(), 'colony-budgets-phone.png'), fullPage: true });
    await ctx.close();
  }, 90_000);
});

describe('browser notifications of LAN users: own tasks only', () => {
  async function lanPage(name: string, viewport: { width: number; height: number }): Promise<Page> {
    const ctx = await browser.newContext({ viewport, permissions: ['notifications'] });
    const page = await ctx.newPage();
    page.setDefaultTimeout(30_000);
    await page.addInitScript(spyNotifications);
    await page.goto(new URL('/dashboard', host.userUrl ?? '').toString());
    await page.locator('#session-form').waitFor();
    await page.locator('#display-name').fill(name);
    await page.locator('#session-form button[type=submit]').click();
    await page.locator('#my-name', { hasText: name }).waitFor();
    await page.locator('#btn-notify').click();
    await expect.poll(() => page.locator('#btn-notify').getAttribute('aria-pressed')).toBe('true');
    return page;
  }
  const shown = (p: Page): Promise<{ title: string; body: string }[]> =>
    p.evaluate(() => (window as unknown as { __shown: { title: string; body: string }[] }).__shown);

  it('Ada (on a phone) is notified that her host task awaits approval and that it ended; Bob is told nothing', async () => {
    const ada = await lanPage('Ada', { width: 390, height: 844 });
    const bob = await lanPage('Bob', { width: 1280, height: 800 });
    await ada.locator('#user-prompt').fill('echo ada-private-marker');
    await ada.locator('#user-submit-form select[name=target]').selectOption('host');
    await ada.locator('#user-submit-form select[name=engine]').selectOption('exec');
    await ada.locator('#user-submit-form button[type=submit]').click();
    await expect.poll(() => shown(ada), { timeout: 20_000 }).toEqual([{ title: 'Approval needed', body: 'echo ada-private-marker' }]);
    const pending = await api<{ tasks: { id: string }[] }>('GET', '/admin/pending');
    const id = pending.tasks[0]?.id as string;
    await api('POST', `/admin/reject/${encodeURIComponent(id)}`);
    await expect
      .poll(() => shown(ada), { timeout: 20_000 })
      .toContainEqual({ title: 'Graph finished with failures', body: expect.stringMatching(/0\/1 succeeded, 1 cancelled$/) });
    // Bob's page is on the live stream all along, yet raises nothing.
    expect(await bob.locator('.conn-text').textContent()).toBe('live');
    await new Promise((ok) => setTimeout(ok, 1000));
    expect(await shown(bob)).toEqual([]);
    expect(await bob.content()).not.toContain('ada-private-marker');
  }, 90_000);

  it('Carol sees her own spend reach her budget, live; Bob sees only his own', async () => {
    const carol = await lanPage('Carol', { width: 1280, height: 800 });
    const bob = await lanPage('Bob', { width: 390, height: 844 });
    const carolId = await carol.evaluate(async () => ((await (await fetch('/api/session')).json()) as { session: { user_id: string } }).session.user_id);
    await api('POST', '/admin/budgets', { scope: 'user', key: `session:${carolId}`, budget_usd: 0.2 });
    await carol.reload();
    const card = carol.locator('#my-budget');
    await expect.poll(() => card.locator('#my-budget-spent').textContent()).toBe('$0.0000 of $0.2000');
    expect(await card.locator('#my-budget-level').textContent()).toBe('ok');
    await carol.locator('#user-prompt').fill('Write carol.txt');
    await carol.locator('#user-submit-form select[name=target]').selectOption('host');
    await carol.locator('#user-submit-form select[name=engine]').selectOption('claude');
    await carol.locator('#user-submit-form button[type=submit]').click();
    await expect.poll(async () => (await api<{ tasks: { id: string }[] }>('GET', '/admin/pending')).tasks.length, { timeout: 20_000 }).toBe(1);
    const id = (await api<{ tasks: { id: string }[] }>('GET', '/admin/pending')).tasks[0]?.id as string;
    await api('POST', `/admin/approve/${encodeURIComponent(id)}`);
    await expect.poll(() => stateOf(id), { timeout: 30_000 }).toBe('succeeded');
    // No reload: the card follows her attempt's end and her budget's stop.
    await expect.poll(() => card.locator('#my-budget-level').textContent(), { timeout: 20_000 }).toBe('budget reached');
    expect(await card.locator('#my-budget-spent').textContent()).toBe('$0.2000 of $0.2000');
    expect(await card.locator('.budget-paused').textContent()).toBe('paused');
    expect(await card.locator('#my-budget-note').textContent()).toMatch(/^Budget reached: your tasks that have not started are paused/);
    expect(await card.getByRole('meter', { name: 'My spend' }).getAttribute('aria-valuenow')).toBe('0.2');
    // Bob's card is his own: nothing spent, no budget, nothing of Carol's.
    await bob.reload();
    await expect.poll(() => bob.locator('#my-budget-spent').textContent()).toBe('$0.0000');
    expect(await bob.locator('#my-budget-level').textContent()).toBe('no budget');
    expect(await bob.content()).not.toContain('0.2000');
  }, 90_000);
});
