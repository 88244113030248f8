/**
 * After a host restart, a remote attempt the host closed as lost may still be
 * running on its worker: the worker stops it when it reconnects (the host no
 * longer leases it and says so) or once it has been offline longer than the
 * lease. Until one of those happened, the task is not offered to any worker,
 * so two attempts of a task never run at the same time on two machines.
 *
 *   released when: the worker's HEARTBEAT no longer lists the task, or
 *   lease + kill grace has passed since the host started (the worker's own
 *   offline watchdog has stopped it by then).
 */
import type { Store } from '../../store/store.js';

/** SIGTERM → SIGKILL grace of the worker's engines plus its watchdog tick. */
const KILL_GRACE_MS = 5000;
/** Lost attempts closed this recently (by the recovery that just ran) are held. */
const RECENT_MS = 60_000;

export class OrphanHold {
  private readonly held = new Map<string, { worker: string; until: number }>();

  constructor(store: Pick<Store, 'remoteAttemptsLostSince'>, now: number, leaseMs: number) {
    for (const a of store.remoteAttemptsLostSince(now - RECENT_MS)) {
      this.held.set(a.task_id, { worker: a.worker_id, until: now + leaseMs + KILL_GRACE_MS });
    }
  }

  get size(): number {
    return this.held.size;
  }

  isHeld(taskId: string, now: number): boolean {
    const h = this.held.get(taskId);
    if (!h) return false;
    if (now < h.until) return true;
    this.held.delete(taskId);
    return false;
  }

  /** A heartbeat of `workerId` listing what it runs: tasks held for it that it no longer runs are released. Returns how many. */
  heartbeat(workerId: string, running: ReadonlyArray<{ task_id: string }>): number {
    if (this.held.size === 0) return 0;
    const still = new Set(running.map((r) => r.task_id));
    let n = 0;
    for (const [id, h] of this.held) {
      if (h.worker === workerId && !still.has(id)) {
        this.held.delete(id);
        n++;
      }
    }
    return n;
  }
}
