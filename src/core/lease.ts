/**
 * Leases on remote task attempts, with Temporal's timeout semantics (DESIGN §6:
 * "a worker that goes silent loses its task, which is requeued"). Pure: the
 * host keeps the records (in memory and/or the store) and passes `now`.
 *
 * - schedule-to-start: TASK_ASSIGNED creates an `offered` lease that expires at
 *   the assignment's `expires_at`. A worker that neither accepts nor rejects by
 *   then loses it.
 * - heartbeat timeout: TASK_ACCEPTED turns it into a `running` lease that
 *   expires `lease_ms` after the last heartbeat (or progress message) naming it.
 *   Each renewal pushes expires_at to now + lease_ms.
 * - start-to-close (the task's run_timeout_s) is enforced by the worker's
 *   engine and by the host's own timer, not by the lease.
 *
 * An expired lease is final: its attempt is fenced off (core/replay.ts rejects
 * its late results) and the task is requeued as attempt + 1. A late heartbeat
 * cannot resurrect it — otherwise two workers could run the same task.
 */
export type LeasePhase = 'offered' | 'running';

export interface Lease {
  task_id: string;
  attempt: number;
  worker_id: string;
  phase: LeasePhase;
  expires_at: number;
  lease_ms: number; // heartbeat timeout granted with the assignment
}

export interface LeaseTarget {
  task_id: string;
  attempt: number;
  worker_id: string;
}

export type LeaseResult = { ok: true; lease: Lease } | { ok: false; reason: string };

/**
 * A new `offered` lease, valid until the schedule-to-start deadline
 * (the `expires_at` put in TASK_ASSIGNED), defaulting to now + lease_ms.
 */
export function grantLease(target: LeaseTarget, now: number, leaseMs: number, startBy: number = now + leaseMs): Lease {
  if (!(leaseMs > 0)) throw new RangeError(`lease_ms must be positive, got ${leaseMs}`);
  return { ...target, phase: 'offered', expires_at: startBy, lease_ms: leaseMs };
}

/** TASK_ACCEPTED: offered → running, heartbeat clock starts now. */
export function activate(lease: Lease, now: number): LeaseResult {
  if (lease.expires_at <= now) return { ok: false, reason: `lease for ${lease.task_id}#${lease.attempt} expired before it was accepted` };
  return { ok: true, lease: { ...lease, phase: 'running', expires_at: now + lease.lease_ms } };
}

/** Heartbeat or progress for one running lease. Refused once expired (the task may already be requeued). */
export function renew(lease: Lease, now: number): LeaseResult {
  if (lease.phase !== 'running') return { ok: false, reason: `lease for ${lease.task_id}#${lease.attempt} is not accepted yet` };
  if (lease.expires_at <= now) return { ok: false, reason: `lease for ${lease.task_id}#${lease.attempt} already expired` };
  // Never shorten: a renewal computed from a slightly older `now` must not pull the deadline in.
  return { ok: true, lease: { ...lease, expires_at: Math.max(lease.expires_at, now + lease.lease_ms) } };
}

export interface HeartbeatReconciliation {
  /** All leases, with this worker's reported running ones renewed. */
  leases: Lease[];
  /** Reported by the worker but not (validly) leased to it: the host should send TASK_CANCELLED. */
  unknown: Array<{ task_id: string; attempt: number }>;
  /** Leased to the worker as running but not reported: it lost them; they lapse by timeout (Temporal does not shortcut this). */
  missing: Lease[];
}

/** Applies a worker's HEARTBEAT `running` list to the lease table. */
export function renewFromHeartbeat(
  leases: readonly Lease[],
  workerId: string,
  running: ReadonlyArray<{ task_id: string; attempt: number }>,
  now: number,
): HeartbeatReconciliation {
  const reported = new Set(running.map((r) => refKey(r.task_id, r.attempt)));
  const matched = new Set<string>();
  const missing: Lease[] = [];
  const out = leases.map((l) => {
    if (l.worker_id !== workerId) return l;
    const key = refKey(l.task_id, l.attempt);
    if (!reported.has(key)) {
      if (l.phase === 'running') missing.push(l);
      return l;
    }
    // An expired lease stays unmatched: the worker must be told to stop (the task is being requeued).
    if (l.expires_at <= now) return l;
    matched.add(key);
    // Reporting an offered task as running implies acceptance was lost in flight; keep waiting for TASK_ACCEPTED.
    const r = renew(l, now);
    return r.ok ? r.lease : l;
  });
  const unknown = running.filter((r) => !matched.has(refKey(r.task_id, r.attempt))).map((r) => ({ task_id: r.task_id, attempt: r.attempt }));
  return { leases: out, unknown, missing };
}

export interface ExpiredLease {
  lease: Lease;
  reason: 'schedule_to_start' | 'heartbeat_timeout';
  /** The attempt number the requeued task will run as. */
  next_attempt: number;
}

/** Leases that have lapsed at `now`: each task must be requeued as attempt + 1 and its lease dropped. */
export function expired(leases: readonly Lease[], now: number): ExpiredLease[] {
  return leases
    .filter((l) => l.expires_at <= now)
    .map((l) => ({
      lease: l,
      reason: l.phase === 'offered' ? ('schedule_to_start' as const) : ('heartbeat_timeout' as const),
      next_attempt: l.attempt + 1,
    }));
}

/** The earliest deadline among `leases` (when the host should next call `expired`), or null. */
export function nextExpiry(leases: readonly Lease[]): number | null {
  let min: number | null = null;
  for (const l of leases) if (min === null || l.expires_at < min) min = l.expires_at;
  return min;
}

function refKey(taskId: string, attempt: number): string {
  return `${attempt}\u0000${taskId}`;
}
