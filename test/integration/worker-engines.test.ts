/**
 * The downloaded worker (dist/worker/colony-worker.mjs, a real process) offers
 * the agent CLIs it finds on PATH when the pasted command names no engines:
 * Claude Code, Codex, Gemini CLI and opencode, found the same way (by name on
 * PATH). Fake executables stand in for the CLIs; the host's list of the
 * visitor's workers (what the task form offers) then names them. A CLI that is
 * not there is not offered.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { api, newSession, pairingCode, startRemoteHost, type RemoteTestHost } from '../helpers/remote-host.js';
import { waitFor } from '../helpers/proc.js';
import { stopWorker } from '../helpers/colony-worker.js';

const BUNDLE = fileURLToPath(new URL('../../dist/worker/colony-worker.mjs', import.meta.url));
let h: RemoteTestHost | null = null;
let worker: ChildProcess | null = null;

afterEach(async () => {
  await stopWorker(worker);
  worker = null;
  await h?.close();
  h = null;
});

/** Pairs the real bundle from a shell whose PATH holds node and the given fake CLIs; the engines the host lists for it. */
async function pairWithClis(clis: string[]): Promise<string[]> {
  if (!existsSync(BUNDLE)) throw new Error('dist/worker/colony-worker.mjs is missing: run `npm run build` first');
  h = await startRemoteHost();
  const host = h;
  const dir = join(host.home.dir, 'visitor');
  mkdirSync(join(dir, 'bin'), { recursive: true });
  symlinkSync(process.execPath, join(dir, 'bin', 'node'));
  for (const cli of clis) {
    writeFileSync(join(dir, 'bin', cli), `#!/bin/sh\necho "${cli} 1.0.0"\n`);
    chmodSync(join(dir, 'bin', cli), 0o755);
  }
  const ada = await newSession(host, 'Ada');
  const code = await pairingCode(host, ada);
  let out = '';
  worker = spawn(process.execPath, [BUNDLE, 'worker', '--host', host.url, '--code', code, '--home', join(dir, 'home'), '--workspace-root', join(dir, 'work')], {
    env: { PATH: join(dir, 'bin'), HOME: dir },
  });
  worker.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  worker.stderr?.setEncoding('utf8').on('data', (d: string) => (out += d));
  let engines: string[] = [];
  await waitFor(
    async () => {
      const r = await api(host, ada, 'GET', '/api/my-workers');
      const w = (r.json['workers'] as { connected?: boolean; engines?: string[] }[] | undefined)?.find((x) => x.connected);
      engines = w?.engines ?? [];
      return w !== undefined;
    },
    'the worker to connect',
    30_000,
  );
  expect(out).toContain('paired with');
  return engines;
}

describe('engine detection of the downloaded worker', () => {
  it('offers codex, gemini and opencode found on PATH, besides exec', { timeout: 60_000 }, async () => {
    expect((await pairWithClis(['codex', 'gemini', 'opencode'])).sort()).toEqual(['codex', 'exec', 'gemini', 'opencode']);
  });

  it('offers only what is there: claude and gemini, not codex or opencode', { timeout: 60_000 }, async () => {
    expect((await pairWithClis(['claude', 'gemini'])).sort()).toEqual(['claude', 'exec', 'gemini']);
  });
});
