/**
 * A LAN visitor's first task on their own machine (issue 22), end to end:
 * the host (`startHost --lan`, TLS, an access code) on the bridge address;
 * Ada's "machine" is a network namespace running Chromium and a shell whose
 * PATH holds only `node` (colony's checkout hidden, no route to a registry).
 * She opens the printed URL, enters the access code, copies the pairing
 * command from the page, runs it there (it downloads and verifies colony's
 * worker from the host), sees her machine appear live with its engines,
 * submits a task from the page and sees its output live: no reload anywhere.
 * Bob, a second visitor in another namespace, sees that a worker exists and
 * is busy, never whose it is, its address, Ada's task text or output.
 * Needs `npm run build` (dist/web, dist/worker), Debian's chromium, root.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHost } from '../../src/server/host-server.js';
import type { TestHome } from '../helpers/admin-host.js';
import { createNetns, type NetnsHandle, type NetnsNamespace } from '../helpers/netns.js';
import { CHROMIUM, startVisitorHost, visitorMachine, type VisitorMachine } from '../helpers/visitor-machine.js';
import { firstTask, type FirstTaskRun } from '../helpers/visitor-flow.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ARTIFACTS = join(ROOT, 'test-artifacts');

let net: NetnsHandle;
let home: TestHome;
let h: RunningHost;
let ada: VisitorMachine;
let bob: VisitorMachine;
let adaPage: Page;
let run: FirstTaskRun;
const problems: string[] = [];

/** Console errors, failed requests and 4xx/5xx answers on a page: a first visit has none. */
function watch(page: Page, who: string): void {
  page.on('console', (m) => void (m.type() === 'error' && problems.push(`${who} console: ${m.text()}`)));
  page.on('requestfailed', (r) => problems.push(`${who} failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('response', (r) => void (r.status() >= 400 && problems.push(`${who} ${r.status()} ${r.url()}`)));
}

async function newPage(m: VisitorMachine, who: string): Promise<Page> {
  const ctx = await m.browser.newContext({ ignoreHTTPSErrors: true }); // the visitor accepted the self-signed certificate once
  const page = await ctx.newPage();
  page.setDefaultTimeout(45_000);
  watch(page, who);
  return page;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium`);
  for (const f of ['dist/web/index.html', 'dist/worker/colony-worker.mjs'])
    if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing: run \`npm run build\` first`);
  net = await createNetns({ count: 2 }); // throws without root: never skipped
  ({ h, home } = await startVisitorHost(net));
  ada = await visitorMachine(net, net.namespaces[0] as NetnsNamespace);
  bob = await visitorMachine(net, net.namespaces[1] as NetnsNamespace);
}, 90_000);

afterAll(async () => {
  try {
    await ada?.close();
    await bob?.close();
    await h?.close(500);
  } finally {
    await net?.destroy();
    home?.cleanup();
  }
}, 60_000);

describe("a LAN visitor's first task on their own machine", () => {
  it("the visitor's machine has only node: no colony, no npm, no curl, no route to a registry", async () => {
    const r = await ada.sh(
      "for c in colony npm npx curl wget; do command -v $c && echo \"FOUND $c\"; done; ls -A /work; node -e \"fetch('https://registry.npmjs.org/').then(()=>console.log('REACHED'),e=>console.log('UNREACHABLE',e.cause?.code))\"",
    );
    expect(r.stdout).not.toContain('FOUND');
    expect(r.stdout).not.toContain('REACHED');
    expect(r.stdout).toContain('UNREACHABLE');
    expect(r.stdout.replace(/UNREACHABLE.*/, '').trim()).toBe(''); // /work is empty there
  }, 30_000);

  it('opens the printed URL, signs in, pairs with the pasted command and sees the first output live, no reload', async () => {
    adaPage = await newPage(ada, 'ada');
    expect(h.userUrl).toMatch(/^https:\/\/10\./);
    run = await firstTask(adaPage, ada, {
      url: String(h.userUrl),
      accessCode: String(h.lanCode),
      name: 'Ada',
      prompt: 'echo "first-output-$((6*7))"',
      expect: 'first-output-42',
      shot: async (name) => {
        mkdirSync(ARTIFACTS, { recursive: true });
        await adaPage.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true, animations: 'disabled' });
      },
    });
    // The command is the node-only one, with the host's certificate and the worker's sha256.
    expect(run.command).toMatch(/^node -e '[^']+' https:\/\/10\.[\d.]+:\d+ [0-9A-Z]{4}-[0-9A-Z]{4} [0-9a-f]{64} [0-9A-F:]{95}$/);
    expect(run.workerOut()).toContain('worker verified');
    expect(run.workerOut()).toContain('authenticated by the one-time code');
    expect(run.hostKey).not.toBe('');
    expect(run.workerOut()).toContain(`host key (pinned):  ${run.hostKey}`); // the key the worker prints is the one the page shows
    // Before pairing the form says to pair first and defaults to exec with a shell-command placeholder.
    expect(run.before.pairFirst).toContain('First, pair your machine');
    expect(run.before.engine).toBe('exec');
    expect(run.before.placeholder).toMatch(/shell command/);
    // After: the card shows the machine's engines; the form offers exactly them.
    expect(await adaPage.locator('#pairing-done').textContent()).toMatch(/^Paired: .+ is connected with exec\./); // the used command made way
    expect(run.after.card).toContain('Engines');
    expect(run.after.card).toContain('exec');
    expect(run.after.pairFirst).toBe('');
    expect(run.after.engines).toEqual(['exec']);
    expect(run.after.engine).toBe('exec');
    expect(run.after.placeholder).toMatch(/shell command/);
    expect(await adaPage.evaluate(() => (window as unknown as { __noReload?: number }).__noReload)).toBe(1);
    expect(h.host.store.getTask(run.taskId)?.state).toBe('succeeded');
    console.log(
      `[visitor] opened→signed in ${run.at.signedIn} ms, command→card ${run.at.paired - run.at.command} ms, submit→output ${run.at.output - run.at.submitted} ms, total ${run.at.output} ms`,
    );
  }, 180_000);

  it('another visitor sees that a worker exists and is busy, never whose, where, the task text or output', async () => {
    const page = await newPage(bob, 'bob');
    await page.goto(String(h.userUrl));
    // The access-code page wears the app's stylesheet (served without the code; the CSP allows no inline style).
    expect(await page.evaluate(() => getComputedStyle(document.querySelector('.btn-primary') as Element).backgroundColor)).not.toMatch(
      /^rgba?\(0, 0, 0(, 0)?\)$|rgb\(239, 239, 239\)/,
    );
    expect(await page.locator('link[rel=icon]').count()).toBe(1);
    await page.fill('#display-name', 'Bob');
    await page.fill('#code', String(h.lanCode));
    await page.click('#session-form button[type=submit]');
    await page.waitForSelector('#my-name');
    await page.click('a.tab[href="#overview"]');
    const card = page.locator('#workers .worker-card.remote');
    await card.waitFor();
    // Ada starts a longer task: Bob's card turns busy, with nothing of hers.
    await adaPage.fill('#user-prompt', 'sleep 3; echo "second-secret-output"');
    await adaPage.click('#user-submit-form button[type=submit]');
    await page.locator('#workers .worker-card.remote.status-running').waitFor();
    await adaPage.locator('#my-tasks .output-tail', { hasText: 'second-secret-output' }).waitFor();
    const seen = await page.evaluate(async () => {
      const api = async (p: string): Promise<string> => JSON.stringify(await (await fetch(p)).json());
      return {
        html: document.documentElement.outerHTML,
        workers: await api('/api/workers'),
        mine: await api('/api/my-workers'),
        tasks: await api('/api/my-sessions'),
      };
    });
    for (const secret of ['Ada', ada.ns.ip, 'first-output', 'second-secret', 'echo ', run.taskId]) {
      for (const [where, text] of Object.entries(seen)) expect(text, `${secret} in Bob's ${where}`).not.toContain(secret);
    }
    expect(await card.textContent()).toContain('someone else’s machine');
    expect(JSON.parse(seen.mine)).toEqual({ workers: [] });
    await page.click('a.tab[href="#my-workers"]');
    await page.locator('#my-workers-list .empty', { hasText: 'No workers yet' }).waitFor();
  }, 120_000);

  it('no console error, failed request or 4xx on any page (the access-code page included)', () => {
    expect(problems).toEqual([]);
  });
});
