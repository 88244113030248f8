/**
 * Checked UPDATEs of one text in a group commit merged into one statement on
 * PostgreSQL (store/pg/merge-update.ts): the merged statement runs on a real
 * server and commits what the writes one by one would; a guard that fails in
 * it (a stale attempt counter, a transition from the wrong state) rolls the
 * batch back and the replay fails that write alone with its own error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isColonyError } from '../../src/core/errors.js';
import { Scheduler } from '../../src/core/scheduler.js';
import { Cluster } from '../../src/store/cluster.js';
import { dbOf } from '../../src/store/internal.js';
import { openStore } from '../../src/store/open.js';
import type { PgDb } from '../../src/store/pg/pg-db.js';
import { SYSTEM, type AttemptEnd } from '../../src/store/store.js';
import { pgMissing, startPg, type PgCluster } from '../helpers/pg.js';
import { auditCount, submit, task } from './store-conformance.js';

const missing = pgMissing();
let cluster: PgCluster | null = null;

beforeAll(async () => {
  if (!missing) cluster = await startPg();
}, 120_000);

afterAll(() => cluster?.destroy());

const info = { engine: 'exec', model: null, worker_id: 'w', route_rule: null, route_explanation: null };
const ok: AttemptEnd = {
  state: 'succeeded',
  engine: 'exec',
  model: null,
  cost_usd: 0.5,
  cost_source: 'reported',
  usage: { input: 3, output: 4, cache_read: 0, cache_write: 0 },
  error_code: null,
  summary: "it's done \\ ok",
};

describe.skipIf(missing !== null)('PostgreSQL: merged checked UPDATEs', () => {
  it('merges the starts and finishes of a group into one UPDATE each; a failing guard replays, failing that write alone', async () => {
    const store = openStore(await (cluster as PgCluster).createDatabase('merge_updates'));
    Cluster.join(store, { hostId: 'merge', leaseMs: 600_000, beatMs: null, onFenced: () => undefined });
    try {
      const db = dbOf(store) as PgDb;
      const sched = new Scheduler();
      const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((x) => `g:${x}`);
      submit(
        store,
        sched,
        'g',
        ids.map((id) => task(id)),
      );
      store.applyTransitions(sched.claim('host', ids.length), SYSTEM);
      // A first start alone: the server is asked the shape of its UPDATE after this commit.
      await store.grouped(() => store.startAttempt('g:a', info, sched.start('g:a'), SYSTEM));

      const merged0 = db.stats.merged_updates;
      const started = await Promise.all(['g:b', 'g:c', 'g:e'].map((id) => store.grouped(() => store.startAttempt(id, info, sched.start(id), SYSTEM))));
      expect(started).toEqual([1, 1, 1]);
      expect(db.stats.merged_updates - merged0).toBe(2);

      // a's attempt finished alone (its UPDATEs' shapes are learned), then b and c in one group: attempt rows and task rows merged.
      await store.grouped(() => store.finishAttempt('g:a', 1, ok, sched.finish('g:a', 'succeeded', 'exit 0'), SYSTEM));
      const merged1 = db.stats.merged_updates;
      await Promise.all(['g:b', 'g:c'].map((id) => store.grouped(() => store.finishAttempt(id, 1, ok, sched.finish(id, 'succeeded', 'exit 0'), SYSTEM))));
      expect(db.stats.merged_updates - merged1).toBe(2);
      for (const id of ['g:a', 'g:b', 'g:c']) {
        expect(store.getTask(id)).toMatchObject({ state: 'succeeded', attempt: 1, cost_usd: 0.5, tokens_in: 3, tokens_out: 4 });
        expect(store.attemptsOf(id)).toMatchObject([{ state: 'succeeded', summary: ok.summary, cost_usd: 0.5, finished_at: expect.any(Number) }]);
      }

      const events: string[] = [];
      store.subscribe((evs) => events.push(...evs.map((e) => `${e.kind}:${e.task_id ?? ''}`)));
      // b's attempt finished again in a group with e's: refused alone (its attempt row's guard), e's commits.
      let before = auditCount(store);
      const again = store.grouped(() => store.finishAttempt('g:b', 1, ok, [], SYSTEM));
      const trE = sched.finish('g:e', 'succeeded', 'exit 0'); // outside the grouped function: a replay runs that again
      const e = store.grouped(() => store.finishAttempt('g:e', 1, ok, trE, SYSTEM));
      const [ragain, re] = await Promise.allSettled([again, e]);
      expect(ragain.status === 'rejected' && isColonyError(ragain.reason) ? ragain.reason.code : ragain.status).toBe('E_INVALID_TRANSITION');
      expect(re.status).toBe('fulfilled');
      expect(store.getTask('g:b')).toMatchObject({ cost_usd: 0.5, tokens_in: 3 });
      expect(store.getTask('g:e')?.state).toBe('succeeded');
      expect(auditCount(store)).toBe(before + 2); // e's attempt.finished and transition, nothing of b's

      // d's attempt counter moved behind the store's back; g is asked to leave a state it is not in.
      dbOf(store).prepare("UPDATE tasks SET attempt = 5 WHERE id = 'g:d'").run();
      before = auditCount(store);
      const starts = ['g:d', 'g:f'].map((id) => {
        const trs = sched.start(id);
        return store.grouped(() => store.startAttempt(id, info, trs, SYSTEM));
      });
      const wrong = store.grouped(() => store.applyTransitions([{ id: 'g:g', from: 'running', to: 'succeeded', reason: 'wrong' }], SYSTEM));
      const [rd, rf] = await Promise.allSettled(starts);
      const [rwrong] = await Promise.allSettled([wrong]);
      expect([rd, rf]).toEqual([6, 1].map((value) => ({ status: 'fulfilled', value })));
      expect(rwrong?.status === 'rejected' && isColonyError(rwrong.reason) ? rwrong.reason.code : rwrong?.status).toBe('E_INVALID_TRANSITION');
      expect(store.getTask('g:g')?.state).toBe('assigned');
      expect(events.filter((x) => x.startsWith('attempt.started'))).toEqual(['attempt.started:g:d', 'attempt.started:g:f']);
      expect(auditCount(store)).toBe(before + 2);
      expect(store.verifyAudit().ok).toBe(true);
    } finally {
      store.close();
    }
  });
});
