/** Helpers for the browser tests: the LAN user app driven in a page (sign in, submit a task), and admin API calls. */
import type { Page } from 'playwright-core';

export async function signInLan(page: Page, userUrl: string, name: string): Promise<void> {
  await page.goto(new URL('/dashboard', userUrl).toString());
  await page.locator('#session-form').waitFor();
  await page.locator('#display-name').fill(name);
  await page.locator('#session-form button[type=submit]').click();
  await page.locator('#my-name', { hasText: name }).waitFor();
}

/** Fills and sends the task form (exec engine); does not wait for the task to appear. */
export async function submitLan(page: Page, prompt: string, target: 'own-worker' | 'host'): Promise<void> {
  await page.locator('#user-prompt').fill(prompt);
  await page.locator('#user-submit-form select[name=target]').selectOption(target);
  await page.locator('#user-submit-form select[name=engine]').selectOption('exec');
  await page.locator('#user-submit-form button[type=submit]').click();
}

/** A call to the admin API with the admin token (what the admin page does, without a page). */
export async function adminCall<T>(
  host: { adminUrl: string; ctx: { adminToken: string } },
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<{ status: number; json: T }> {
  const res = await fetch(new URL(path, host.adminUrl), {
    method,
    headers: { authorization: `Bearer ${host.ctx.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as T };
}
