/**
 * The store over PostgreSQL (a throwaway cluster on a temp data dir): the
 * shared conformance suite, then what is PostgreSQL's own — migrations under
 * the advisory lock with the same versions as SQLite (each store joined as a host), sibling stores through
 * the SQL port, and a lost connection failing fast with E_STORE and coming
 * back by itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { ADMIN, codeOf, describeStoreConformance, submit, task, type StoreFixture } from './store-conformance.js';

const missing = pgMissing();
let cluster: PgCluster | null = null;
// describeStoreConformance takes a synchronous factory: each fixture gets a fresh database, made ahead.
const urls: string[] = [];

beforeAll(async () => {
  if (missing) return;
  cluster = await startPg();
  for (let i = 0; i < 17; i++) urls.push(await cluster.createDatabase(`conf_${i}`));
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
});
