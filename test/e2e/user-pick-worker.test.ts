/**
 * A LAN user with several paired workers picks one by name in the task form
 * (Debian's Chromium, a real host serving the built client, two in-process
 * worker agents paired over real HTTP/WebSocket): the task is sent to that
 * worker and no other. From the attacker's side: another user's form never
 * lists those workers, and a submission forged from that user's page naming
 * one of them is refused exactly like an unknown worker, nothing stored.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHost } from '../../src/server/host-server.js';
import { buildWeb, configOrThrow, launchChromium, startWebHost } from '../helpers/e2e-host.js';
import { signInLan } from '../helpers/lan-browser.js';
import { waitFor } from '../helpers/proc.js';
import { startAgent, type RemoteTestHost, type Session, type TestAgent } from '../helpers/remote-host.js';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
let host: RunningHost;
let browser: Browser;
let home: string;
let agentsDir: string;
const contexts: BrowserContext[] = [];
const agents: TestAgent[] = [];

beforeAll(async () => {
  buildWeb();
  home = mkdtempSync(join(tmpdir(), 'colony-e2e-pick-'));
  agentsDir = mkdtempSync(join(tmpdir(), 'colony-e2e-pick-agents-'));
  host = await startWebHost({ home, config: configOrThrow({}) });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  for (const a of agents) await a.stop().catch(() => undefined);
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await host?.close(500);
  for (const d of [home, agentsDir]) if (d) rmSync(d, { recursive: true, force: true });
});

async function userPage(name: string): Promise<{ page: Page; session: Session }> {
  // bypassCSP: the apps' CSP (script-src 'self') would refuse the injected axe.min.js.
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, bypassCSP: true });
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.setDefaultTimeout(30_000);
  await signInLan(page, host.userUrl ?? '', name);
  const cookie = (await ctx.cookies()).find((c) => c.name === 'colony_session');
  const userId = await page.evaluate(async () => ((await (await fetch('/api/session')).json()) as { session: { user_id: string } }).session.user_id);
  return { page, session: { cookie: `colony_session=${cookie?.value ?? ''}`, userId, submitter: `session:${userId}` } };
}

/** Pairs an in-process worker agent (exec) for this session, as the pasted command would. */
async function pair(session: Session, name: string): Promise<TestAgent> {
  const kit = { home: { dir: agentsDir }, url: (host.userUrl ?? '').replace(/\/+$/, '') } as unknown as RemoteTestHost;
  const a = await startAgent(kit, session, { name });
  agents.push(a);
  return a;
}

const targetOptions = (page: Page): Promise<{ value: string; label: string }[]> =>
  page
    .locator('#user-submit-form select[name=target] option')
    .evaluateAll((os) => os.map((o) => ({ value: (o as HTMLOptionElement).value, label: o.textContent ?? '' })));

describe('picking one of my workers', () => {
  let adaLaptop: TestAgent;
  let adaDesktop: TestAgent;

  it('offers each of my workers by name and runs the task on the one I pick', async () => {
    const { page, session } = await userPage('Ada');
    adaLaptop = await pair(session, 'laptop');
    adaDesktop = await pair(session, 'desktop');
    await expect
      .poll(async () => (await targetOptions(page)).map((o) => o.label), { timeout: 20_000 })
      .toEqual(['Any of my workers (paired machines)', 'Only laptop', 'Only desktop', 'The host (needs the admin’s approval)']);
    // The form with the list of workers has no serious or critical axe-core violation.
    await page.addScriptTag({ content: AXE });
    const serious = await page.evaluate(async () => {
      const axe = (window as unknown as { axe: { run: (d: Document) => Promise<{ violations: { id: string; impact: string | null }[] }> } }).axe;
      return (await axe.run(document)).violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id);
    });
    expect(serious).toEqual([]);
    const options = await targetOptions(page);
    expect(options.map((o) => o.value)).toEqual(['own-worker', adaLaptop.identity.worker_id, adaDesktop.identity.worker_id, 'host']);
    await page.locator('#user-prompt').fill('echo ran-on-the-desktop');
    await page.locator('#user-submit-form select[name=target]').selectOption({ label: 'Only desktop' });
    expect(await page.locator('#user-submit-form select[name=engine]').inputValue()).toBe('exec'); // the desktop's engines
    await page.locator('#user-submit-form button[type=submit]').click();
    const card = page.locator('#my-tasks .my-task', { has: page.locator('.output-tail', { hasText: 'ran-on-the-desktop' }) });
    await card.waitFor({ timeout: 30_000 });
    const id = (await card.getAttribute('data-task-id')) ?? '';
    expect(host.host.store.getTask(id)).toMatchObject({ target: adaDesktop.identity.worker_id, state: 'succeeded' });
    expect(host.host.store.attemptsOf(id).map((a) => a.worker_id)).toEqual([adaDesktop.identity.worker_id]);
  }, 90_000);

  it("another user's form never lists them, and naming one from that user's page is refused like an unknown worker", async () => {
    const { page, session } = await userPage('Mallory');
    await pair(session, 'mallory-box');
    await expect.poll(async () => (await targetOptions(page)).map((o) => o.value)).toEqual(['own-worker', 'host']); // one worker: no list
    // Worker ids are no secret (every worker's card is on the Colony tab): the server's check is what protects Ada's machines.
    const before = host.host.store.listTasks({ limit: 1000 }).length;
    const forge = (target: string): Promise<{ status: number; code: string; message: string }> =>
      page.evaluate(async (t) => {
        const r = await fetch('/api/submit-task', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ prompt: 'cat ~/.ssh/id_rsa', engine: 'exec', target: t }),
        });
        const j = (await r.json()) as { code: string; message: string };
        return { status: r.status, code: j.code, message: j.message };
      }, target);
    const stolen = await forge(adaLaptop.identity.worker_id);
    const unknown = await forge('w-0000000000');
    expect([stolen.status, stolen.code]).toEqual([409, 'E_WORKER_UNAVAILABLE']);
    expect(stolen.message.replace(adaLaptop.identity.worker_id, 'ID')).toBe(unknown.message.replace('w-0000000000', 'ID'));
    expect(host.host.store.listTasks({ limit: 1000 })).toHaveLength(before);
    await waitFor(
      () =>
        host.host.store
          .listAudit({ action: 'lan.refused', limit: 20 })
          .some((a) => a.actor === session.submitter && JSON.stringify(a.detail).includes('another user')),
      'the refusal audited with its note',
    );
  }, 90_000);
});
