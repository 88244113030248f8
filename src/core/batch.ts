/**
 * How a sender cuts a run of outgoing task messages into frames (protocol v3,
 * issue 17): consecutive messages go together in one BATCH (one signature for
 * all), within MAX_BATCH_ITEMS and MAX_BATCH_BYTES; a message that must travel
 * alone (too large, or the caller says so) gets its own frame. Order is kept:
 * frames come out in the order of the messages they carry. Pure.
 */
import { MAX_BATCH_BYTES, MAX_BATCH_ITEM_BYTES, MAX_BATCH_ITEMS, utf8Length } from './protocol-fields.js';

export type Frame<T> = { kind: 'single'; item: T } | { kind: 'batch'; items: T[] };

export interface PlanOptions<T> {
  /** True for an item that must be sent on its own (e.g. one whose signed text the sender keeps). */
  alone?: (item: T) => boolean;
  /** The message an item carries (what goes on the wire), when the item is a wrapper; default the item itself. */
  body?: (item: T) => unknown;
  maxItems?: number;
  maxBytes?: number;
}

/** Frames for `items`, in order. A run of one item is a single message (no envelope to pay for). */
export function planFrames<T>(items: readonly T[], o: PlanOptions<T> = {}): Array<Frame<T>> {
  const maxItems = o.maxItems ?? MAX_BATCH_ITEMS;
  const maxBytes = o.maxBytes ?? MAX_BATCH_BYTES;
  const frames: Array<Frame<T>> = [];
  let run: T[] = [];
  let bytes = 0;
  const close = (): void => {
    if (run.length === 1) frames.push({ kind: 'single', item: run[0] as T });
    else if (run.length > 1) frames.push({ kind: 'batch', items: run });
    run = [];
    bytes = 0;
  };
  for (const item of items) {
    const size = utf8Length(JSON.stringify(o.body ? o.body(item) : item));
    if (size > MAX_BATCH_ITEM_BYTES || o.alone?.(item)) {
      close();
      frames.push({ kind: 'single', item });
      continue;
    }
    if (run.length >= maxItems || bytes + size > maxBytes) close();
    run.push(item);
    bytes += size;
  }
  close();
  return frames;
}
