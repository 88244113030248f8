/**
 * Legal task state transitions (DESIGN §2). Every change of a task's state,
 * whoever asks for it (scheduler, runner, admin, remote host), is checked here
 * before it is persisted, so an illegal jump is a bug caught at the boundary.
 */
import { ColonyError } from './errors.js';
import type { TaskState } from './task.js';

const LEGAL: Record<TaskState, readonly TaskState[]> = {
  waiting: ['ready', 'upstream_failed', 'skipped', 'cancelled', 'failed', 'awaiting_approval', 'paused'],
  ready: ['assigned', 'waiting', 'skipped', 'cancelled', 'failed', 'awaiting_approval', 'paused', 'upstream_failed'],
  assigned: ['running', 'ready', 'succeeded', 'failed', 'cancelled', 'timed_out', 'awaiting_approval'],
  // running → awaiting_approval: the task's change waits for the admin before it counts as done.
  running: ['succeeded', 'failed', 'cancelled', 'timed_out', 'ready', 'awaiting_approval'],
  awaiting_approval: ['ready', 'waiting', 'cancelled', 'failed', 'skipped', 'upstream_failed', 'succeeded'],
  paused: ['ready', 'waiting', 'cancelled', 'skipped', 'upstream_failed'],
  // Terminal states re-open only through an admin retry or a dropped edge.
  failed: ['ready', 'waiting'],
  timed_out: ['ready', 'waiting'],
  cancelled: ['ready', 'waiting'],
  upstream_failed: ['ready', 'waiting', 'skipped'],
  skipped: [],
  // succeeded → ready: the admin requested changes on the task's pending change (a follow-up attempt).
  succeeded: ['ready'],
};

export function canTransition(from: TaskState, to: TaskState): boolean {
  return LEGAL[from].includes(to);
}

export function assertTransition(id: string, from: TaskState, to: TaskState): void {
  if (!canTransition(from, to)) {
    throw new ColonyError('E_INVALID_TRANSITION', `task ${id} cannot go from ${from} to ${to}`);
  }
}

/** Outcomes that satisfy an `all_success` dependent. Skipped counts as done-and-fine (admin said so). */
export function isSuccessOutcome(state: TaskState): boolean {
  return state === 'succeeded' || state === 'skipped';
}

export function legalTargets(from: TaskState): readonly TaskState[] {
  return LEGAL[from];
}
