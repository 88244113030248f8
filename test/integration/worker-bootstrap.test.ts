/**
 * The pasteable pairing command for a machine with only Node.js (issue 22):
 * `node -e '<bootstrap>' URL CODE SHA256 CERT`, run by real shells (sh and
 * bash) with a PATH that holds nothing but `node`. Against a real HTTPS
 * server it runs the downloaded file only when its bytes hash to the sha256
 * in the command and the server shows the pinned certificate; a swapped file
 * or another certificate (a hostile LAN) is refused with a clear message,
 * before anything runs or is cached. The real bundle (dist/worker) starts
 * from a directory with no node_modules anywhere above it.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateHostCert, type HostCert } from '../../src/remote/tls.js';
import { bootstrapCommand, WORKER_BUNDLE_PATH } from '../../src/server/user/worker-bootstrap.js';

const BUNDLE = fileURLToPath(new URL('../../dist/worker/colony-worker.mjs', import.meta.url));
const GOOD = Buffer.from('console.log("RAN " + JSON.stringify(process.argv.slice(2)));\n');
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let dir: string;
let certA: HostCert;
let certB: HostCert;
let server: Server;
let url: string;
let served: Buffer = GOOD;
let env: NodeJS.ProcessEnv;

function run(shell: string, cmd: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(shell, ['-c', cmd], { env, cwd: dir });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    p.on('exit', (code) => resolve({ code, out, err }));
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'colony-bootstrap-'));
  certA = await loadOrCreateHostCert(join(dir, 'a'));
  certB = await loadOrCreateHostCert(join(dir, 'b'));
  // The visitor's machine: PATH holds only node (no colony, npm or curl), a fresh HOME.
  mkdirSync(join(dir, 'bin'));
  symlinkSync(process.execPath, join(dir, 'bin', 'node'));
  env = { PATH: join(dir, 'bin'), HOME: join(dir, 'home') };
  server = createServer({ key: certA.keyPem, cert: certA.certPem }, (req, res) => {
    if (req.url !== WORKER_BUNDLE_PATH) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/javascript' }).end(served);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('the node -e pairing bootstrap', () => {
  it('is one line with no single quote inside the quoted script (sh, bash and zsh pass it verbatim)', () => {
    const cmd = bootstrapCommand({ url, code: 'ABCD-EFGH', sha256: sha(GOOD), certFingerprint: certA.fingerprint });
    expect(cmd).not.toContain('\n');
    const script = cmd.slice("node -e '".length, cmd.lastIndexOf("' "));
    expect(script).not.toContain("'");
    expect(cmd.endsWith(` ${url} ABCD-EFGH ${sha(GOOD)} ${certA.fingerprint}`)).toBe(true);
  });

  it.each(['/bin/sh', '/bin/bash'])('%s: downloads, verifies and runs the worker with the code and the pinned certificate', async (shell) => {
    served = GOOD;
    const r = await run(shell, bootstrapCommand({ url, code: 'ABCD-EFGH', sha256: sha(GOOD), certFingerprint: certA.fingerprint }));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`RAN ${JSON.stringify(['worker', '--host', url, '--code', 'ABCD-EFGH', '--tls-fingerprint', certA.fingerprint])}`);
    expect(existsSync(join(dir, 'home', '.colony-worker', 'bin', `${sha(GOOD)}.mjs`))).toBe(true);
  });

  it('refuses a worker whose bytes were changed on the way (one byte flipped), before running or caching it', async () => {
    const tampered = Buffer.from(GOOD);
    tampered[tampered.indexOf('RAN')] = 'P'.charCodeAt(0); // "PAN": still valid JS, but not the file the page hashed
    served = tampered;
    const r = await run('/bin/sh', bootstrapCommand({ url, code: 'ABCD-EFGH', sha256: sha(GOOD), certFingerprint: certA.fingerprint }));
    expect(r.code).toBe(1);
    expect(r.err).toContain('the downloaded worker does not match the sha256 in this command: refusing to run it');
    expect(r.out).not.toMatch(/[RP]AN/);
    expect(existsSync(join(dir, 'home', '.colony-worker', 'bin', `${sha(tampered)}.mjs`))).toBe(false);
    served = GOOD;
  });

  it('refuses a host showing another certificate than the one in the command (someone in between)', async () => {
    const r = await run('/bin/sh', bootstrapCommand({ url, code: 'ABCD-EFGH', sha256: sha(GOOD), certFingerprint: certB.fingerprint }));
    expect(r.code).toBe(1);
    expect(r.err).toContain('the host presented another TLS certificate than the one in this command');
    expect(r.out).not.toContain('RAN');
  });

  it('says so when the host is unreachable', async () => {
    const r = await run('/bin/sh', bootstrapCommand({ url: 'https://127.0.0.1:1', code: 'X', sha256: sha(GOOD), certFingerprint: null }));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot reach https:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/);
  });

  it('the built bundle runs on its own: no node_modules, no colony, PATH with only node', async () => {
    if (!existsSync(BUNDLE)) throw new Error('dist/worker/colony-worker.mjs is missing: run `npm run build` first');
    const alone = join(dir, 'alone');
    mkdirSync(alone);
    copyFileSync(BUNDLE, join(alone, 'w.mjs'));
    const r = await run('/bin/sh', `cd ${alone} && node w.mjs worker`);
    // Not paired yet: it loads its config, engines, price table and lock code, then says what to do.
    expect(r.err).toContain('this worker is not paired yet');
    expect(r.code).toBe(2);
  });

  it('without bubblewrap the bundle says in one line how to install it, before pairing (the one-time code is not used)', async () => {
    if (!existsSync(BUNDLE)) throw new Error('dist/worker/colony-worker.mjs is missing: run `npm run build` first');
    // A host that counts what reaches it: pairing would be its first request.
    let hits = 0;
    const host = createHttpServer((_req, res) => (hits++, res.writeHead(404).end()));
    await new Promise<void>((r) => host.listen(0, '127.0.0.1', r));
    const hostUrl = `http://127.0.0.1:${(host.address() as AddressInfo).port}`;
    try {
      // The visitor's machine has no bwrap: the real one is hidden behind /dev/null (not executable) in a mount namespace.
      const hide = `/usr/bin/bwrap --bind / / --ro-bind /dev/null /usr/bin/bwrap --dev /dev --proc /proc`;
      const r = await run('/bin/sh', `${hide} ${process.execPath} ${BUNDLE} worker --host ${hostUrl} --code ABCD-EFGH --home ${join(dir, 'nobwrap')}`);
      expect(r.code).toBe(1);
      const lines = r.err.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toBe(
        'colony worker: the OS sandbox cannot start: bubblewrap (bwrap) is not installed; install it: sudo apt-get install bubblewrap (Debian/Ubuntu) or sudo dnf install bubblewrap (Fedora), then run the same command again (or set safety.sandbox: false to run tasks unsandboxed)',
      );
      expect(r.out).toBe('');
      expect(hits).toBe(0);
    } finally {
      await new Promise((r) => host.close(r));
    }
  });
});
