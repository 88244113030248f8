/**
 * The store's group commit (`Store.grouped`), used by the local pool to start
 * and finish attempts: writes queued in one event-loop turn commit together,
 * each in its own savepoint; a failing write rolls back alone (SQL, audit
 * chain head and live events); other writes flush the queue first so the
 * store sees writes in call order; close() commits what is queued.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/core/scheduler.js';
import { isColonyError } from '../../src/core/errors.js';
import { Store, SYSTEM } from '../../src/store/store.js';
import type { EventRecord } from '../../src/store/rows.js';
import { makeTempDir } from '../helpers/proc.js';
import { auditCount, submit, task } from './store-conformance.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()?.();
});

function rig(n = 3): { store: Store; sched: Scheduler; file: string; ids: string[] } {
  const tmp = makeTempDir('colony-group-');
  const file = join(tmp.dir, 'colony.db');
  const store = Store.open(file);
  cleanups.push(() => {
    store.close();
    tmp.cleanup();
  });
  const sched = new Scheduler();
  const ids = Array.from({ length: n }, (_, i) => `g:t${i}`);
  submit(
    store,
    sched,
    'g',
    ids.map((id) => task(id)),
  );
  return { store, sched, file, ids };
}

function stateOf(store: Store, id: string): string | undefined {
  return store.getTask(id)?.state;
}

describe('Store.grouped (group commit)', () => {
  it('commits every write queued in one turn in one transaction, then publishes their events once, in order', async () => {
    const { store, sched, ids } = rig(3);
    const batches: EventRecord[][] = [];
    store.subscribe((evs) => batches.push(evs));
    const claimed = sched.claim('host', 3);
    const results = ids.map((id, i) =>
      store.grouped(() => {
        store.applyTransitions([claimed[i] as (typeof claimed)[number]], SYSTEM);
        return id;
      }),
    );
    // nothing is committed or published before the turn ends
    expect(stateOf(store, ids[0] as string)).toBe('ready');
    expect(batches).toHaveLength(0);
    await expect(Promise.all(results)).resolves.toEqual(ids);
    expect(ids.map((id) => stateOf(store, id))).toEqual(['assigned', 'assigned', 'assigned']);
    expect(batches).toHaveLength(1);
    expect(batches[0]?.map((e) => e.task_id)).toEqual(ids);
    expect(auditCount(store)).toBeGreaterThan(3);
  });

  it('rolls back only the write that failed: its rows, its audit records and its events', async () => {
    const { store, sched, ids } = rig(3);
    const events: EventRecord[] = [];
    store.subscribe((evs) => events.push(...evs));
    const auditBefore = auditCount(store);
    const claimed = sched.claim('host', 3);
    const ok1 = store.grouped(() => store.applyTransitions([claimed[0] as (typeof claimed)[number]], SYSTEM));
    const bad = store.grouped(() => {
      store.applyTransitions([claimed[1] as (typeof claimed)[number]], SYSTEM); // written, then undone
      store.applyTransitions([{ id: ids[2] as string, from: 'running', to: 'succeeded', reason: 'wrong from-state' }], SYSTEM);
    });
    const ok2 = store.grouped(() => store.applyTransitions([claimed[2] as (typeof claimed)[number]], SYSTEM));
    await ok1;
    await ok2;
    const err = await bad.then(
      () => null,
      (e: unknown) => e,
    );
    expect(isColonyError(err) && err.code).toBe('E_INVALID_TRANSITION');
    expect(ids.map((id) => stateOf(store, id))).toEqual(['assigned', 'ready', 'assigned']);
    expect(events.map((e) => e.task_id)).toEqual([ids[0], ids[2]]);
    expect(auditCount(store)).toBe(auditBefore + 2); // the chain stays intact across the rolled-back savepoint
  });

  it('flushes queued writes before any other write, so the store sees them in call order', async () => {
    const { store, sched, ids } = rig(1);
    const id = ids[0] as string;
    const claim = sched.claim('host', 1);
    const pending = store.grouped(() => store.applyTransitions(claim, SYSTEM));
    // a synchronous write that is only valid after the queued one
    store.applyTransitions(sched.start(id), SYSTEM);
    expect(stateOf(store, id)).toBe('running');
    await pending;
    expect(auditCount(store)).toBeGreaterThan(0);
  });

  it('commits queued writes on close, and they are there after reopening', async () => {
    const { store, sched, file, ids } = rig(1);
    const pending = store.grouped(() => store.applyTransitions(sched.claim('host', 1), SYSTEM));
    store.close();
    await pending;
    const again = Store.open(file);
    cleanups.push(() => again.close());
    expect(stateOf(again, ids[0] as string)).toBe('assigned');
    expect(auditCount(again)).toBeGreaterThan(0);
  });
});
