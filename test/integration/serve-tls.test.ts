/**
 * `colony serve --lan` (the real CLI): TLS by default with a self-signed
 * certificate made at the first start and kept in the home (same fingerprint
 * after a restart), its fingerprint printed at start; plain HTTP only with
 * --insecure-http, and then a warning. The admin app stays plain HTTP.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certFingerprint } from '../../src/remote/tls.js';
import { makeHome, type TestHome } from '../helpers/admin-host.js';
import { assertBuilt, startCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/proc.js';

let home: TestHome;
beforeAll(() => {
  assertBuilt();
  home = makeHome('colony-serve-tls-');
});
afterAll(() => home?.cleanup());

/** Starts serve, returns what it printed once the LAN line is out, then stops it. */
async function startOutput(extra: string[]): Promise<string> {
  const p = startCli(['serve', '--lan', '--host-ip', '127.0.0.1', '--admin-port', '0', '--user-port', '0', '--home', home.paths.home, '--quiet', ...extra], {
    cwd: home.workspace,
    timeoutMs: 60_000,
  });
  let out = '';
  p.child.stdout?.on('data', (d: Buffer) => (out += d.toString('utf8')));
  try {
    await waitFor(() => /kill switch:/.test(out) || p.child.exitCode !== null, 'serve printed its addresses', 30_000);
  } finally {
    p.child.kill('SIGTERM');
    await p.result;
  }
  return out;
}

describe('colony serve --lan', () => {
  it('serves TLS with a certificate made once and kept in the home, and prints its fingerprint', async () => {
    const first = await startOutput([]);
    expect(first).toMatch(/LAN app: {3}https:\/\/127\.0\.0\.1:\d+\//);
    expect(first).toMatch(/admin app: http:\/\/127\.0\.0\.1:/);
    const fp = /LAN TLS certificate \(self-signed\) SHA-256: (\S+)/.exec(first)?.[1];
    const file = join(home.paths.home, 'keys', 'tls.pem');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(fp).toBe(certFingerprint(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(readFileSync(file, 'utf8'))?.[0] ?? ''));
    expect(first).not.toMatch(/WARNING/);
    const second = await startOutput([]);
    expect(second).toContain(`SHA-256: ${fp}`);
  }, 90_000);

  it('serves plain HTTP only with --insecure-http, and warns', async () => {
    const out = await startOutput(['--insecure-http']);
    expect(out).toMatch(/LAN app: {3}http:\/\/127\.0\.0\.1:\d+\//);
    expect(out).toMatch(/WARNING: --insecure-http/);
    expect(out).not.toMatch(/SHA-256/);
  }, 60_000);
});
