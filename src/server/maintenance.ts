/**
 * Periodic housekeeping of a running host (issue 14): the retention prune of
 * old events and output, and the signed audit checkpoints (written on a timer
 * and once more at shutdown). Timers are unref'd: they never keep the process alive.
 */
import type { Host } from '../runner/host.js';
import { pruneOld } from '../store/retention.js';

export interface Maintenance {
  /** Stops the timers and runs the shutdown work (a last checkpoint). */
  stop(): void;
}

export interface MaintenanceTask {
  everyMs: number;
  run: () => void;
  atStop?: boolean;
}

export function startMaintenance(host: Host, extra: readonly MaintenanceTask[] = []): Maintenance {
  const r = host.config.retention;
  const tasks: MaintenanceTask[] = [{ everyMs: r.prune_interval_s * 1000, run: () => void pruneOld(host.store, r, Date.now()) }, ...extra];
  const safe = (t: MaintenanceTask) => (): void => {
    try {
      t.run();
    } catch (e) {
      process.stderr.write(`colony: maintenance failed: ${e instanceof Error ? e.message : String(e)}\n`);
    }
  };
  for (const t of tasks) safe(t)();
  const timers = tasks.map((t) => setInterval(safe(t), t.everyMs).unref());
  return {
    stop() {
      for (const t of timers) clearInterval(t);
      for (const t of tasks) if (t.atStop) safe(t)();
    },
  };
}
