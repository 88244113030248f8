/**
 * One live viewer's outgoing queue (SSE and WebSocket alike). A viewer that
 * keeps up gets each store commit's events in one write as soon as they are
 * committed. A viewer whose socket is not draining (its last write was
 * refused: Node's buffer is past its high-water mark) gets nothing written
 * until the socket drains; what is committed meanwhile is queued here (as
 * references to the event text shared by every viewer of its redaction class)
 * and then goes out in one write, however many events and commits it spans.
 * Order is the queue's order; nothing is dropped or repeated.
 *
 * Bounded: once the bytes queued here plus the bytes the transport holds
 * unsent pass `maxBytes`, the viewer is too slow and `onTooSlow` runs (the
 * caller drops it, as before; it reconnects with Last-Event-ID).
 */

/** Past this many queued bytes a viewer that keeps up is written at once (a long replay does not pile up in one write). */
export const FLUSH_BYTES = 64 * 1024;

export interface OutboxSink {
  /** Bytes the transport holds unsent. */
  buffered(): number;
  /** True while the transport's last write was refused and 'drain' has not come. */
  backedUp(): boolean;
  /** Runs `fn` once, when the transport drains. */
  onceDrain(fn: () => void): void;
  /** Writes the chunks, in order, as one write to the socket. */
  write(chunks: readonly string[]): void;
}

export class Outbox {
  private chunks: string[] = [];
  private bytes = 0;
  private waiting = false;
  private closed = false;

  constructor(
    private readonly sink: OutboxSink,
    private readonly maxBytes: number,
    private readonly onTooSlow: () => void,
  ) {}

  /** Queues one chunk; false once the viewer is gone (closed, or dropped now for being too slow). */
  push(text: string): boolean {
    if (this.closed) return false;
    this.chunks.push(text);
    this.bytes += text.length;
    if (this.bytes + this.sink.buffered() > this.maxBytes) {
      this.tooSlow();
      return false;
    }
    if (this.bytes > FLUSH_BYTES) this.flush();
    return !this.closed;
  }

  /** Writes what is queued, unless the socket is not draining: then once it drains. */
  flush(): void {
    if (this.closed || this.waiting || this.chunks.length === 0) return;
    if (this.sink.backedUp()) {
      this.waiting = true;
      this.sink.onceDrain(() => {
        this.waiting = false;
        this.flush();
      });
      return;
    }
    const out = this.chunks;
    this.chunks = [];
    this.bytes = 0;
    this.sink.write(out);
    if (this.sink.buffered() > this.maxBytes) this.tooSlow();
  }

  /** Bytes queued here (not yet handed to the transport). */
  get queuedBytes(): number {
    return this.bytes;
  }

  /** Forgets the queue; nothing more is written. */
  close(): void {
    this.closed = true;
    this.chunks = [];
    this.bytes = 0;
  }

  private tooSlow(): void {
    this.close();
    this.onTooSlow();
  }
}
