/**
 * The per-task agent-state folder: the agent CLI's own home for every attempt
 * of one task (claude's CLAUDE_CONFIG_DIR, codex's CODEX_HOME, gemini's and
 * opencode's HOME), so a follow-up's `--resume` finds the session the earlier
 * attempt wrote, while no other task can read or write it. It lives under the
 * colony home (hidden from every sandbox; the task's own sandbox binds just
 * this folder), never in the workspace, mode 0700, and goes with the task's
 * worktree (approve, reject, a discarded attempt).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

const SAFE_ID = /^[A-Za-z0-9_-]+$/;

/** `<colony home>/agent-state/<task id>`; null for an id that is not a plain name (never a path outside the folder). */
export function agentStateDirOf(home: string, taskId: string): string | null {
  return SAFE_ID.test(taskId) ? join(home, 'agent-state', taskId) : null;
}

/** Removes a task's agent state (idempotent). */
export async function removeAgentState(home: string, taskId: string): Promise<void> {
  const dir = agentStateDirOf(home, taskId);
  if (dir) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
}
