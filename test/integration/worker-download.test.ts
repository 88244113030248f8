/**
 * GET /worker/colony-worker.mjs (issue 22): the self-contained worker is public
 * code, so a visitor's machine fetches it without a session or the access code,
 * and the pairing answer's node command carries the SHA-256 of exactly those
 * bytes. The LAN gate still applies: an address outside lan.allow_cidrs is
 * refused and the read rate limit stops a flood. Also: the access-code page
 * loads its stylesheet and script without the code (the CSP allows no inline ones).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CSP } from '../../src/server/security-headers.js';
import { code, inject, lanConfig, startUserHost, visitor, type UserHost } from '../helpers/user-host.js';

const BUNDLE = fileURLToPath(new URL('../../dist/worker/colony-worker.mjs', import.meta.url));
const PATH = '/worker/colony-worker.mjs';

let h: UserHost;
afterEach(async () => {
  await h?.close();
  h?.home.cleanup();
});

describe('the downloadable worker', () => {
  it('is served without a session or the access code, and the pairing command names its sha256', async () => {
    if (!existsSync(BUNDLE)) throw new Error('dist/worker/colony-worker.mjs is missing: run `npm run build` first');
    h = await startUserHost({ accessCode: 'abcd-2345' });
    const r = await inject(h, '10.0.0.7', 'GET', PATH);
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/javascript/);
    const sha = createHash('sha256').update(r.rawPayload).digest('hex');
    expect(sha).toBe(createHash('sha256').update(readFileSync(BUNDLE)).digest('hex'));
    expect(r.headers['x-content-sha256']).toBe(sha);

    const ada = await visitor(h, '10.0.0.2', 'Ada', 'abcd-2345');
    const p = (await ada.call('POST', '/api/pairing-codes')).json() as Record<string, string>;
    expect(p['worker_sha256']).toBe(sha);
    expect(p['node_command']).toMatch(new RegExp(`^node -e '[^']+' http://\\S+ ${p['code']} ${sha}$`));
    expect(p['command']).toMatch(/^colony worker --host http:\/\/\S+ --code /);
  });

  it('refuses an address outside lan.allow_cidrs, and a flood of downloads past the (write) rate limit', async () => {
    h = await startUserHost({ config: lanConfig({ allow_cidrs: ['10.0.0.0/8'], rate_limit_submit_per_min: 3 }) });
    expect(code(await inject(h, '192.168.5.5', 'GET', PATH))).toBe('E_IP_DENIED');
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await inject(h, '10.0.0.8', 'GET', PATH)).statusCode);
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses.slice(3)).toEqual([429, 429]);
    expect((await inject(h, '10.0.0.8', 'GET', '/healthz')).statusCode).toBe(200); // ordinary reads go on
  });

  it("the access-code page links the app's stylesheet, its script and an icon, all loadable without the code", async () => {
    h = await startUserHost({ accessCode: 'abcd-2345', withWeb: true });
    writeFileSync(join(h.home.dir, 'web', 'style.css'), '.card{border-radius:8px}'); // the built client's stylesheet
    const page = await inject(h, '10.0.0.2', 'GET', '/dashboard');
    expect(page.headers['content-security-policy']).toBe(CSP);
    expect(page.body).not.toMatch(/<style|<script>|style=/); // nothing inline: the CSP would block it
    expect(page.body).toMatch(/<link rel="icon" href="data:image\/svg\+xml,/);
    for (const [url, type] of [
      ['/login/style.css', /^text\/css/],
      ['/login/code-page.js', /^text\/javascript/],
    ] as const) {
      expect(page.body).toContain(url);
      const r = await inject(h, '10.0.0.2', 'GET', url);
      expect(r.statusCode, url).toBe(200);
      expect(r.headers['content-type'], url).toMatch(type);
    }
  });
});
