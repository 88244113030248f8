/**
 * Approving a held task (POST /admin/approve/:id for a task, not a change).
 * The approval records the digest of the findings the admin was shown with
 * the task (GET /admin/pending); the gate runs the task later only while the
 * screens find exactly that (runner/safety-gate.ts). A client that passes the
 * digest it displayed gets a conflict if the findings changed in between.
 */
import { ColonyError } from '../core/errors.js';
import type { Transition } from '../core/scheduler.js';
import { SafetyReviewStore, type SafetyReview } from '../store/safety-reviews.js';
import type { Actor } from '../store/store.js';
import type { StoredTask } from '../store/rows.js';
import type { TaskService } from './service.js';

export interface ApprovedTask {
  transitions: Transition[];
  /** What the approval covers: the findings shown and their digest (null: nothing was screened yet). */
  approved: { digest: string; findings: SafetyReview['findings'] } | null;
}

export function approveHeldTask(service: TaskService, id: string, who: Actor, shownDigest?: string, now: () => number = Date.now): ApprovedTask {
  const reviews = new SafetyReviewStore(service.store);
  const review = reviews.get(id);
  if (shownDigest !== undefined && review?.digest !== shownDigest) {
    throw new ColonyError('E_CONFLICT', `the safety findings of task ${id} changed since they were shown; reload the pending list and review them again`, {
      digest: review?.digest ?? null,
      findings: review?.findings ?? null,
    });
  }
  return service.store.transaction(() => {
    if (review) reviews.approve(id, review.digest, who, now());
    const transitions = service.approve(id, who);
    return { transitions, approved: review ? { digest: review.digest, findings: review.findings } : null };
  });
}

export type PendingTask = StoredTask & { findings: SafetyReview['findings'] | null; review_digest: string | null; owner_host: string | null };

/** Tasks awaiting the admin, each with the screens' findings on its exact command. */
export function pendingWithFindings(service: TaskService, limit = 1000): PendingTask[] {
  const tasks = service.store.listTasks({ state: 'awaiting_approval', limit });
  const reviews = new SafetyReviewStore(service.store).getMany(tasks.map((t) => t.id));
  // Several hosts on PostgreSQL: another host's task is listed too, and approved through its owner.
  const owners = new Map<string, string | null>();
  const ownerOf = (graphId: string): string | null => {
    if (!owners.has(graphId)) owners.set(graphId, service.store.getGraph(graphId)?.owner_host ?? null);
    return owners.get(graphId) ?? null;
  };
  return tasks.map((t) => {
    const r = reviews.get(t.id);
    return { ...t, findings: r?.findings ?? null, review_digest: r?.digest ?? null, owner_host: ownerOf(t.graph_id) };
  });
}
