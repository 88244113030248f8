/**
 * The fence watchdog thread (runner/fence-watch.ts starts it): checks the
 * lease slot every few tens of milliseconds on its own event loop, which a
 * main thread busy with a big submission or blocked on an unanswered database
 * call does not delay. Past the safety fraction of the lease it marks the host
 * fenced (every store call refused from then on) and SIGKILLs the process
 * groups and cgroups of the attempts the main thread told it about, then
 * tells the main thread, which does the rest (remote cancels, log, exit).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { AttemptProcess } from '../core/engine.js';
import { fenceCheckEveryMs, leaseHealth } from '../core/self-fence.js';
import { sweepAttempts } from '../engines/process-tree.js';
import { lastRenewalSentMs, markFenced, monoMs } from '../store/pg/lease-slot.js';
import type { FenceOrder, FenceWorkerData } from './fence-watch.js';

const d = workerData as FenceWorkerData;
const port = parentPort;
const tracked = new Map<string, AttemptProcess>();
let fenced = false;

function check(): void {
  const c = leaseHealth({ now: monoMs(), lastSentAt: lastRenewalSentMs(d.slot), leaseMs: d.leaseMs, heartbeatMs: d.heartbeatMs, fraction: d.fraction });
  if (c.state !== 'fence' || fenced) return;
  fenced = true;
  clearInterval(timer);
  markFenced(d.slot);
  const r = sweepAttempts([...tracked.values()], 2_000);
  port?.postMessage({ kind: 'fenced', ageMs: c.ageMs, killed: r.killed, remaining: r.remaining });
}

const timer = setInterval(check, fenceCheckEveryMs(d.leaseMs, d.fraction));
port?.on('message', (m: FenceOrder) => {
  if (m.kind === 'track') {
    tracked.set(m.key, m.info);
    if (fenced) sweepAttempts([m.info], 2_000); // started while fencing: it does not survive either
  } else if (m.kind === 'untrack') tracked.delete(m.key);
  else {
    clearInterval(timer);
    port.close();
  }
});
