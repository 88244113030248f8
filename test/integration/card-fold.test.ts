/**
 * Worker cards are folded per group commit (issue 17): however often a
 * worker's card changes in one event-loop turn, the store writes one live
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
import { makeTempDir } from '../helpers/proc.js';

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

describe('worker cards folded per group commit', () => {
  it('stores and publishes one event per worker per commit, with the newest card', async () => {
    const tmp = makeTempDir('colony-card-fold-');
    cleanup = tmp.cleanup;
    const s = Store.open(join(tmp.dir, 'colony.db'));
    store = s;
    const service = new TaskService(s, defaultConfig());
    const live: EventRecord[] = [];
    s.subscribe((evs) => live.push(...evs.filter((e) => e.kind === 'worker')));

    service.publishWorker(card('pool-1', 'running', 'a'));
    service.publishWorker(card('pool-2', 'running', 'b'));
    service.publishWorker(card('pool-1', 'idle', null));
    service.publishWorker(card('pool-1', 'running', 'c'));
    await s.grouped(() => undefined); // queued after the cards: settles once they committed

    const stored = s.eventsSince(0).filter((e) => e.kind === 'worker');
    expect(stored.map((e) => [e.data['id'], e.data['task_id']])).toEqual([
      ['pool-1', 'c'],
      ['pool-2', 'b'],
    ]);
    expect(live.map((e) => e.id)).toEqual(stored.map((e) => e.id));

    // A change in a later turn is a new event, not swallowed by the fold.
    service.publishWorker(card('pool-1', 'idle', null));
    await s.grouped(() => undefined);
    const after = s.eventsSince(0).filter((e) => e.kind === 'worker');
    expect(after).toHaveLength(3);
    expect(after[2]?.data).toMatchObject({ id: 'pool-1', status: 'idle', task_id: null });
  });
});
