/**
 * The one way the runner calls git: execFile (never a shell string), an
 * explicit cwd, and a fixed set of overrides so the user's configuration and
 * the task's content cannot change what our commands do:
 * - hooks off (core.hooksPath=/dev/null): task branches are agent-written, and
 *   an agent-written hook must never run because colony committed or merged;
 * - no signing prompts (commit.gpgsign=false), no fsmonitor daemon, no colour,
 *   no pager, no terminal prompts, C locale;
 * - inherited GIT_DIR / GIT_WORK_TREE / GIT_INDEX_FILE (set when colony runs
 *   inside a git hook) are dropped so cwd decides the repository.
 */
import { execFile } from 'node:child_process';
import { ColonyError } from '../core/errors.js';

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

export const COLONY_IDENTITY = Object.freeze({ name: 'colony', email: 'colony@localhost' });

const OVERRIDES = [
  '-c',
  'core.hooksPath=/dev/null',
  '-c',
  'commit.gpgsign=false',
  '-c',
  'tag.gpgsign=false',
  '-c',
  'core.fsmonitor=false',
  '-c',
  'color.ui=false',
  '-c',
  'core.quotepath=false',
  '-c',
  'core.pager=cat',
  '-c',
  'rerere.enabled=false', // a recorded resolution must not silently resolve a task's conflict
];

function gitEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('GIT_')) env[k] = v;
  }
  return {
    ...env,
    GIT_TERMINAL_PROMPT: '0',
    GIT_PAGER: 'cat',
    LC_ALL: 'C',
    GIT_AUTHOR_NAME: COLONY_IDENTITY.name,
    GIT_AUTHOR_EMAIL: COLONY_IDENTITY.email,
    GIT_COMMITTER_NAME: COLONY_IDENTITY.name,
    GIT_COMMITTER_EMAIL: COLONY_IDENTITY.email,
    ...extra,
  };
}

/** Runs git in `cwd`. Non-zero exit throws E_INTERNAL unless `allowFail` (then inspect `code`). */
export function git(cwd: string, args: readonly string[], opts: { allowFail?: boolean } = {}): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      [...OVERRIDES, ...args],
      { cwd, env: gitEnv(), maxBuffer: 512 * 1024 * 1024, encoding: 'utf8', windowsHide: true },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') {
          reject(new ColonyError('E_INTERNAL', `could not run git ${args[0] ?? ''} in ${cwd}: ${err.message}`));
          return;
        }
        const code = err ? Number(err.code) : 0;
        if (code !== 0 && !opts.allowFail) {
          reject(new ColonyError('E_INTERNAL', `git ${args.join(' ')} failed (exit ${code}) in ${cwd}: ${stderr.trim()}`));
          return;
        }
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** stdout of a successful git command, trailing newline removed. */
export async function gitOut(cwd: string, args: readonly string[]): Promise<string> {
  return (await git(cwd, args)).stdout.replace(/\n$/, '');
}
