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
import { agentStateDirOf } from '../engines/agent-home.js';

/** `<colony home>/agent-state/<task id as a plain name>-<hash of the id>` (engines/agent-home.ts: the worker names its folders the same way). */
export { agentStateDirOf };

/** Removes a task's agent state (idempotent). */
export async function removeAgentState(home: string, taskId: string): Promise<void> {
  await rm(agentStateDirOf(home, taskId), { recursive: true, force: true }).catch(() => undefined);
}
