/**
 * A real host serving the freshly built client (dist/web) on 127.0.0.1, port 0,
 * and Debian's Chromium (playwright-core) to look at it: the setup the browser
 * tests in test/e2e share.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { parseConfig, type ColonyConfig } from '../../src/core/config.js';
import { resolveHome } from '../../src/runner/home.js';
import { startHost, type RunningHost } from '../../src/server/host-server.js';
import { adminCall } from './lan-browser.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const WEB_ROOT = join(ROOT, 'dist', 'web');
export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
/** The shorter flag set some suites launch with. */
export const CHROMIUM_MIN_ARGS = ['--no-sandbox', '--disable-gpu', '--no-first-run'];

/** Builds dist/web (scripts/build-web.mjs). */
export function buildWeb(): void {
  execFileSync(process.execPath, ['scripts/build-web.mjs'], { cwd: ROOT, stdio: 'inherit' });
}

/** Throws (the suite fails, never skips) when Chromium is not installed. */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium`);
}

export function launchChromium(args: string[] = CHROMIUM_ARGS): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args });
}

export function configOrThrow(raw: unknown): ColonyConfig {
  const r = parseConfig(raw);
  if (!r.ok) throw new Error(r.problems.join('; '));
  return r.config;
}

/** The host's environment for agent tasks run by the fake Claude CLI (test/fixtures/fake-claude.mjs). */
export function fakeClaudeEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/root', CLAUDE_BIN: resolve(ROOT, 'test/fixtures/fake-claude.mjs'), ...extra };
}

export interface WebHostOptions {
  /** The COLONY_HOME directory. */
  home: string;
  config: ColonyConfig;
  /** The LAN app on 127.0.0.1 over plain HTTP (TLS is covered in test/integration/lan-tls.test.ts); default true. */
  lan?: boolean;
  concurrency?: number;
  env?: NodeJS.ProcessEnv;
}

export function startWebHost(o: WebHostOptions): Promise<RunningHost> {
  return startHost({
    paths: resolveHome(o.home),
    config: o.config,
    adminPort: 0,
    userPort: 0,
    ...(o.lan === false ? { lan: false } : { lan: true, insecureHttp: true, hostIp: '127.0.0.1' }),
    concurrency: o.concurrency ?? 1,
    logger: false,
    webRoot: WEB_ROOT,
    ...(o.env ? { env: o.env } : {}),
  });
}

/** The JSON an admin API call answers (with the admin token). */
export async function adminJson<T>(host: RunningHost, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  return (await adminCall<T>(host, method, path, body)).json;
}
