/**
 * Writes the store refused (disk full, read-only, I/O), kept by task and
 * tried again every RETRY_MS until they go through: a result is never lost
 * and a task never stays running unrecorded. Each is retried on its own, so
 * one that still fails holds back no other.
 */
import { isColonyError } from '../core/errors.js';

const RETRY_MS = 500;

/**
 * The store refused a write (disk full, read-only, I/O): worth retrying later, unlike a logic error. A fenced
 * host's writes (E_HOST_FENCED) are kept the same way — they never go through, the host is about to exit, and the
 * next owner recovers the task — so a refused write cannot throw out of the code that made it.
 */
export function isStoreRefusal(e: unknown): boolean {
  return isColonyError(e) && (e.code === 'E_STORE' || e.code === 'E_HOST_FENCED');
}

export class PendingWrites {
  private readonly pending = new Map<string, () => void>();
  private timer: NodeJS.Timeout | null = null;

  /** `canWrite`: false once the store is closed (the retries stop; recovery takes over at the next start). */
  constructor(private readonly canWrite: () => boolean) {}

  keep(taskId: string, write: () => void): void {
    this.pending.set(taskId, write);
    if (this.timer) return;
    this.timer = setInterval(() => this.retry(), RETRY_MS);
    this.timer.unref();
  }

  ids(): string[] {
    return [...this.pending.keys()];
  }

  clear(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.pending.clear();
  }

  private retry(): void {
    if (!this.canWrite()) return this.clear();
    for (const [id, write] of this.pending) {
      try {
        write();
        this.pending.delete(id);
      } catch (e) {
        if (!isStoreRefusal(e)) this.pending.delete(id); // not the disk: retrying will not help
      }
    }
    if (this.pending.size === 0) this.clear();
  }
}
