/**
 * The dashboard in a real browser (Debian's Chromium driven by playwright-core):
 * a real host (both apps, port 0, temp COLONY_HOME) serving the freshly built
 * client from dist/web. Screenshots go to test-artifacts/; with
 * UPDATE_SCREENSHOTS=1 one of each app is also copied to docs/screenshots/ for the README.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHost } from '../../src/server/host-server.js';
import { buildWeb, configOrThrow, launchChromium, requireChromium, ROOT, startWebHost } from '../helpers/e2e-host.js';
import { adminCall, signInLan, submitLan } from '../helpers/lan-browser.js';

const ARTIFACTS = join(ROOT, 'test-artifacts');
const DOCS_SHOTS = join(ROOT, 'docs', 'screenshots');

interface GraphTask {
  id: string;
  prompt: string;
  engine?: string;
  depends_on?: string[];
  workspace?: string;
}

let host: RunningHost;
let browser: Browser;
let home: string;
let workspace: string;
let repo: string; // a git repository: tasks there leave a pending change
const startCwd = process.cwd();
const contexts: BrowserContext[] = [];
/** The admin's page, opened by the first test and kept open (the no-reload marker lives in it). */
let adminPage: Page;

function adminApi<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: T }> {
  return adminCall<T>(host, method, path, body);
}

async function submitGraph(graph: { name: string; tasks: GraphTask[] }): Promise<{ graph_id: string; task_ids: string[] }> {
  const tasks = graph.tasks.map((t) => ({ workspace, ...t }));
  const r = await adminApi<{ graph_id: string; task_ids: string[] }>('POST', '/admin/execute', { graph: { ...graph, tasks } });
  expect(r.status).toBe(201);
  return r.json;
}

async function newPage(viewport = { width: 1440, height: 900 }): Promise<Page> {
  const ctx = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.setDefaultTimeout(45_000); // generous: CI machines are small and may be busy
  return page;
}

async function shot(page: Page, name: string, docsName?: string, fullPage = true): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage, animations: 'disabled' });
  // The README's screenshots are refreshed on request only, so a test run leaves the tree clean.
  if (docsName && process.env['UPDATE_SCREENSHOTS'] === '1') {
    mkdirSync(DOCS_SHOTS, { recursive: true });
    copyFileSync(file, join(DOCS_SHOTS, docsName));
  }
}

/** Records every state class a graph node and every status a worker card shows, so transitions seen live can be asserted afterwards. */
async function recordTransitions(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __seen: { nodes: Record<string, string[]>; workers: Record<string, string[]> } };
    w.__seen = { nodes: {}, workers: {} };
    const note = (bucket: Record<string, string[]>, id: string, v: string): void => {
      const list = (bucket[id] ??= []);
      if (list[list.length - 1] !== v) list.push(v);
    };
    const scan = (): void => {
      for (const n of document.querySelectorAll('g.node[data-task-id]')) {
        const st = [...n.classList].find((c) => c.startsWith('state-'));
        if (st) note(w.__seen.nodes, n.getAttribute('data-task-id') ?? '', st.slice(6));
      }
      for (const c of document.querySelectorAll('.worker-card[data-worker-id]')) {
        const st = c.querySelector('.worker-status')?.textContent ?? '';
        const engine = c.querySelector('.worker-engine')?.textContent ?? '';
        note(w.__seen.workers, c.getAttribute('data-worker-id') ?? '', `${st}|${engine}`);
      }
    };
    scan();
    new MutationObserver(scan).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
  });
}

beforeAll(async () => {
  buildWeb();
  requireChromium();
  home = mkdtempSync(join(tmpdir(), 'colony-e2e-home-'));
  workspace = mkdtempSync(join(tmpdir(), 'colony-e2e-ws-'));
  repo = mkdtempSync(join(tmpdir(), 'colony-e2e-repo-'));
  const git = (...args: string[]): string => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' });
  git('init', '-q', '-b', 'main');
  git('config', 'user.email', 'e2e@colony.invalid');
  git('config', 'user.name', 'colony e2e');
  writeFileSync(join(repo, 'README.md'), '# demo\n');
  git('add', '.');
  git('commit', '-q', '-m', 'init');
  // Tasks submitted without a workspace (the forms, LAN users) run in the host's cwd: keep that a scratch directory, not this repository.
  process.chdir(workspace);
  // worktrees: 'all' so exec tasks in a git workspace also leave a pending change (other workspaces are not repositories).
  // The scratch cwd and the repository are the allowed workspace roots (safety.allowed_roots holds for the admin too).
  const config = configOrThrow({ runner: { worktrees: 'all' }, safety: { allowed_roots: [workspace, repo] } });
  host = await startWebHost({ home, config, concurrency: 2 });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await host?.close(500);
  process.chdir(startCwd);
  for (const d of [home, workspace, repo]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('admin dashboard', () => {
  let page: Page;

  it('updates worker cards and graph node colours live, without a reload, while an example graph runs', async () => {
    page = adminPage = await newPage();
    await page.goto(host.adminTokenUrl);
    expect(new URL(page.url()).search).toBe(''); // the token URL redirects to a clean URL
    await page.locator('.worker-card[data-worker-id="host-1"]').waitFor();
    await page.locator('.conn-live').waitFor();
    await expect.poll(() => page.locator('.worker-card').count()).toBe(2);
    expect(await page.locator('.worker-card[data-worker-id="host-1"] .worker-status').textContent()).toBe('idle');
    await page.evaluate(() => ((window as unknown as { __marker: string }).__marker = 'same-page'));
    await recordTransitions(page);

    const example = JSON.parse(readFileSync(join(ROOT, 'examples', 'release.json'), 'utf8')) as { name: string; tasks: GraphTask[] };
    const { graph_id, task_ids } = await submitGraph(example);
    expect(task_ids).toHaveLength(8);

    // The graph view follows the new run and colours running nodes (the transitions are also recorded above).
    await page.locator(`g.node[data-task-id="${graph_id}:checkout"]`).waitFor();
    await page.locator(`g.node.state-running`).first().waitFor();
    // For the README: a moment with both workers busy, when there is one (build → unit-tests + e2e-tests).
    await page.waitForFunction(() => document.querySelectorAll('.worker-card.status-running').length === 2, null, { timeout: 8_000 }).catch(() => undefined);
    await shot(page, 'admin-running', 'admin.png');

    // Everything succeeds; the nodes turn green and the workers go back to idle.
    await page.waitForFunction((n) => document.querySelectorAll('g.node.state-succeeded').length === n, task_ids.length, { timeout: 60_000 });
    await page.waitForFunction(() => [...document.querySelectorAll('.worker-card .worker-status')].every((s) => s.textContent === 'idle'));

    await expect.poll(() => page.locator('.stat[data-stat="Succeeded"] .stat-value').textContent(), { timeout: 10_000 }).toBe(String(task_ids.length));
    expect(await page.locator('.stat[data-stat="Running"] .stat-value').textContent()).toBe('0');

    const seen = await page.evaluate(() => (window as unknown as { __seen: { nodes: Record<string, string[]>; workers: Record<string, string[]> } }).__seen);
    const build = seen.nodes[`${graph_id}:build`] ?? [];
    expect(build).toContain('running');
    expect(build[build.length - 1]).toBe('succeeded');
    expect(build.indexOf('running')).toBeLessThan(build.lastIndexOf('succeeded'));
    const workerHistories = Object.values(seen.workers);
    expect(workerHistories.some((h) => h.some((v) => v.startsWith('running|exec')) && h[h.length - 1]?.startsWith('idle|'))).toBe(true);

    for (const card of await page.locator('.worker-card').all()) {
      expect(await card.locator('.worker-engine').textContent()).toBe('—'); // idle: no engine (it showed exec while running, above)
      expect(await card.locator('.worker-cost').textContent()).toMatch(/^\$\d+\.\d{4}$/);
      expect(await card.locator('.worker-tokens').textContent()).toMatch(/^\d[\d,]*$/);
      expect(await card.locator('.worker-ip').textContent()).toBe('127.0.0.1');
    }
    // The state colours really differ (CSS classes drive the fill).
    const fills = await page.evaluate(() => {
      const box = document.querySelector('g.node.state-succeeded .node-box');
      return box ? getComputedStyle(box).fill : null;
    });
    expect(fills).toBe('rgb(220, 250, 230)');
    expect(await page.evaluate(() => (window as unknown as { __marker?: string }).__marker)).toBe('same-page');

    // Clicking a task shows its route decision, attempts and output.
    await page.locator(`g.node[data-task-id="${graph_id}:unit-tests"]`).click();
    const drawer = page.locator('#task-drawer');
    await drawer.locator('.route').waitFor();
    expect((await drawer.locator('.route .tag').textContent())?.trim()).not.toBe('');
    expect(await drawer.locator('.route').textContent()).toContain('exec'); // the router's one-line explanation
    await page.waitForFunction(() => (document.querySelector('#task-drawer .output')?.textContent ?? '').includes('42 passed'));
    expect(await drawer.locator('.prompt').textContent()).toContain('running 42 unit tests');
    expect(await drawer.locator('table.attempts > tbody').count()).toBe(1);
    await shot(page, 'admin-task-drawer');
    await page.keyboard.press('Escape');
    await expect.poll(() => drawer.isHidden()).toBe(true);
    await shot(page, 'admin-succeeded');
  }, 150_000);

  it('shows the queue, costs, audit and approvals views', async () => {
    await page.locator('a.tab[href="#queue"]').click();
    await page.locator('#panel-queue .tasks-table tbody tr[data-task-id]').first().waitFor();
    expect(await page.locator('#panel-queue .tasks-table tbody tr[data-task-id]').count()).toBeGreaterThanOrEqual(8);
    await page.locator('#panel-queue input[type=search]').fill('unit tests');
    await expect.poll(() => page.locator('#panel-queue tbody tr[data-task-id]').count()).toBe(1);
    await shot(page, 'admin-queue');
    await page.locator('a.tab[href="#costs"]').click();
    await page.locator('#panel-costs .uplot').first().waitFor();
    await shot(page, 'admin-costs');
    await page.locator('a.tab[href="#audit"]').click();
    await page.locator('#panel-audit .verify-ok').waitFor();
    expect(await page.locator('#panel-audit .audit-table tbody tr').count()).toBeGreaterThan(10);
    await shot(page, 'admin-audit', undefined, false);
    await page.locator('a.tab[href="#approvals"]').click();
    await page.locator('#pending-tasks .empty').waitFor();
    await page.locator('a.tab[href="#submit"]').click();
    await page.locator('#submit-graph-form').waitFor();
    await shot(page, 'admin-submit');

    // Errors come back as {code, message} and are shown next to the form.
    const graphForm = page.locator('#submit-graph-form');
    await graphForm.locator('textarea').fill('{ "name": "bad", ');
    await graphForm.getByRole('button', { name: 'Submit graph' }).click();
    expect(await graphForm.locator('.inline-error code').textContent()).toBe('E_BAD_JSON');
    await graphForm.locator('textarea').fill(
      JSON.stringify({
        name: 'loop',
        tasks: [
          { id: 'a', prompt: 'true', depends_on: ['b'] },
          { id: 'b', prompt: 'true', depends_on: ['a'] },
        ],
      }),
    );
    await graphForm.getByRole('button', { name: 'Submit graph' }).click();
    await graphForm.locator('.inline-error', { hasText: 'a' }).waitFor();
    expect(await graphForm.locator('.inline-error code').textContent()).toMatch(/^E_[A-Z_]+$/);
    expect(await graphForm.locator('.inline-error').textContent()).toMatch(/cycle/i);

    // A single task from the form opens its drawer, where its output streams in.
    const taskForm = page.locator('#submit-task-form');
    await taskForm.locator('textarea[name=prompt]').fill('echo from-the-form');
    await taskForm.locator('select[name=engine]').selectOption('exec');
    await taskForm.getByRole('button', { name: 'Submit task' }).click();
    await page.waitForFunction(() => (document.querySelector('#task-drawer .output')?.textContent ?? '').includes('from-the-form'));
    await page.keyboard.press('Escape');
    await page.locator('a.tab[href="#overview"]').click();
  }, 150_000);

  it('shows a pending change with its diff, and approving it merges the file', async () => {
    const { task_ids } = await submitGraph({
      name: 'edit',
      tasks: [{ id: 'greet', engine: 'exec', prompt: "printf 'hello from colony\\n' > hello.txt", workspace: repo }],
    });
    const id = task_ids[0] ?? '';
    await page.locator('a.tab[href="#approvals"]').click();
    const change = page.locator(`#pending-changes .approval[data-change-id="${id}"]`);
    await change.waitFor();
    await change.locator('.diff-add', { hasText: 'hello from colony' }).waitFor();
    expect(await change.locator('.file-list').textContent()).toContain('hello.txt');
    await shot(page, 'admin-pending-change');
    // "Request changes" sends the comment to the host; a shell task has no agent session to continue, so the host says so in the card.
    await change.getByRole('button', { name: 'Request changes' }).click();
    await change.locator('textarea').fill('Please say goodbye too.');
    await change.getByRole('button', { name: 'Send to the agent' }).click();
    await change.locator('.inline-error', { hasText: 'was not run by an agent' }).waitFor();
    await change.getByRole('button', { name: 'Approve and merge' }).click();
    await page.locator('dialog.dialog [data-confirm]').click();
    await change.waitFor({ state: 'detached' });
    expect(execFileSync('git', ['-C', repo, 'show', 'main:hello.txt'], { encoding: 'utf8' })).toBe('hello from colony\n');
    await page.locator('a.tab[href="#overview"]').click();
  }, 150_000);

  it('kill cancels the running tasks and the page shows the host halted', async () => {
    const { graph_id } = await submitGraph({
      name: 'long',
      tasks: [
        { id: 'sleep-a', engine: 'exec', prompt: 'sleep 120' },
        { id: 'sleep-b', engine: 'exec', prompt: 'sleep 120' },
        { id: 'after', engine: 'exec', prompt: 'echo after', depends_on: ['sleep-a'] },
      ],
    });
    await page.locator(`g.node.state-running[data-task-id="${graph_id}:sleep-a"]`).waitFor();
    await page.locator(`g.node.state-running[data-task-id="${graph_id}:sleep-b"]`).waitFor();

    await page.locator('#btn-kill').click();
    const dialog = page.locator('dialog.dialog');
    await dialog.waitFor();
    await dialog.locator('[data-confirm]').click();

    await page.locator('#killswitch-state', { hasText: 'halted' }).waitFor();
    await page.locator('#halt-banner', { hasText: 'Halted' }).waitFor();
    await page.locator(`g.node.state-cancelled[data-task-id="${graph_id}:sleep-a"]`).waitFor({ timeout: 45_000 });
    await page.locator(`g.node.state-cancelled[data-task-id="${graph_id}:sleep-b"]`).waitFor();
    await page.waitForFunction(() => [...document.querySelectorAll('.worker-card .worker-status')].every((s) => s.textContent === 'idle'));
    expect(await page.locator('g.node.state-running').count()).toBe(0);
    expect(host.host.killswitch.state()).toBe('halted');
    expect(host.host.store.getTask(`${graph_id}:sleep-a`)?.state).toBe('cancelled');
    expect(await page.locator('#btn-kill').isDisabled()).toBe(true);
    await shot(page, 'admin-halted');

    await page.locator('#btn-resume').click();
    await dialog.locator('[data-confirm]').click();
    await page.locator('#killswitch-state', { hasText: 'running' }).waitFor();
    expect(host.host.killswitch.state()).toBe('running');
    expect(await page.evaluate(() => (window as unknown as { __marker?: string }).__marker)).toBe('same-page');
  }, 150_000);
});

describe('user dashboard (LAN app)', () => {
  const marker = `private-marker-${randomBytes(6).toString('hex')}`;
  let pageA: Page;
  let pageB: Page;
  let hostTaskId = '';

  const signIn = (page: Page, name: string): Promise<void> => signInLan(page, host.userUrl ?? '', name);
  const submit = submitLan;

  it('lets a user pick a display name, submit a task and see it in "my tasks"', async () => {
    pageA = await newPage({ width: 1280, height: 860 });
    await signIn(pageA, 'Ada');
    await submit(pageA, `echo ${marker}-mine`, 'own-worker');
    const mine = pageA.locator('#my-tasks .my-task', { hasText: `${marker}-mine` });
    await mine.waitFor();
    expect(await mine.locator('.pill').textContent()).toMatch(/ready|waiting|assigned/);

    // A task for the host waits for the admin; once approved it runs and its output streams into my tasks.
    await submit(pageA, `echo ${marker}-host`, 'host');
    const hostCard = pageA.locator('#my-tasks .my-task', { hasText: `${marker}-host` });
    await hostCard.locator('.pill.state-awaiting_approval').waitFor();
    hostTaskId = (await hostCard.getAttribute('data-task-id')) ?? '';
    expect(hostTaskId).not.toBe('');
  }, 150_000);

  it('gives a user a one-time pairing code and the command to run on their machine', async () => {
    await pageA.locator('a.tab[href="#my-workers"]').click();
    await pageA.locator('#my-workers-list .empty', { hasText: 'No workers yet' }).waitFor();
    // What the visitor's machine needs, before any code: Node.js 20, bubblewrap on Linux (with the install lines), no Windows.
    const needs = (await pageA.locator('#machine-needs').innerText()).replace(/\s+/g, ' ');
    expect(needs).toContain('Node.js 20 or later.');
    expect(needs).toContain(
      'Linux: bubblewrap, the sandbox every task runs in — sudo apt-get install bubblewrap (Debian, Ubuntu) or sudo dnf install bubblewrap (Fedora).',
    );
    expect(needs).toContain('macOS: nothing more; tasks run in the built-in sandbox-exec');
    expect(needs).toContain('Windows: not supported');
    await pageA.locator('#get-pairing-code').click();
    const code = (await pageA.locator('#pairing-code').textContent()) ?? '';
    expect(code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    const command = (await pageA.locator('#pairing-command').textContent()) ?? '';
    // A machine with only Node.js: the command downloads the worker from the host and checks its sha256 (issue 22).
    expect(command).toMatch(new RegExp(`^node -e '[^']+' http://127\\.0\\.0\\.1:\\d+ ${code} [0-9a-f]{64}$`));
    const colony = (await pageA.locator('#pairing-command-colony').textContent()) ?? '';
    expect(colony).toMatch(/^colony worker --host http:\/\/127\.0\.0\.1:\d+ /);
    expect(colony).toContain(`--code ${code}`);
    await pageA.locator('.pairing-code', { hasText: 'expires in' }).waitFor();
    await shot(pageA, 'user-pairing');
    await pageA.locator('a.tab[href="#my-tasks"]').click();
  }, 150_000);

  it('hides admin controls from the user page, and the admin API refuses it anyway', async () => {
    const adminBits = await pageA.evaluate(
      () => document.querySelectorAll('#btn-kill, #btn-pause, #btn-resume, #submit-graph-form, #panel-audit, #panel-sessions, #panel-approvals').length,
    );
    expect(adminBits).toBe(0);
    expect(await pageA.getByRole('button', { name: /kill|pause|resume|approve|revoke/i }).count()).toBe(0);
    const scripts = await pageA.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name));
    expect(scripts.some((s) => /\/chunks\/admin-/.test(s))).toBe(false);
    expect(await pageA.evaluate(() => document.querySelector('meta[name="colony-capability"]')?.getAttribute('content'))).toBe('user');

    // The user app has no admin route at all…
    const onUserApp = await pageA.evaluate(async () => {
      const r = await fetch('/admin/kill', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      return { status: r.status, body: (await r.json()) as { code: string } };
    });
    expect(onUserApp.status).toBe(404);
    expect(onUserApp.body.code).toBe('E_NOT_FOUND');
    // …the user page's CSP (connect-src 'self') does not even let it call the admin app…
    const blocked = await pageA.evaluate(async (url) => {
      try {
        await fetch(url, { method: 'POST', mode: 'no-cors', credentials: 'include', body: '{}' });
        return false;
      } catch {
        return true;
      }
    }, new URL('/admin/kill', host.adminUrl).toString());
    expect(blocked).toBe(true);
    // …and the admin app refuses a cross-origin call from a page without that CSP (no token, foreign Origin).
    const other = await pageA.context().newPage();
    await other.evaluate(async (url) => {
      await fetch(url, { method: 'POST', mode: 'no-cors', credentials: 'include', body: '{}' }).catch(() => undefined);
    }, new URL('/admin/kill', host.adminUrl).toString());
    await other.close();
    expect(host.host.killswitch.state()).toBe('running');
    const refused = host.host.store.listAudit({ action: 'admin.refused', limit: 5 });
    expect(refused.some((r) => r.target === '/admin/kill')).toBe(true);
  }, 150_000);

  it("shows another user only redacted activity: never the first user's task text", async () => {
    pageB = await newPage({ width: 1280, height: 860 });
    await signIn(pageB, 'Bob');
    await pageB.locator('#my-tasks .empty').waitFor();

    // The admin approves Ada's host task in the Approvals tab: it runs on a host worker while Bob watches.
    await adminPage.locator('a.tab[href="#approvals"]').click();
    const pending = adminPage.locator(`#pending-tasks .approval[data-task-id="${hostTaskId}"]`);
    await pending.waitFor();
    expect(await adminPage.locator('a.tab[href="#approvals"] .badge').textContent()).toBe('1');
    await shot(adminPage, 'admin-approvals');
    await pending.getByRole('button', { name: 'Approve' }).click();
    await adminPage.locator('dialog.dialog [data-confirm]').click();
    await pending.waitFor({ state: 'detached' });
    await pageA.locator(`#my-tasks .my-task[data-task-id="${hostTaskId}"] .pill.state-succeeded`).waitFor({ timeout: 45_000 });
    await pageA.waitForFunction(
      (m) =>
        (document.querySelector('#my-tasks')?.textContent ?? '').includes(`${m}-host\n`) ||
        (document.querySelector('#my-tasks')?.textContent ?? '').includes(`${m}-host`),
      marker,
    );

    // Ada's output is there for Ada (positive control) …
    await pageA.locator(`#my-tasks .my-task[data-task-id="${hostTaskId}"] .task-link`).click();
    await pageA.waitForFunction((m) => (document.querySelector('#task-drawer .output')?.textContent ?? '').includes(`${m}-host`), marker);
    await pageA.keyboard.press('Escape');

    // … while Bob saw the activity only in redacted form.
    await pageB.locator('a.tab[href="#overview"]').click();
    await pageB.locator('.activity-item.other', { hasText: 'someone’s task' }).first().waitFor();
    for (const tab of ['overview', 'my-tasks', 'my-workers']) {
      await pageB.locator(`a.tab[href="#${tab}"]`).click();
      expect(await pageB.content()).not.toContain(marker);
    }
    expect(await pageB.evaluate(() => document.body.innerText)).not.toContain(marker);
    const theirs = await pageB.evaluate(async (id) => (await fetch(`/api/tasks/${encodeURIComponent(id)}`)).status, hostTaskId);
    expect(theirs).toBe(404);
    await pageB.locator('a.tab[href="#overview"]').click();
    await shot(pageB, 'user-other-redacted');

    // Ada's page for the README.
    await pageA.locator('a.tab[href="#my-tasks"]').click();
    await shot(pageA, 'user-my-tasks', 'user.png');
    await pageA.locator('a.tab[href="#overview"]').click();
    await shot(pageA, 'user-colony');
  }, 150_000);

  it('lets the admin grant view_all to a LAN user from the sessions view', async () => {
    await adminPage.locator('a.tab[href="#sessions"]').click();
    const bob = adminPage.locator('.sessions-table tr', { hasText: 'Bob' });
    await bob.waitFor();
    expect(await adminPage.locator('.sessions-table tr', { hasText: 'Ada' }).count()).toBe(1);
    const bobId = (await bob.getAttribute('data-user-id')) ?? '';
    expect(await pageB.evaluate(async (id) => (await fetch(`/api/tasks/${encodeURIComponent(id)}`)).status, hostTaskId)).toBe(404);

    await bob.locator('input[data-permission="view_all"]').check();
    await adminPage.locator('.notice-text', { hasText: /^Permissions of Bob: .*view_all$/ }).waitFor();
    const bobSession = (await adminApi<{ sessions: { user_id: string; permissions: string[] }[] }>('GET', '/admin/sessions')).json.sessions.find(
      (x) => x.user_id === bobId,
    );
    expect(bobSession?.permissions).toContain('view_all');
    expect(await pageB.evaluate(async (id) => (await fetch(`/api/tasks/${encodeURIComponent(id)}`)).status, hostTaskId)).toBe(200);
    await shot(adminPage, 'admin-sessions');

    await bob.locator('input[data-permission="view_all"]').uncheck();
    await adminPage.locator('.notice-text', { hasText: /^Permissions of Bob: view, submit_task, view_own_sessions$/ }).waitFor();
    expect(await pageB.evaluate(async (id) => (await fetch(`/api/tasks/${encodeURIComponent(id)}`)).status, hostTaskId)).toBe(404);
    expect(await adminPage.evaluate(() => (window as unknown as { __marker?: string }).__marker)).toBe('same-page');
  }, 150_000);

  it('is usable at phone width', async () => {
    const phone = await newPage({ width: 390, height: 844 });
    await signIn(phone, 'Cy');
    await phone.locator('#user-submit-form').waitFor();
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(1);
    await shot(phone, 'user-phone');
    const admin = await newPage({ width: 390, height: 844 });
    await admin.goto(host.adminTokenUrl);
    await admin.locator('.worker-card').first().waitFor();
    const adminOverflow = await admin.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(adminOverflow).toBeLessThanOrEqual(1);
    await shot(admin, 'admin-phone');
  }, 150_000);
});
