/**
 * Tasks that wait for a worker that will never come (issue 14's leftover):
 * a lane `worker:<id>` whose worker was revoked or never enrolled, or a lane
 * `user:<owner>` whose session the admin revoked and who has no worker left.
 * Their ready tasks are failed with the reason, which the owner's app shows
 * and the transition's audit record keeps. Failed, not held: the key was
 * revoked on purpose, so nothing may ever run them there, and a held task
 * would look like it is merely waiting. Tasks still waiting on dependencies,
 * or leased when the revocation came, become ready later and are caught by
 * the next sweep.
 */
import { workerOfLane } from '../../core/worker-target.js';
import type { SessionStore } from '../../store/sessions.js';
import { SYSTEM, type Actor } from '../../store/store.js';
import type { WorkerStore } from '../../store/workers.js';
import type { TaskStep } from '../../runner/task-port.js';

export interface StrandedDeps {
  service: {
    readyLanes(): string[];
    peekReady(lane: string): string[];
    stepDurably(taskId: string, step: TaskStep, who: Actor): void;
  };
  workers: WorkerStore;
  sessions: SessionStore;
  /** Worker ids connected right now (a connected worker's lane is never stranded). */
  connected: (id: string) => boolean;
}

/** Why nothing will ever take `lane`'s tasks, or null while something still could. */
export function strandedReason(d: StrandedDeps, lane: string): string | null {
  const id = workerOfLane(lane);
  if (id !== null) {
    if (d.connected(id)) return null;
    const w = d.workers.get(id);
    if (!w) return `worker ${id} is not enrolled on this host: the task can never run`;
    if (w.revoked_at !== null) return `worker ${id} was revoked: the task can never run there (pair a worker and submit it again)`;
    return null;
  }
  if (!lane.startsWith('user:session:')) return null;
  const owner = lane.slice('user:'.length);
  const s = d.sessions.get(owner.slice('session:'.length));
  if (!s?.revoked) return null; // a live user may still pair a worker
  if (d.workers.list({ owner }).length > 0) return null;
  return "its submitter's session was revoked by the host's admin and no worker of theirs is left to run it";
}

/** Fails the ready tasks of every stranded lane; returns their ids. */
export function failStranded(d: StrandedDeps, who: Actor = SYSTEM): string[] {
  const failed: string[] = [];
  for (const lane of d.service.readyLanes()) {
    const reason = strandedReason(d, lane);
    if (!reason) continue;
    for (const taskId of d.service.peekReady(lane)) {
      try {
        d.service.stepDurably(taskId, { kind: 'finish', state: 'failed', reason }, who);
        failed.push(taskId);
      } catch {
        /* claimed meanwhile, or the store refused: the next sweep looks again */
      }
    }
  }
  return failed;
}
