/**
 * The lease slot: shared memory between the threads of one host (several
 * hosts on PostgreSQL, self-fencing). [0] is when the last renewal of this
 * host's lease that the database acknowledged was SENT, in nanoseconds of the
 * process's monotonic clock (process.hrtime: one clock for every thread);
 * [1] is set once the host fenced itself (every store call refused from then
 * on). The renewal runs in the PostgreSQL worker thread, the check in the
 * fence watchdog thread (runner/fence-worker.ts), so a busy main thread
 * delays neither.
 */

export type LeaseSlot = SharedArrayBuffer;

export function newLeaseSlot(): LeaseSlot {
  const slot = new SharedArrayBuffer(16);
  new BigInt64Array(slot)[0] = process.hrtime.bigint();
  return slot;
}

/** The monotonic clock of the slot, in milliseconds. */
export function monoMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** A renewal sent at `sentNs` was acknowledged: keep the latest send time (two threads renew). */
export function noteRenewal(slot: LeaseSlot, sentNs: bigint): void {
  const a = new BigInt64Array(slot);
  for (;;) {
    const cur = Atomics.load(a, 0);
    if (sentNs <= cur || Atomics.compareExchange(a, 0, cur, sentNs) === cur) return;
  }
}

export function lastRenewalSentMs(slot: LeaseSlot): number {
  return Number(Atomics.load(new BigInt64Array(slot), 0)) / 1e6;
}

/** True for the one caller that fenced the host (the others find it fenced already). */
export function markFenced(slot: LeaseSlot): boolean {
  return Atomics.compareExchange(new BigInt64Array(slot), 1, 0n, 1n) === 0n;
}

export function isFencedSlot(slot: LeaseSlot): boolean {
  return Atomics.load(new BigInt64Array(slot), 1) !== 0n;
}
