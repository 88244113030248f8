/**
 * Follow-ups: "request changes" on a pending change runs the task again in its
 * worktree. An engine that can resume its CLI session (claude `--resume`) gets
 * the reviewer's comment as the next message of the same conversation; one
 * that cannot gets the original prompt with the comment appended, in the
 * worktree that already holds its earlier work.
 */
import type { FollowUp } from '../store/follow-ups.js';
import type { StoredTask } from '../store/rows.js';
import type { NextStep } from '../core/attempt-policy.js';

/** Engines whose CLI session colony resumes for a follow-up (kept in the task's agent-state folder, runner/agent-state.ts). */
export const RESUMABLE_ENGINES: ReadonlySet<string> = new Set(['claude', 'codex', 'gemini', 'opencode']);

/** The prompt of a follow-up attempt. */
export function followUpPrompt(task: Pick<StoredTask, 'prompt'>, f: Pick<FollowUp, 'comment' | 'resume_session'>): string {
  if (f.resume_session) return f.comment;
  return `${task.prompt}\n\nYour earlier work on this task is already in this workspace. A reviewer asked for changes:\n${f.comment}`;
}

/** The task as the follow-up attempt runs it: the comment as prompt, on the engine and model of the session it continues. */
export function followUpTask(task: StoredTask, f: FollowUp): StoredTask {
  return { ...task, prompt: followUpPrompt(task, f), engine: f.engine, model: f.model };
}

/** Where the task goes when its follow-up fails or cannot run: back to where it was before the request. */
export function followUpStep(f: Pick<FollowUp, 'previous_status'>, reason: string): NextStep {
  return f.previous_status === 'awaiting_approval' ? { kind: 'hold_after_run', reason } : { kind: 'finish', state: 'succeeded', reason };
}
