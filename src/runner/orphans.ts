/**
 * The sweep at recovery (host side): before any interrupted attempt is closed
 * and its task requeued (TaskService.recover), every process of every attempt
 * the store still has open is ended and confirmed gone, so a task never runs
 * again while anything of its previous attempt may still be running (its
 * side effects would then happen twice). Identity is checked for each process
 * (engines/process-tree.ts): a pid reused by an unrelated process is never
 * touched. Each swept attempt gets an audit record.
 *
 * Runs under the host lock (store/host-lock.ts): the attempts it finds open
 * cannot belong to a live host. Several hosts on one database: only the
 * graphs of this host (at start) or of the dead host it adopts (runner/adopt.ts).
 */
import { ColonyError } from '../core/errors.js';
import { pruneEmptyAttemptCgroups } from '../engines/attempt-cgroup.js';
import { sweepAttempts } from '../engines/process-tree.js';
import { SYSTEM, type Store } from '../store/store.js';

export interface OrphanSweep {
  /** Open attempts that had a process record. */
  attempts: number;
  /** Processes found alive and killed. */
  killed: number;
}

/** `graphs`: only those graphs' attempts (several hosts: this host's own, or those it adopts); undefined: all. */
export function sweepOrphans(store: Store, reason: string, timeoutMs = 10_000, graphs?: readonly string[]): OrphanSweep {
  pruneEmptyAttemptCgroups();
  const open = store.openAttemptProcesses(graphs);
  if (open.length === 0) return { attempts: 0, killed: 0 };
  const r = sweepAttempts(open, timeoutMs); // one pass over /proc for all of them
  const alive = new Set(r.remaining);
  store.transaction(() =>
    open.forEach((rec, i) => {
      store.appendAudit({
        ...SYSTEM,
        action: 'attempt.processes_ended',
        target: rec.task_id,
        detail: { attempt: rec.attempt, reason, pid: rec.pid, cgroup: rec.cgroup, killed: r.killedPer[i] ?? 0 },
      });
    }),
  );
  if (alive.size > 0) {
    throw new ColonyError(
      'E_ORPHANS_ALIVE',
      `processes ${r.remaining.join(', ')} of interrupted attempts are still alive after SIGKILL; not recovering while they run (end them, then start again)`,
      { pids: r.remaining },
    );
  }
  return { attempts: open.length, killed: r.killed };
}
