/**
 * Self-fencing by time (several hosts on one PostgreSQL): a host that cannot
 * prove its lease any more — its last acknowledged renewal was sent longer
 * ago than 0.8 × lease (core/self-fence.ts) — stops acting before another
 * host may claim its graphs: it refuses every store call, SIGKILLs its local
 * attempts (process groups and cgroups, engines/process-tree.ts), tells its
 * remote workers to stop (the stoppers), and reports (`onFence`: one log line
 * and exit 75 in a host). A host whose row was claimed goes the same way
 * (`fenceNow`).
 *
 * The check runs in a watchdog thread (fence-worker.ts) so neither a busy
 * main thread nor one blocked on an unanswered database call delays the kill;
 * the main thread checks too (a fallback), and every record is kept on both
 * sides so whichever fires first sweeps them all.
 */
import type { Worker } from 'node:worker_threads';
import type { AttemptProcess } from '../core/engine.js';
import { fenceCheckEveryMs, leaseHealth, SELF_FENCE_FRACTION } from '../core/self-fence.js';
import { sweepAttempts } from '../engines/process-tree.js';
import { lastRenewalSentMs, markFenced, monoMs, type LeaseSlot } from '../store/pg/lease-slot.js';
import { spawnWorker } from '../store/pg/sync-client.js';

export interface FenceWorkerData {
  slot: LeaseSlot;
  leaseMs: number;
  heartbeatMs: number;
  fraction: number;
}

export type FenceOrder = { kind: 'track'; key: string; info: AttemptProcess } | { kind: 'untrack'; key: string } | { kind: 'stop' };

export interface FenceEvent {
  /** One line for the log. */
  message: string;
  /** self: the lease could not be renewed in time; claimed: another host took this one's graphs. */
  cause: 'self' | 'claimed';
  /** Attempt processes found alive and killed. */
  killed: number;
}

export interface FenceWatchOptions {
  slot: LeaseSlot;
  hostId: string;
  leaseMs: number;
  heartbeatMs: number;
  fraction?: number;
  onFence: (e: FenceEvent) => void;
}

export class FenceWatch {
  private worker: Worker | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly tracked = new Map<string, AttemptProcess>();
  private readonly stoppers = new Set<(reason: string) => void>();
  private fired = false;
  private readonly fraction: number;

  constructor(private readonly o: FenceWatchOptions) {
    this.fraction = o.fraction ?? SELF_FENCE_FRACTION;
  }

  get fenced(): boolean {
    return this.fired;
  }

  start(): void {
    if (this.timer) return;
    const data: FenceWorkerData = { slot: this.o.slot, leaseMs: this.o.leaseMs, heartbeatMs: this.o.heartbeatMs, fraction: this.fraction };
    this.worker = spawnWorker({ workerData: data }, new URL('./fence-worker.js', import.meta.url));
    this.worker.unref();
    this.worker.on('error', (e) => process.stderr.write(`colony: fence watchdog thread failed: ${e.message} (the main thread still checks)\n`));
    this.worker.on('message', (m: { kind: 'fenced'; ageMs: number; killed: number }) => this.fire('self', m.ageMs, m.killed));
    this.timer = setInterval(() => this.check(), fenceCheckEveryMs(this.o.leaseMs, this.fraction));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.worker?.postMessage({ kind: 'stop' } satisfies FenceOrder);
    this.worker = null;
  }

  /** A local attempt's processes (LocalPool's onProcess): killed if the host fences while it runs. */
  track(taskId: string, info: AttemptProcess): void {
    this.tracked.set(taskId, info);
    this.worker?.postMessage({ kind: 'track', key: taskId, info } satisfies FenceOrder);
    if (this.fired) sweepAttempts([info], 2_000);
  }

  untrack(taskId: string): void {
    this.tracked.delete(taskId);
    this.worker?.postMessage({ kind: 'untrack', key: taskId } satisfies FenceOrder);
  }

  /** Called with the reason when the host fences (the remote dispatcher cancels its workers' tasks). */
  addStopper(fn: (reason: string) => void): () => void {
    this.stoppers.add(fn);
    return () => this.stoppers.delete(fn);
  }

  /** The main thread's own check (the watchdog thread normally fires first). */
  check(): void {
    const c = leaseHealth({
      now: monoMs(),
      lastSentAt: lastRenewalSentMs(this.o.slot),
      leaseMs: this.o.leaseMs,
      heartbeatMs: this.o.heartbeatMs,
      fraction: this.fraction,
    });
    if (c.state === 'fence') this.fire('self', c.ageMs, 0);
  }

  /** Another host took this one's graphs (its row was claimed): the same stop. */
  fenceNow(message: string): void {
    this.fire('claimed', 0, 0, message);
  }

  private fire(cause: FenceEvent['cause'], ageMs: number, killedThere: number, claimedMessage?: string): void {
    if (this.fired) return;
    this.fired = true;
    markFenced(this.o.slot); // every store call refused from now on: nothing is written
    this.stop();
    const killed = killedThere + sweepAttempts([...this.tracked.values()], 2_000).killed;
    const message =
      claimedMessage ??
      `this host (${this.o.hostId}) could not renew its database lease for ${Math.round(ageMs)} ms (${this.fraction} of the ${this.o.leaseMs} ms lease): it fenced itself, its running attempts were killed`;
    for (const s of this.stoppers) {
      try {
        s(message);
      } catch {
        // the others still run
      }
    }
    this.o.onFence({ message, cause, killed });
  }
}
