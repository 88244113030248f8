/**
 * The worker's per-task agent-state folders: `<worker home>/agent-state/<task>-<hash>`
 * (the host's naming, engines/agent-home.ts), 0700, the agent CLI's own home
 * for that task (claude's CLAUDE_CONFIG_DIR, codex's CODEX_HOME, ...), bound
 * into that task's sandbox only. So no task on the worker reads another's
 * transcripts or the user's own ~/.claude sessions, and a later attempt of the
 * same task on this worker finds the session an earlier one wrote.
 *
 * The host sends no "this task is settled" message (a remote task has no
 * pending change to approve or reject), so folders are pruned by age: at
 * worker start, before any task runs (nothing can be in use then), a folder
 * untouched for AGENT_STATE_MAX_AGE_MS goes.
 */
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { agentStateDirOf } from '../../engines/agent-home.js';
import { AGENT_STATE_DIR } from '../../safety/guard-scan.js';

export { agentStateDirOf };

/** How long a task's agent state is kept on the worker after its last use. */
export const AGENT_STATE_MAX_AGE_MS = 7 * 24 * 3600 * 1000;

/**
 * Removes the task folders under `<home>/agent-state` last modified before
 * `now - maxAgeMs` (the folder's or its newest direct entry's mtime). Never
 * follows a symlink. Returns how many were removed.
 */
export async function pruneAgentState(home: string, now: number, maxAgeMs = AGENT_STATE_MAX_AGE_MS): Promise<number> {
  const root = join(home, AGENT_STATE_DIR);
  const names = await readdir(root).catch(() => [] as string[]);
  let removed = 0;
  for (const name of names) {
    const dir = join(root, name);
    if ((await lastUsed(dir)) >= now - maxAgeMs) continue;
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    removed++;
  }
  return removed;
}

/** The newest mtime of `dir` and its direct entries (lstat: a symlink counts as itself). */
async function lastUsed(dir: string): Promise<number> {
  const st = await lstat(dir).catch(() => null);
  if (!st) return Number.POSITIVE_INFINITY; // gone meanwhile: nothing to do
  let newest = st.mtimeMs;
  if (!st.isDirectory()) return newest;
  for (const e of await readdir(dir).catch(() => [] as string[])) {
    const s = await lstat(join(dir, e)).catch(() => null);
    if (s && s.mtimeMs > newest) newest = s.mtimeMs;
  }
  return newest;
}
