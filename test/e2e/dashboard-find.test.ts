/**
 * The dashboard for the people watching it (issue 18), in Debian's Chromium:
 * finding tasks (text, state, engine, user, run; deep links), the approve
 * confirmation, first-visit fixes (task names, failed counts, idle workers,
 * the sign-in page, phone layout), the graph's list alternative, visible
 * focus, and an axe-core 4.14 scan of both apps (no serious or critical
 * violations). A real host on 127.0.0.1 (port 0) serves the built client.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHost } from '../../src/server/host-server.js';
import { buildWeb, configOrThrow, launchChromium, ROOT, startWebHost } from '../helpers/e2e-host.js';
import { waitFor } from '../helpers/proc.js';
import { adminCall, signInLan, submitLan } from '../helpers/lan-browser.js';

const ARTIFACTS = join(ROOT, 'test-artifacts');
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const PHONE = { width: 390, height: 844 };

let host: RunningHost;
let browser: Browser;
let home: string;
let workspace: string;
const startCwd = process.cwd();
const contexts: BrowserContext[] = [];

function adminApi<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: T }> {
  return adminCall<T>(host, method, path, body);
}

async function newPage(viewport = { width: 1440, height: 900 }): Promise<Page> {
  // bypassCSP: the apps' CSP (script-src 'self') would refuse the injected axe.min.js.
  const ctx = await browser.newContext({ viewport, deviceScaleFactor: 1, bypassCSP: true });
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.setDefaultTimeout(45_000);
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true, animations: 'disabled' });
}

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** Runs axe-core in the page; returns the serious and critical violations, described for the failure message. */
async function axeSerious(page: Page, where: string): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: AXE });
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, o: object) => Promise<{ violations: AxeViolation[] }> } }).axe;
    return (await axe.run(document, { resultTypes: ['violations'] })).violations;
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${where}: ${v.id} (${v.impact}) ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(' | ')}`);
}

async function signIn(page: Page, name: string): Promise<void> {
  await signInLan(page, host.userUrl ?? '', name);
}

async function userSubmit(page: Page, prompt: string, target: 'own-worker' | 'host'): Promise<string> {
  await submitLan(page, prompt, target);
  const card = page.locator('#my-tasks .my-task', { hasText: prompt });
  await card.waitFor();
  return (await card.getAttribute('data-task-id')) ?? '';
}

const terminal = new Set(['succeeded', 'failed', 'cancelled', 'timed_out', 'upstream_failed', 'skipped']);
async function settled(ids: string[]): Promise<void> {
  await waitFor(() => ids.every((id) => terminal.has(host.host.store.getTask(id)?.state ?? '')), `tasks ${ids.join(', ')} to end`, 60_000, 100);
}

let adaPage: Page;
let adaTask = ''; // Ada's task for her own worker (none is paired: it stays queued)
let adaHostTask = ''; // Ada's task for the host: waits for the admin
let graphId = '';
let formTaskId = '';

beforeAll(async () => {
  buildWeb();
  home = mkdtempSync(join(tmpdir(), 'colony-e2e-find-'));
  workspace = mkdtempSync(join(tmpdir(), 'colony-e2e-find-ws-'));
  process.chdir(workspace);
  host = await startWebHost({ home, config: configOrThrow({ safety: { allowed_roots: [workspace] } }), concurrency: 2 });
  browser = await launchChromium();

  // Tasks to find: a graph with a failure and its downstream, a task from the admin's form, and a LAN user's tasks.
  const g = await adminApi<{ graph_id: string; task_ids: string[] }>('POST', '/admin/execute', {
    graph: {
      name: 'findable',
      tasks: [
        { id: 'build', engine: 'exec', prompt: 'echo building the widget', workspace },
        { id: 'flaky', engine: 'exec', prompt: 'echo flaky check >&2; exit 3', workspace },
        { id: 'ship', engine: 'exec', prompt: 'echo shipping', depends_on: ['build', 'flaky'], workspace },
      ],
    },
  });
  expect(g.status).toBe(201);
  graphId = g.json.graph_id;
  const single = await adminApi<{ graph_id: string; task_ids: string[] }>('POST', '/admin/execute', {
    prompt: 'echo hello from the form',
    engine: 'exec',
    workspace,
  });
  expect(single.status).toBe(201);
  formTaskId = single.json.task_ids[0] ?? '';
  await settled([...g.json.task_ids, formTaskId]);

  adaPage = await newPage({ width: 1280, height: 860 });
  await signIn(adaPage, 'Ada');
  adaTask = await userSubmit(adaPage, 'echo ada-needle', 'own-worker');
  adaHostTask = await userSubmit(adaPage, 'echo run-me-on-the-host && echo second line', 'host');
}, 180_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await host?.close(500);
  process.chdir(startCwd);
  for (const d of [home, workspace]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('finding tasks', () => {
  it('names a task from its prompt, not "task"', async () => {
    expect(formTaskId).toMatch(/^echo-hello-from-the-form-[0-9a-f]+:echo-hello-from-the-form$/);
    expect(host.host.store.getTask(formTaskId)?.title).toBe('echo hello from the form');
  });

  it('filters by engine and submitter on the server, and lists the values to pick', async () => {
    const ada = host.host.store.getTask(adaTask)?.submitted_by ?? '';
    expect(ada).toMatch(/^session:/);
    const byAda = await adminApi<{ tasks: { id: string }[] }>('GET', `/admin/tasks?submitted_by=${encodeURIComponent(ada)}`);
    expect(byAda.status).toBe(200);
    expect(byAda.json.tasks.map((t) => t.id).sort()).toEqual([adaTask, adaHostTask].sort());
    const exec = await adminApi<{ tasks: { id: string }[] }>('GET', '/admin/tasks?engine=exec&submitted_by=admin');
    expect(exec.json.tasks).toHaveLength(4);
    expect((await adminApi<{ tasks: unknown[] }>('GET', '/admin/tasks?engine=claude')).json.tasks).toHaveLength(0);
    const facets = await adminApi<{ engines: { value: string; n: number }[]; submitters: { value: string; n: number }[] }>('GET', '/admin/task-facets');
    expect(facets.json.engines).toEqual([{ value: 'exec', n: 6 }]);
    expect(facets.json.submitters.map((s) => s.value)).toContain('admin');
    expect(facets.json.submitters.find((s) => s.value.startsWith('session:'))?.n).toBe(2);
    const bad = await adminApi<{ code: string }>('GET', '/admin/tasks?colour=red');
    expect(bad.status).toBe(400);
  });

  it('filters the queue by text, state, engine, user and run, and links to a filtered queue and to a task', async () => {
    const page = await newPage();
    await page.goto(host.adminTokenUrl);
    await page.locator('.conn-live').waitFor();
    await page.locator('a.tab[href="#queue"]').click();
    const rows = page.locator('#panel-queue tbody tr[data-task-id]');
    await expect.poll(() => rows.count()).toBe(6);

    const form = page.locator('#panel-queue form.filters');
    const control = (label: string) =>
      form.locator('label.field', { has: page.locator('.field-label', { hasText: new RegExp(`^${label}$`) }) }).locator('select, input');
    await control('Submitted by').selectOption({ label: 'Ada (2)' });
    await expect.poll(() => rows.count()).toBe(2);
    await control('Search').fill('needle');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-task-id')).toBe(adaTask);
    await form.getByRole('button', { name: 'Clear filters' }).click();
    await expect.poll(() => rows.count()).toBe(6);
    await control('Engine').selectOption('exec');
    await control('State').selectOption('failed');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-task-id')).toBe(`${graphId}:flaky`);
    await control('State').selectOption('');
    await control('Run').selectOption(graphId);
    await expect.poll(() => rows.count()).toBe(3);
    await shot(page, 'find-queue');

    // Opening a task puts a link to it in the address bar; closing puts the previous one back.
    await rows.first().locator('.task-link').click();
    await page.locator('#task-drawer .detail-id').waitFor();
    const opened = (await page.locator('#task-drawer .detail-id').textContent()) ?? '';
    expect(decodeURIComponent(new URL(page.url()).hash)).toBe(`#task=${opened}`);
    expect(await page.locator('#task-drawer a.detail-link').getAttribute('href')).toBe(`#task=${encodeURIComponent(opened)}`);
    await page.keyboard.press('Escape');
    await expect.poll(() => new URL(page.url()).hash).toBe('#queue');
    expect(await page.locator('#panel-queue').isVisible()).toBe(true);

    // A link to a filtered queue, and a link to a task, opened fresh.
    const linked = await newPage();
    await linked.goto(host.adminTokenUrl);
    await linked.locator('.conn-live').waitFor();
    await linked.goto(new URL(`/#queue?state=upstream_failed&graph_id=${graphId}`, host.adminUrl).toString());
    const linkedRows = linked.locator('#panel-queue tbody tr[data-task-id]');
    await expect.poll(() => linkedRows.count()).toBe(1);
    expect(await linkedRows.first().getAttribute('data-task-id')).toBe(`${graphId}:ship`);
    await linked.goto(new URL(`/#task=${encodeURIComponent(`${graphId}:flaky`)}`, host.adminUrl).toString());
    await linked.reload();
    await linked.locator('#task-drawer .detail-id', { hasText: `${graphId}:flaky` }).waitFor();
    await linked.waitForFunction(() => (document.querySelector('#task-drawer .output')?.textContent ?? '').includes('flaky check'));
    // A malformed link opens nothing and breaks nothing.
    await linked.goto(new URL('/#task=%E0%A4%A', host.adminUrl).toString());
    await linked.reload();
    await linked.locator('.conn-live').waitFor();
    expect(await linked.locator('#task-drawer').isHidden()).toBe(true);
  }, 120_000);
});

describe('first visit', () => {
  it('counts failed and upstream-failed tasks the way the graph does, and idle workers show no engine', async () => {
    const page = await newPage();
    await page.goto(host.adminTokenUrl);
    await page.locator('#graph-select').selectOption(graphId);
    await page.locator(`g.node.state-upstream_failed[data-task-id="${graphId}:ship"]`).waitFor();
    const counts = (await page.locator('.graph-counts').textContent()) ?? '';
    expect(counts).toContain('1 failed');
    expect(counts).toContain('1 upstream failed');
    await expect.poll(() => page.locator('.stat[data-stat="Failed"] .stat-value').textContent()).toBe('1');
    expect(await page.locator('.stat[data-stat="Upstream failed"] .stat-value').textContent()).toBe('1');
    for (const card of await page.locator('.worker-card.status-idle').all()) expect(await card.locator('.worker-engine').textContent()).toBe('—');
    expect(await page.locator('.worker-card.status-idle').count()).toBe(2);
    // The stat values line up even where a label wraps.
    const bottoms = await page.locator('.stat .stat-value').evaluateAll((els) => els.map((e) => Math.round(e.getBoundingClientRect().bottom)));
    expect(new Set(bottoms).size).toBe(1);
  });

  it('shows a styled sign-in page that says how to get in, without the token', async () => {
    const page = await newPage();
    const res = await page.goto(host.adminUrl);
    expect(res?.status()).toBe(401);
    const text = (await page.locator('main').textContent()) ?? '';
    expect(text).toContain('colony open');
    expect(text).toContain('as long as the host keeps the same token');
    expect(text).not.toMatch(/carries the token once/);
    expect(await page.evaluate(() => getComputedStyle(document.querySelector('.signin-card') as Element).borderRadius)).not.toBe('0px');
    expect(await axeSerious(page, 'sign-in page')).toEqual([]);
    const bad = await page.goto(new URL('/?token=not-the-token', host.adminUrl).toString());
    expect(bad?.status()).toBe(401);
    await page.locator('h1', { hasText: 'That admin link is not valid' }).waitFor();
  });

  it('asks before approving a LAN task, showing the exact command, target, submitter and findings', async () => {
    const page = await newPage();
    await page.goto(host.adminTokenUrl);
    await page.locator('a.tab[href="#approvals"]').click();
    const card = page.locator(`#pending-tasks .approval[data-task-id="${adaHostTask}"]`);
    await card.getByRole('button', { name: 'Approve' }).click();
    const dialog = page.locator('dialog.dialog');
    await dialog.waitFor();
    expect(await dialog.locator('.approve-command').textContent()).toBe('echo run-me-on-the-host && echo second line');
    expect(await dialog.locator('.approve-target').textContent()).toBe('host');
    expect(await dialog.locator('.approve-who').textContent()).toBe('Ada');
    expect((await dialog.locator('.approve-workspace').textContent())?.length).toBeGreaterThan(1);
    expect(await dialog.locator('.approve-summary').textContent()).toMatch(/Safety screens.*(no findings|needs your approval|not run yet)/s);
    expect(await axeSerious(page, 'approve dialog')).toEqual([]);
    await shot(page, 'approve-confirm');
    // Cancel leaves it waiting; confirm runs it.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(host.host.store.getTask(adaHostTask)?.state).toBe('awaiting_approval');
    await card.getByRole('button', { name: 'Approve' }).click();
    await dialog.getByRole('button', { name: 'Approve and run' }).click();
    await card.waitFor({ state: 'detached' });
    await settled([adaHostTask]);
    expect(host.host.store.getTask(adaHostTask)?.state).toBe('succeeded');
  }, 90_000);

  it('shows a finished task with its output, and output streamed while the drawer is open', async () => {
    const page = await newPage();
    await page.goto(host.adminTokenUrl);
    await page.locator('.conn-live').waitFor();
    await page.goto(new URL(`/#task=${encodeURIComponent(`${graphId}:build`)}`, host.adminUrl).toString());
    await page.locator('#task-drawer .detail-state.state-succeeded').waitFor();
    await page.waitForFunction(() => (document.querySelector('#task-drawer .output')?.textContent ?? '').includes('building the widget'));
    const r = await adminApi<{ task_ids: string[] }>('POST', '/admin/execute', { prompt: 'echo early; sleep 1.5; echo late', engine: 'exec', workspace });
    const id = r.json.task_ids[0] ?? '';
    await page.goto(new URL(`/#task=${encodeURIComponent(id)}`, host.adminUrl).toString());
    await page.locator('#task-drawer .detail-state.state-succeeded').waitFor({ timeout: 30_000 });
    await page.waitForFunction(() => /early\s+late/.test(document.querySelector('#task-drawer .output')?.textContent ?? ''));
  }, 60_000);
});

describe('accessible', () => {
  it('offers the graph as a list, keeps focus visible and labels every control', async () => {
    const page = await newPage();
    await page.goto(host.adminTokenUrl);
    await page.locator('#graph-select').selectOption(graphId);
    await page.locator(`g.node[data-task-id="${graphId}:ship"]`).waitFor();
    const toggle = page.getByRole('button', { name: 'Show as list' });
    await toggle.click();
    expect(await page.locator('#graph-as-list').getAttribute('aria-pressed')).toBe('true');
    const items = page.locator('#graph-list li');
    expect(await items.count()).toBe(3);
    expect((await items.allTextContents()).map((t) => t.split(' ')[0])).toEqual(['build', 'flaky', 'ship']); // dependency order
    expect(await items.nth(2).textContent()).toContain('after build, flaky');
    expect(await items.nth(2).locator('.pill').textContent()).toBe('upstream failed');
    expect(await page.locator('.graph-canvas').isHidden()).toBe(true);
    await items.nth(1).getByRole('button').click();
    await page.locator('#task-drawer .detail-id', { hasText: `${graphId}:flaky` }).waitFor();
    await page.keyboard.press('Escape');

    // Keyboard focus is visible on links, buttons and form controls.
    await page.locator('a.tab[href="#queue"]').click();
    for (const sel of ['#panel-queue input[type=search]', '#panel-queue select', '#graph-as-list', 'a.tab[href="#costs"]']) {
      await page.locator(sel).first().focus();
      await page.keyboard.press('Shift+Tab');
      await page.keyboard.press('Tab');
      const outline = await page.evaluate(() => {
        const s = getComputedStyle(document.activeElement as Element);
        return { style: s.outlineStyle, width: parseFloat(s.outlineWidth) };
      });
      expect(outline.style, sel).not.toBe('none');
      expect(outline.width, sel).toBeGreaterThanOrEqual(2);
    }
    // Every form control has an accessible name (axe checks it too; this names the control when it fails).
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('input, select, textarea, button')]
        .filter((el) => {
          const e = el as HTMLInputElement;
          return !(
            e.labels?.length ||
            e.getAttribute('aria-label') ||
            e.getAttribute('aria-labelledby') ||
            (el.tagName === 'BUTTON' && el.textContent?.trim())
          );
        })
        .map((el) => el.outerHTML.slice(0, 120)),
    );
    expect(unlabelled).toEqual([]);
  }, 60_000);

  it('has no serious or critical axe-core violations in either app', async () => {
    const problems: string[] = [];
    const page = await newPage();
    await page.goto(host.adminTokenUrl);
    await page.locator('.conn-live').waitFor();
    await page.locator('.worker-card').first().waitFor();
    for (const tab of ['overview', 'queue', 'costs', 'submit', 'approvals', 'sessions', 'audit', 'router']) {
      await page.locator(`a.tab[href="#${tab}"]`).click();
      await page.waitForTimeout(400); // the tab's data loads; axe judges what is rendered
      problems.push(...(await axeSerious(page, `admin #${tab}`)));
    }
    await page.locator('a.tab[href="#overview"]').click();
    await page.locator('#graph-as-list').click();
    problems.push(...(await axeSerious(page, 'admin graph list')));
    await page.goto(new URL(`/#task=${encodeURIComponent(`${graphId}:flaky`)}`, host.adminUrl).toString());
    await page.reload();
    await page.locator('#task-drawer table.attempts').waitFor();
    problems.push(...(await axeSerious(page, 'admin task drawer')));

    for (const tab of ['my-tasks', 'overview', 'my-workers']) {
      await adaPage.locator(`a.tab[href="#${tab}"]`).click();
      await adaPage.waitForTimeout(400);
      problems.push(...(await axeSerious(adaPage, `LAN #${tab}`)));
    }
    const visitor = await newPage();
    await visitor.goto(new URL('/dashboard', host.userUrl ?? '').toString());
    await visitor.locator('#session-form').waitFor();
    problems.push(...(await axeSerious(visitor, 'LAN first visit')));
    expect(problems).toEqual([]);
  }, 120_000);
});

describe('at phone width', () => {
  it('hints that the tabs scroll and keeps cost, tokens and time of attempts visible', async () => {
    const page = await newPage(PHONE);
    await page.goto(host.adminTokenUrl);
    await page.locator('.worker-card').first().waitFor();
    const nav = page.locator('nav.tabs');
    await expect.poll(() => nav.getAttribute('class')).toContain('tabs-more-right');
    expect(await nav.getAttribute('class')).not.toContain('tabs-more-left');
    await page.locator('a.tab[href="#router"]').click();
    await expect.poll(() => nav.getAttribute('class')).toContain('tabs-more-left');
    const tabBox = await page.locator('a.tab[href="#router"]').boundingBox();
    expect((tabBox?.x ?? -1) + (tabBox?.width ?? 0)).toBeLessThanOrEqual(PHONE.width); // the current tab is scrolled into view
    expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(1);

    await page.goto(new URL(`/#task=${encodeURIComponent(`${graphId}:flaky`)}`, host.adminUrl).toString());
    await page.reload();
    const row = page.locator('#task-drawer table.attempts tbody tr').first();
    await row.waitFor();
    for (const label of ['Cost', 'Tokens', 'Time']) {
      const cell = row.locator(`td[data-label="${label}"]`);
      const box = await cell.boundingBox();
      expect(box, label).not.toBeNull();
      expect((box?.x ?? 0) + (box?.width ?? 0), label).toBeLessThanOrEqual(PHONE.width + 1);
      expect(await cell.isVisible(), label).toBe(true);
    }
    await shot(page, 'phone-attempts');
    await page.keyboard.press('Escape');
    await page.locator('a.tab[href="#overview"]').click();
    await page.locator('#graph-as-list').click();
    await page.locator('#graph-list li').first().waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(1);
    await shot(page, 'phone-overview');
    expect(await axeSerious(page, 'admin at phone width')).toEqual([]);
    const lan = await newPage(PHONE);
    await signIn(lan, 'Cy');
    expect(await axeSerious(lan, 'LAN app at phone width')).toEqual([]);
  }, 60_000);
});
