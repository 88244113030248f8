/**
 * A real `colony worker` process (the CLI run from source with tsx) inside a
 * network namespace (netns.ts), its stdout and stderr handed to the test.
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { NetnsHandle, NetnsNamespace } from './netns.js';

const CLI_SRC = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

/** The argv (after `node`) of `colony worker <args>`. */
export function workerArgv(args: string[]): string[] {
  return ['--import', TSX, CLI_SRC, 'worker', ...args];
}

/**
 * Spawns `colony worker <args>` in the namespace; every chunk of its stdout and
 * stderr goes to `onOutput`. `envVars` (`K=V`) are set through env(1).
 */
export function spawnWorker(net: NetnsHandle, ns: NetnsNamespace, args: string[], onOutput: (d: string) => void, envVars: string[] = []): ChildProcess {
  const argv = [process.execPath, ...workerArgv(args)];
  const p = envVars.length > 0 ? net.spawn(ns.name, 'env', [...envVars, ...argv]) : net.spawn(ns.name, argv[0] as string, argv.slice(1));
  p.stdout?.setEncoding('utf8').on('data', onOutput);
  p.stderr?.setEncoding('utf8').on('data', onOutput);
  return p;
}

/** The exit code once the process has exited. */
export function exited(p: ChildProcess): Promise<number | null> {
  return p.exitCode !== null ? Promise.resolve(p.exitCode) : new Promise((r) => p.once('exit', (code) => r(code)));
}

/** SIGTERM to a still-running worker, then waits for it to exit (at most 5 s). */
export async function stopWorker(p: ChildProcess | null | undefined): Promise<void> {
  if (!p || p.exitCode !== null) return;
  p.kill('SIGTERM');
  await new Promise((r) => (p.once('exit', r), setTimeout(r, 5000)));
}
