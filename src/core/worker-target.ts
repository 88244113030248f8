/**
 * Whether a task may name a worker as its target (issue 14's leftover: a task
 * for a revoked, unknown or someone else's worker used to wait for ever). Pure:
 * the caller looks the worker up. Another user's worker reads exactly like an
 * unknown one, so a refusal never reveals that a worker id exists.
 */
export interface TargetWorker {
  id: string;
  owner: string;
  open_to_admin: boolean;
  revoked_at: number | null;
}

/** null when `submittedBy` may send tasks to `w`; otherwise the reason it never could (shown to the submitter). */
export function workerTargetProblem(id: string, w: TargetWorker | null, submittedBy: string): string | null {
  const mine = w !== null && (w.owner === submittedBy || submittedBy === 'admin');
  if (!w || !mine) return `no worker "${id}" you can send tasks to (unknown, or not yours): name one of your paired workers, or use "own-worker"`;
  if (w.revoked_at !== null) return `worker "${id}" was revoked: it can never run tasks again; pair a new worker and name it instead`;
  if (w.owner !== submittedBy && !w.open_to_admin) return `worker "${id}" was not opened to admin tasks by its owner (colony worker --open-to-admin)`;
  return null;
}

/** The worker id a lane waits for ('worker:<id>'), or null for the host's and users' lanes. */
export function workerOfLane(lane: string): string | null {
  return lane.startsWith('worker:') ? lane.slice('worker:'.length) : null;
}
