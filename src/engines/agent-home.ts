/**
 * The task's agent-state folder as an engine uses it (see
 * runner/agent-state.ts): made private (0700, its parent too) before the CLI
 * starts, and, for Claude Code, the user's login reachable from it.
 */
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, symlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { AGENT_STATE_DIR } from '../safety/guard-scan.js';

/**
 * `<home>/agent-state/<task id as a plain name>-<hash of the id>`: never a path
 * outside the folder, never two tasks in one. The host's colony home and a
 * remote worker's --home use the same naming (runner/agent-state.ts,
 * remote/worker/agent-state.ts).
 */
export function agentStateDirOf(home: string, taskId: string): string {
  const name = taskId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80);
  return join(home, AGENT_STATE_DIR, `${name}-${createHash('sha256').update(taskId).digest('hex').slice(0, 12)}`);
}

/** Creates `dir` (and its parent) with mode 0700; an existing one is tightened to 0700. */
export async function ensureStateDir(dir: string): Promise<void> {
  await mkdir(dirname(dir), { recursive: true, mode: 0o700 });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

/** Where Claude Code keeps a `claude login` for this user (the real home, not the task's). */
export function claudeCredentialsFile(env: Record<string, string | undefined>): string {
  return join(env.CLAUDE_CONFIG_DIR ?? join(env.HOME ?? homedir(), '.claude'), '.credentials.json');
}

/**
 * Claude Code in the task's folder (CLAUDE_CONFIG_DIR) still finds the user's
 * login: a symlink to the real credentials file, never a copy (no secret is
 * duplicated, a refreshed token is seen by everyone). API keys come by env.
 */
export async function linkClaudeLogin(stateDir: string, env: Record<string, string | undefined>): Promise<void> {
  const real = claudeCredentialsFile(env);
  const link = join(stateDir, '.credentials.json');
  if (!(await lstat(real).catch(() => null))) return;
  if (await lstat(link).catch(() => null)) return;
  await symlink(real, link).catch(() => undefined);
}
