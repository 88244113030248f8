/**
 * Small helpers shared by the dispatch, fan-out and API benchmarks: machine
 * description, percentiles, result files, a throw-away Redis, temp homes.
 * Every benchmark sends traffic only to loopback and is bounded in count and time.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = join(BENCH_DIR, '..');
export const RESULTS_DIR = join(BENCH_DIR, 'results');

export interface MachineInfo {
  nproc: number;
  cpu: string;
  mem_gib: number;
  node: string;
  platform: string;
  date: string;
  /** 1-minute load average when the figures were taken: this machine is shared, read figures with it. */
  loadavg_1m: number;
}

export function machine(): MachineInfo {
  return {
    nproc: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    mem_gib: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    date: new Date().toISOString(),
    loadavg_1m: round(loadavg()[0] ?? 0, 2),
  };
}

/** Nearest-rank percentile of an unsorted sample (p in 0..100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function writeResult(name: string, figures: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${name}.json`);
  writeFileSync(file, JSON.stringify(figures, null, 2) + '\n');
  return file;
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A free TCP port on 127.0.0.1 (asked from the kernel, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface RedisHandle {
  port: number;
  version: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts Debian's redis-server on 127.0.0.1 on a spare port with persistence
 * off (`--save '' --appendonly no`); stop() ends exactly that process by its pid.
 */
export async function startRedis(bin = 'redis-server'): Promise<RedisHandle> {
  const port = await freePort();
  const dir = tempDir('colony-bench-redis-');
  const child: ChildProcess = spawn(
    bin,
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir.dir, '--protected-mode', 'yes'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const spawned = await new Promise<boolean>((resolve) => {
    child.once('spawn', () => resolve(true));
    child.once('error', () => resolve(false));
  });
  if (!spawned || child.pid === undefined) {
    dir.cleanup();
    throw new Error(`cannot start ${bin}: install it with \`apt-get install -y redis-server\``);
  }
  const pid = child.pid;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 10_000;
  while (!/Ready to accept connections/.test(log)) {
    if (child.exitCode !== null) throw new Error(`redis-server exited: ${log.slice(-500)}`);
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      throw new Error(`redis-server did not start within 10 s: ${log.slice(-500)}`);
    }
    await sleep(20);
  }
  const version = /v=(\S+)/.exec(execFileSync(bin, ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
  return {
    port,
    version,
    pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(pid, 'SIGTERM');
        const t = setTimeout(() => child.exitCode === null && process.kill(pid, 'SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      dir.cleanup();
    },
  };
}

/** True when this module is the script node/tsx was asked to run. */
export function isMain(metaUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && fileURLToPath(metaUrl) === resolve(entry);
}

// ---- a colony host in its own process ------------------------------------

export interface ServeHandle {
  pid: number;
  home: string;
  adminPort: number;
  userPort: number | null;
  token: string;
  /** Resident set size of the host process now, in MiB. */
  rssMiB(): number;
  /** Peak resident set size (VmHWM) of the host process so far, in MiB. */
  peakRssMiB(): number;
  stop(): Promise<void>;
}

export interface ServeOptions {
  /** Config file contents (colony.config.json); written into the temp home. */
  config?: Record<string, unknown>;
  lan?: boolean;
  concurrency?: number;
  /** Working directory of the host (the default workspace of admin submissions). */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Extra node flags for the host, e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/p']; default from $BENCH_HOST_NODE_ARGS. */
  nodeArgs?: string[];
  /** With lan: serve the user app over TLS (default: plain HTTP, --insecure-http, so figures stay comparable). */
  tls?: boolean;
}

export const CLI = join(REPO_ROOT, 'dist', 'cli', 'index.js');

/**
 * Starts `node dist/cli/index.js serve` on a temp home with both apps on
 * 127.0.0.1 and kernel-chosen ports (the user app with `lan`), and waits for
 * host.json. Compiled JS, not tsx, so its memory is the product's.
 */
export async function startServe(o: ServeOptions = {}): Promise<ServeHandle> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const home = mkdtempSync(join(tmpdir(), 'colony-bench-home-'));
  const configFile = join(home, 'colony.config.json');
  writeFileSync(configFile, JSON.stringify(o.config ?? {}));
  const nodeArgs = o.nodeArgs ?? (process.env['BENCH_HOST_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const args = [...nodeArgs, CLI, 'serve', '--home', home, '--config', configFile, '--admin-port', '0', '--user-port', '0', '--quiet'];
  if (o.lan) args.push('--lan', '--host-ip', '127.0.0.1', ...(o.tls ? [] : ['--insecure-http']));
  if (o.concurrency) args.push('--concurrency', String(o.concurrency));
  // The workspace must not be the home: the sandbox refuses tasks inside the data dir.
  const workspace = o.cwd ?? mkdtempSync(join(tmpdir(), 'colony-bench-ws-'));
  const child = spawn(process.execPath, args, { cwd: workspace, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...o.env } });
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  child.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const pid = child.pid as number;
  const info = join(home, 'host.json');
  const deadline = Date.now() + 20_000;
  const discard = (): void => {
    rmSync(home, { recursive: true, force: true });
    if (!o.cwd) rmSync(workspace, { recursive: true, force: true });
  };
  while (!existsSync(info)) {
    if (child.exitCode !== null) {
      discard();
      throw new Error(`colony serve exited (${child.exitCode}): ${log}`);
    }
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      await exited;
      discard();
      throw new Error(`colony serve did not start within 20 s: ${log}`);
    }
    await sleep(50);
  }
  const hostInfo = JSON.parse(readFileSync(info, 'utf8')) as { admin_port: number; user_port: number | null };
  const token = readFileSync(join(home, 'admin.token'), 'utf8').trim();
  const status = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  };
  return {
    pid,
    home,
    adminPort: hostInfo.admin_port,
    userPort: hostInfo.user_port,
    token,
    rssMiB: () => status('VmRSS'),
    peakRssMiB: () => status('VmHWM'),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(pid, 'SIGTERM');
        const t = setTimeout(() => child.exitCode === null && process.kill(pid, 'SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      discard();
    },
  };
}

/** A JSON request to the host on loopback; resolves with status and parsed body. */
export async function httpJson(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, headers: res.headers };
}
