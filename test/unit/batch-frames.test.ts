import { describe, expect, it } from 'vitest';
import { planFrames } from '../../src/core/batch.js';
import { batchItemsFrom, MAX_BATCH_ITEM_BYTES, MAX_BATCH_ITEMS, parseMessage } from '../../src/core/protocol.js';
import { samples } from '../helpers/protocol-samples.js';

const item = (n: number, text = 'x') => ({ n, text });
const flat = (frames: ReturnType<typeof planFrames<{ n: number; text: string }>>) =>
  frames.flatMap((f) => (f.kind === 'single' ? [f.item.n] : f.items.map((i) => i.n)));

describe('planFrames', () => {
  it('puts a run together, a run of one alone, and keeps the order', () => {
    expect(planFrames([item(1)])).toEqual([{ kind: 'single', item: item(1) }]);
    const frames = planFrames([1, 2, 3].map((n) => item(n)));
    expect(frames).toEqual([{ kind: 'batch', items: [item(1), item(2), item(3)] }]);
  });

  it('cuts at the item cap and the byte cap', () => {
    const many = Array.from({ length: MAX_BATCH_ITEMS * 2 + 1 }, (_, n) => item(n));
    const frames = planFrames(many);
    expect(frames.map((f) => (f.kind === 'batch' ? f.items.length : 1))).toEqual([MAX_BATCH_ITEMS, MAX_BATCH_ITEMS, 1]);
    expect(flat(frames)).toEqual(many.map((i) => i.n));
    const bytes = planFrames(
      [1, 2, 3, 4].map((n) => item(n, 'y'.repeat(1000))),
      { maxBytes: 2500 },
    );
    expect(bytes.map((f) => (f.kind === 'batch' ? f.items.length : 1))).toEqual([2, 2]);
  });

  it('sends alone what is too large or what the caller keeps, between the batches around it, in order', () => {
    const big = item(3, 'z'.repeat(MAX_BATCH_ITEM_BYTES + 1));
    const list = [item(1), item(2), big, item(4), item(5), item(6), item(7)];
    const frames = planFrames(list, { alone: (i) => i.n === 6 });
    expect(frames.map((f) => f.kind)).toEqual(['batch', 'single', 'batch', 'single', 'single']);
    expect(flat(frames)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });
});

describe('the BATCH message', () => {
  const s = samples();
  it('parses a well-formed batch; items carry no signature of their own and at most MAX_BATCH_ITEMS of them', () => {
    expect(parseMessage(JSON.stringify(s.BATCH)).ok).toBe(true);
    const withSig = { ...s.BATCH, items: [{ ...s.BATCH.items[0], sig: 'A'.repeat(86) }] };
    expect(parseMessage(JSON.stringify(withSig)).ok).toBe(false);
    const tooMany = { ...s.BATCH, items: Array.from({ length: MAX_BATCH_ITEMS + 1 }, () => s.BATCH.items[0]) };
    expect(parseMessage(JSON.stringify(tooMany)).ok).toBe(false);
    expect(parseMessage(JSON.stringify({ ...s.BATCH, items: [] })).ok).toBe(false);
    expect(
      parseMessage(JSON.stringify({ ...s.BATCH, items: [{ type: 'HEARTBEAT', worker_id: 'w', seq: 1, running: [], nonce: 'n0nce-0123456789abcdef' }] })).ok,
    ).toBe(false);
  });

  it('tells which side may have sent its items', () => {
    expect(batchItemsFrom(s.BATCH.items, 'worker')).toBe(true);
    expect(batchItemsFrom(s.BATCH.items, 'host')).toBe(false);
    const { sig: _s, ...order } = s.TASK_ASSIGNED;
    expect(batchItemsFrom([order], 'host')).toBe(true);
    expect(batchItemsFrom([order, ...s.BATCH.items], 'worker')).toBe(false);
  });
});
