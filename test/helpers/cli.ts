/** Runs the built `colony` binary (dist/cli/index.js) as a child process, the way a user does. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { waitFor } from './proc.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = fileURLToPath(new URL('../../dist/cli/index.js', import.meta.url));

export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` before the CLI tests`);
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcess;
  /** Settles when the process has exited and its output is complete. */
  result: Promise<CliResult>;
}

/** Starts `colony ...args` without waiting; COLONY_HOME/COLONY_CONFIG from the test's env are not inherited. */
export function startCli(args: readonly string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, COLONY_HOME: undefined, COLONY_CONFIG: undefined, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const result = new Promise<CliResult>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const limit = opts.timeoutMs ?? 90_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`colony ${args.join(' ')} did not finish in ${limit} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, limit);
    child.on('error', (e) => (clearTimeout(timer), reject(e)));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, result };
}

export function runCli(args: readonly string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<CliResult> {
  return startCli(args, opts).result;
}

export interface ServeProcess {
  child: ChildProcess;
  port: number;
  token: string;
  /** stdout and stderr so far. */
  out: () => string;
}

/** Starts `colony serve --admin-port 0 --home <home> --quiet` in `cwd` and waits for its admin URL (port and token). */
export async function startServe(cwd: string, home: string, timeoutMs = 30_000): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--admin-port', '0', '--home', home, '--quiet'], {
    cwd,
    env: { ...process.env, COLONY_HOME: undefined, COLONY_CONFIG: undefined },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (out += d));
  const m = await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${out}`);
      return /admin app: http:\/\/127\.0\.0\.1:(\d+)\/\?token=(\S+)/.exec(out);
    },
    'serve printed its admin URL',
    timeoutMs,
  ).catch((e: Error) => {
    child.kill('SIGKILL');
    throw e;
  });
  return { child, port: Number(m[1]), token: m[2] as string, out: () => out };
}
