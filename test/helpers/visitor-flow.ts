/**
 * A new LAN visitor's first task, as the pages guide it (issue 22): open the
 * URL the host printed, enter the access code, get a pairing code, paste the
 * command shown on the visitor's own machine, wait for the machine's card,
 * submit a task from the page and wait for its output — all in one page, no
 * reload. Returns what the page showed along the way (for the e2e test's
 * assertions) and when (for bench/visitor.bench.ts).
 */
import type { ChildProcess } from 'node:child_process';
import type { Page } from 'playwright-core';
import type { VisitorMachine } from './visitor-machine.js';

export interface FirstTaskRun {
  command: string;
  /** The host key the pairing page showed next to the command. */
  hostKey: string;
  worker: ChildProcess;
  workerOut: () => string;
  taskId: string;
  /** What the task form showed before pairing and after the card appeared. */
  before: { pairFirst: string; engines: string[]; engine: string; placeholder: string };
  after: { pairFirst: string; engines: string[]; engine: string; placeholder: string; card: string };
  /** Milliseconds from opening the URL. */
  at: { signedIn: number; command: number; paired: number; submitted: number; output: number };
}

async function form(page: Page): Promise<FirstTaskRun['before']> {
  return page.evaluate(() => {
    const sel = document.querySelector<HTMLSelectElement>('#user-submit-form select[name=engine]');
    return {
      pairFirst: document.querySelector('#pair-first')?.textContent ?? '',
      engines: [...(sel?.options ?? [])].map((o) => o.value),
      engine: sel?.value ?? '',
      placeholder: document.querySelector<HTMLTextAreaElement>('#user-prompt')?.placeholder ?? '',
    };
  });
}

export async function firstTask(
  page: Page,
  machine: VisitorMachine,
  o: { url: string; accessCode: string; name: string; prompt: string; expect: string; shot?: (name: string) => Promise<void> },
): Promise<FirstTaskRun> {
  const t0 = Date.now();
  const since = (): number => Date.now() - t0;
  await page.goto(o.url);
  await page.fill('#display-name', o.name);
  await o.shot?.('visitor-access-code');
  await page.fill('#code', o.accessCode);
  await page.click('#session-form button[type=submit]');
  await page.waitForSelector('#my-name');
  const signedIn = since();
  await page.evaluate(() => ((window as unknown as { __noReload: number }).__noReload = 1));
  await page.waitForSelector('#pair-first .pair-first'); // the form says "pair first" once it knows there is no machine
  const before = await form(page);

  await page.click('#pair-first a[href="#my-workers"]');
  await page.click('#get-pairing-code');
  const command = (await page.locator('#pairing-command').textContent()) ?? '';
  const hostKey = (await page.locator('#pairing-host-key').textContent()) ?? '';
  await o.shot?.('visitor-pairing');
  const atCommand = since();
  const worker = machine.paste(command);
  let out = '';
  worker.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  worker.stderr?.setEncoding('utf8').on('data', (d: string) => (out += d));
  const card = page.locator('#my-workers-list .worker-card.status-idle');
  await card.waitFor({ timeout: 60_000 });
  const paired = since();
  const cardText = (await card.textContent()) ?? '';
  await o.shot?.('visitor-paired');

  await page.click('a.tab[href="#my-tasks"]');
  await page.waitForFunction(() => !document.querySelector('#pair-first .pair-first'));
  const after = { ...(await form(page)), card: cardText };
  await page.fill('#user-prompt', o.prompt);
  await page.click('#user-submit-form button[type=submit]');
  const submitted = since();
  const task = page.locator('#my-tasks .my-task', { has: page.locator('.output-tail', { hasText: o.expect }) });
  await task.waitFor({ timeout: 60_000 });
  const output = since();
  await o.shot?.('visitor-first-output');
  const taskId = (await task.getAttribute('data-task-id')) ?? '';
  return { command, hostKey, worker, workerOut: () => out, taskId, before, after, at: { signedIn, command: atCommand, paired, submitted, output } };
}
