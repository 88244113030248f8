/**
 * A LAN visitor's own machine for browser tests and the first-task bench
 * (issue 22): a network namespace (netns.ts) with Chromium started inside it
 * (an executablePath wrapper, THIRD-PARTY.md), and a shell there whose PATH
 * holds only `node`, in a mount namespace where colony's checkout (/work) is
 * hidden under an empty tmpfs and HOME is a fresh directory. The namespace has
 * no default route: no registry, only the host's subnet.
 */
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { startHost, type RunningHost } from '../../src/server/host-server.js';
import { makeHome, type TestHome } from './admin-host.js';
import type { NetnsHandle, NetnsNamespace } from './netns.js';
import { lanConfig } from './user-host.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

export interface VisitorMachine {
  ns: NetnsNamespace;
  home: string;
  browser: Browser;
  /** Runs a pasted command in the node-only shell; the process is the command itself (exec), killed by stop()/destroy(). */
  paste(command: string): ChildProcess;
  /** Runs a short shell script in the same kind of shell and returns its output. */
  sh(script: string): Promise<{ code: number | null; stdout: string; stderr: string }>;
  close(): Promise<void>;
}

/** A node-only shell: /work hidden, PATH with a single directory holding a `node` link, a fresh HOME. */
function shellArgs(dir: string, home: string, script: string): string[] {
  const outer = `mount -t tmpfs -o size=1m colony-hidden /work && exec env -i PATH=${dir}/bin HOME=${home} LANG=C.UTF-8 /bin/sh -c "$1"`;
  return ['-c', outer, 'visitor-shell', script];
}

export async function visitorMachine(net: NetnsHandle, ns: NetnsNamespace): Promise<VisitorMachine> {
  const dir = mkdtempSync(join(tmpdir(), `colony-visitor-${ns.ip.split('.').pop()}-`));
  const home = join(dir, 'home');
  mkdirSync(join(dir, 'bin'));
  mkdirSync(home);
  symlinkSync(process.execPath, join(dir, 'bin', 'node'));
  const wrapper = join(dir, 'chromium.sh');
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns.name} ${CHROMIUM} "$@"\n`);
  chmodSync(wrapper, 0o755);
  const browser = await chromium.launch({ executablePath: wrapper, args: CHROMIUM_ARGS });
  const started: ChildProcess[] = [];
  return {
    ns,
    home,
    browser,
    paste(command) {
      const p = net.spawn(ns.name, '/bin/sh', shellArgs(dir, home, `exec ${command}`));
      started.push(p);
      return p;
    },
    async sh(script) {
      const r = await net.exec(ns.name, '/bin/sh', shellArgs(dir, home, script));
      return { code: r.code, stdout: r.stdout, stderr: r.stderr };
    },
    async close() {
      for (const p of started) {
        if (p.exitCode !== null || p.signalCode !== null) continue;
        p.kill('SIGTERM');
        await new Promise((r) => (p.once('exit', r), setTimeout(r, 5000)));
        if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      }
      await browser.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The host as `colony serve --lan --lan-code auto` starts it on the bridge: TLS, an access code, the built client and worker. */
export async function startVisitorHost(net: NetnsHandle): Promise<{ h: RunningHost; home: TestHome }> {
  const home = makeHome('colony-visitor-');
  const h = await startHost({
    paths: home.paths,
    config: lanConfig(),
    adminPort: 0,
    userPort: 0,
    lan: true,
    hostIp: net.hostIp,
    concurrency: 1,
    logger: false,
    webRoot: join(ROOT, 'dist', 'web'),
    lanCode: 'auto',
  });
  return { h, home };
}
