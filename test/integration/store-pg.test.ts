/**
 * The store over PostgreSQL (a throwaway cluster on a temp data dir): the
 * shared conformance suite, then what is PostgreSQL's own — migrations under
 * the advisory lock with the same versions as SQLite (each store joined as a host), sibling stores through
 * the SQL port, and a lost connection failing fast with E_STORE and coming
 * back by itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isColonyError } from '../../src/core/errors.js';
import { Scheduler } from '../../src/core/scheduler.js';
import { BanStore } from '../../src/store/bans.js';
import { ChangeStore } from '../../src/store/changes.js';
import { Cluster } from '../../src/store/cluster.js';
import { schemaVersion } from '../../src/store/db.js';
import { dbOf } from '../../src/store/internal.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { openStore } from '../../src/store/open.js';
import { Store, SYSTEM } from '../../src/store/store.js';
import { pgMissing, startPg, type PgCluster } from '../helpers/pg.js';
import { ADMIN, auditCount, codeOf, describeStoreConformance, submit, task, type StoreFixture } from './store-conformance.js';

const missing = pgMissing();
let cluster: PgCluster | null = null;
// describeStoreConformance takes a synchronous factory: each fixture gets a fresh database, made ahead.
const urls: string[] = [];

beforeAll(async () => {
  if (missing) return;
  cluster = await startPg();
  for (let i = 0; i < 20; i++) urls.push(await cluster.createDatabase(`conf_${i}`));
}, 120_000);

afterAll(() => cluster?.destroy());

/** Each store joins the database as a host (store/cluster.ts): every write transaction takes the write lock and re-reads the heads. */
function joined(url: string): Store {
  const store = openStore(url);
  Cluster.join(store, { hostId: 'conformance', leaseMs: 600_000, beatMs: null, onFenced: () => undefined });
  return store;
}

function pgFixture(): StoreFixture & { url: string } {
  const url = urls.shift();
  if (!url) throw new Error('out of prepared databases');
  let store = joined(url);
  return {
    url,
    get store() {
      return store;
    },
    reopen() {
      store.close();
      store = joined(url);
      return store;
    },
    dispose() {
      store.close();
    },
  };
}

describe.skipIf(missing !== null)(`PostgreSQL store${missing ? ` (skipped: ${missing})` : ''}`, () => {
  describeStoreConformance(pgFixture, 'PostgreSQL');

  it('migrates to the same schema versions as SQLite, once, and reopens without migrating again', () => {
    const fx = pgFixture();
    try {
      const latest = Math.max(...MIGRATIONS.map((m) => m.version));
      expect(schemaVersion(dbOf(fx.store))).toBe(latest);
      const again = fx.reopen() as Store;
      expect(dbOf(again).prepare('SELECT COUNT(*) AS n FROM schema_version').get()).toEqual({ n: MIGRATIONS.length });
    } finally {
      fx.dispose();
    }
  });

  it('runs the sibling stores through the same port (INSERT OR IGNORE / OR REPLACE)', () => {
    const fx = pgFixture();
    try {
      const store = fx.store as Store;
      const bans = new BanStore(store);
      bans.add([{ kind: 'address', value: '10.0.0.9' }], null, 1, ADMIN);
      bans.add([{ kind: 'address', value: '10.0.0.9' }], null, 2, ADMIN); // idempotent
      expect(bans.list().map((b) => [b.value, b.created_at])).toEqual([['10.0.0.9', 1]]);
      expect(bans.has('address', '10.0.0.9')).toBe(true);
      const changes = new ChangeStore(store);
      const c = {
        task_id: 't1',
        repo_dir: '/r',
        worktree_path: '/w',
        branch: 'b',
        base_commit: 'a',
        head_commit: 'b',
        target_branch: 'main',
        files: [],
        stat: { files_changed: 0, insertions: 0, deletions: 0, text: '' },
        patch: 'p1',
        hold: false,
        created_at: 1,
      };
      changes.add(c, ADMIN);
      changes.add({ ...c, patch: 'p2' }, ADMIN);
      expect(changes.get('t1')?.patch).toBe('p2');
      expect(store.verifyAudit().ok).toBe(true);
    } finally {
      fx.dispose();
    }
  });

  it('fails fast with E_STORE while the connection is gone and carries on once it is back, nothing lost', () => {
    const fx = pgFixture();
    const c = cluster as PgCluster;
    try {
      const { store } = fx;
      const sched = new Scheduler();
      submit(store, sched, 'g', [task('g:a'), task('g:b')]);
      c.stop();
      const claim = sched.claim('host', 1, (id) => id === 'g:a');
      expect(codeOf(() => store.applyTransitions(claim, SYSTEM))).toBe('E_STORE');
      expect(codeOf(() => store.getTask('g:a'))).toBe('E_STORE');
      c.start();
      store.applyTransitions(claim, SYSTEM); // the same write, retried (runner/pending-writes does this every 500 ms)
      expect(store.getTask('g:a')?.state).toBe('assigned');
      expect(store.verifyAudit()).toMatchObject({ ok: true, count: 4 });
    } finally {
      fx.dispose();
    }
  }, 60_000);

  // Deferred writes (pg-db.ts): a group commit is one batch; when the batch fails, the transaction is
  // replayed step by step, so each write fails alone with the error it always had.
  it('replays a failed batch of grouped writes step by step: the bad writes reject alone with their own errors, the rest commit once', async () => {
    const fx = pgFixture();
    try {
      const { store } = fx;
      const sched = new Scheduler();
      submit(store, sched, 'g', [task('g:a'), task('g:b'), task('g:c')]);
      store.applyTransitions(sched.claim('host', 3), SYSTEM);
      // The row's attempt counter moved behind the store's back: what the store knows of it is stale.
      dbOf(store).prepare("UPDATE tasks SET attempt = 5 WHERE id = 'g:b'").run();
      const start = { engine: 'exec', model: null, worker_id: 'w', route_rule: null, route_explanation: null };
      const events: string[] = [];
      store.subscribe((evs) => events.push(...evs.map((e) => `${e.kind}:${e.task_id ?? ''}`)));
      const before = auditCount(store);
      // Scheduler steps outside the grouped functions: a replay runs those again (as runner/service.ts does).
      const [trA, trB] = [sched.start('g:a'), sched.start('g:b')];
      const a = store.grouped(() => store.startAttempt('g:a', start, trA, SYSTEM));
      const dup = store.grouped(() => submit(store, new Scheduler(), 'g', [task('g:z')])); // graph id taken: a SQL error
      const stale = store.grouped(() => store.startAttempt('g:b', start, trB, SYSTEM));
      const wrong = store.grouped(() => store.applyTransitions([{ id: 'g:c', from: 'running', to: 'succeeded', reason: 'wrong' }], SYSTEM));
      const [ra, rdup, rstale, rwrong] = await Promise.allSettled([a, dup, stale, wrong]);
      expect(ra).toEqual({ status: 'fulfilled', value: 1 });
      expect(rdup.status === 'rejected' && isColonyError(rdup.reason) ? rdup.reason.message : rdup.status).toMatch(/^database error 23505/);
      expect(rstale).toEqual({ status: 'fulfilled', value: 6 }); // read back, not the stale 1
      expect(rwrong.status === 'rejected' && isColonyError(rwrong.reason) ? rwrong.reason.code : rwrong.status).toBe('E_INVALID_TRANSITION');
      expect(store.getTask('g:z')).toBeNull();
      expect(store.getTask('g:c')?.state).toBe('assigned');
      expect(store.attemptsOf('g:b').map((r) => r.attempt)).toEqual([6]);
      expect(events.filter((e) => e.startsWith('attempt.started'))).toEqual(['attempt.started:g:a', 'attempt.started:g:b']); // once each
      expect(auditCount(store)).toBe(before + 2);
      expect(store.verifyAudit().ok).toBe(true);
    } finally {
      fx.dispose();
    }
  });

  it('rolls back a grouped write that throws, whether or not its writes were already sent, and keeps the others', async () => {
    const fx = pgFixture();
    try {
      const { store } = fx;
      submit(store, new Scheduler(), 'g', [task('g:a')]);
      const events: string[] = [];
      store.subscribe((evs) => events.push(...evs.map((e) => e.kind)));
      const before = auditCount(store);
      const audit = (action: string): number => store.appendAudit({ actor: 'admin', origin: 'local', action, target: null, detail: {} }).id;
      const one = store.grouped(() => audit('test.one'));
      const unsent = store.grouped(() => {
        store.publish('test.unsent', null, {}); // still queued when the write throws: dropped from the batch
        throw new Error('boom before sending');
      });
      const two = store.grouped(() => audit('test.two'));
      const sent = store.grouped(() => {
        store.publish('test.sent', null, {});
        store.getTask('g:a'); // a read sends what is queued: this write's event reached the server (last: no later row reuses its id)
        throw new Error('boom after sending');
      });
      const [r1, ru, rs, r2] = await Promise.allSettled([one, unsent, sent, two]);
      expect(ru.status === 'rejected' ? (ru.reason as Error).message : ru.status).toBe('boom before sending');
      expect(rs.status === 'rejected' ? (rs.reason as Error).message : rs.status).toBe('boom after sending');
      expect(r1.status === 'fulfilled' && r2.status === 'fulfilled' ? r2.value - r1.value : null).toBe(1);
      expect(auditCount(store)).toBe(before + 2);
      expect(events).toEqual([]); // appendAudit writes no live event; the thrown writes' events are gone
      expect(store.lastEventId()).toBe(Math.max(...store.eventsSince(0).map((e) => e.id)));
      expect(store.eventsSince(0).map((e) => e.kind)).not.toContain('test.sent');
      expect(store.verifyAudit().ok).toBe(true);
    } finally {
      fx.dispose();
    }
  });

  it('stores values with quotes, backslashes, placeholders and SQL in them verbatim through a batch', async () => {
    const fx = pgFixture();
    try {
      const { store } = fx;
      const nasty = ["it's", "'); DROP TABLE tasks; --", "back\\slash \\'", '$1 $2 ?', "E'\\x00'", 'ünïcödé ✓', '-- not a comment', '/* nor this */'];
      const tasks = nasty.map((title, i) => task(`g:${i}`, [], { title, prompt: title }));
      await store.grouped(() => submit(store, new Scheduler(), 'g', tasks));
      for (const [i, title] of nasty.entries()) expect(store.getTask(`g:${i}`)).toMatchObject({ title, prompt: title, state: 'ready' });
      expect(store.listTasks().length).toBe(nasty.length);
      expect(store.verifyAudit().ok).toBe(true);
    } finally {
      fx.dispose();
    }
  });
});
