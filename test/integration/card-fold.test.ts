/**
 * Worker cards are folded (issue 17, runner/card-fold.ts): however often a
 * worker's card changes within the fold window, the store writes one live
 * event for it, carrying the newest card; a later change is published again.
 * Real SQLite file, real TaskService.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/core/config.js';
import type { WorkerCard } from '../../src/core/live-types.js';
import { TaskService } from '../../src/runner/service.js';
import type { EventRecord } from '../../src/store/rows.js';
import { Store } from '../../src/store/store.js';
import { makeTempDir, waitFor } from '../helpers/proc.js';

let cleanup: (() => void) | null = null;
let store: Store | null = null;
afterEach(() => {
  store?.close();
  store = null;
  cleanup?.();
  cleanup = null;
});

const card = (id: string, status: string, task: string | null): WorkerCard => ({
  id,
  kind: 'local',
  status,
  task_id: task,
  task_title: task,
  owner: null,
  engine: null,
  model: null,
  session_cost_usd: 0,
  tokens_used: 0,
  origin_ip: null,
});

function open(): { s: Store; service: TaskService } {
  const tmp = makeTempDir('colony-card-fold-');
  cleanup = tmp.cleanup;
  const s = Store.open(join(tmp.dir, 'colony.db'));
  store = s;
  return { s, service: new TaskService(s, defaultConfig()) };
}

describe('worker cards folded', () => {
  it('stores and publishes one event per worker per fold window, with the newest card', async () => {
    const { s, service } = open();
    const live: EventRecord[] = [];
    s.subscribe((evs) => live.push(...evs.filter((e) => e.kind === 'worker')));

    service.publishWorker(card('pool-1', 'running', 'a'));
    service.publishWorker(card('pool-2', 'running', 'b'));
    service.publishWorker(card('pool-1', 'idle', null));
    service.publishWorker(card('pool-1', 'running', 'c'));
    const workerEvents = (): EventRecord[] => s.eventsSince(0).filter((e) => e.kind === 'worker');
    await waitFor(() => workerEvents().length > 0, 'the cards to commit', 5000);
    await s.grouped(() => undefined); // a later commit: nothing else may follow

    const stored = workerEvents();
    expect(stored.map((e) => [e.data['id'], e.data['task_id']])).toEqual([
      ['pool-1', 'c'],
      ['pool-2', 'b'],
    ]);
    expect(live.map((e) => e.id)).toEqual(stored.map((e) => e.id));

    // A change in a later turn is a new event, not swallowed by the fold.
    service.publishWorker(card('pool-1', 'idle', null));
    await waitFor(() => workerEvents().length > 2, 'the later card to commit', 5000);
    await s.grouped(() => undefined);
    const after = workerEvents();
    expect(after).toHaveLength(3);
    expect(after[2]?.data).toMatchObject({ id: 'pool-1', status: 'idle', task_id: null });
  });

  it('a slot released and given its next task soon after stores only the newer card', async () => {
    const { s, service } = open();
    // As LocalPool does: the release card, then (a few turns later) the next task's start card set inside that start's commit.
    service.publishWorker(card('pool-1', 'idle', null));
    await new Promise((r) => setImmediate(r));
    await s.grouped(() => service.publishWorker(card('pool-1', 'running', 'd')));
    const workerEvents = (): EventRecord[] => s.eventsSince(0).filter((e) => e.kind === 'worker');
    await waitFor(() => workerEvents().length > 0, 'the card to commit', 5000);
    await s.grouped(() => undefined);
    expect(workerEvents().map((e) => [e.data['id'], e.data['status'], e.data['task_id']])).toEqual([['pool-1', 'running', 'd']]);
  });
});
