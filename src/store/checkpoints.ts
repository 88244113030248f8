/** Audit checkpoints (migration 8) and the log facts their verification needs. Only src/store talks SQL. */
import { dbOf } from './internal.js';
import type { Checkpoint, CheckpointBody, LogFacts } from '../core/audit-anchor.js';
import type { Store } from './store.js';

/** The log's count and head, read in one transaction so they agree. */
export function auditHead(store: Store, at: number): CheckpointBody {
  return store.transaction(() => {
    const r = dbOf(store).prepare('SELECT COUNT(*) AS n, COALESCE(MAX(id), 0) AS max_id FROM audit').get() as { n: number; max_id: number };
    const h = dbOf(store).prepare('SELECT hash FROM audit WHERE id = ?').get(r.max_id) as { hash: string } | undefined;
    return { at, record_count: r.n, head_id: r.max_id, head_hash: h?.hash ?? '' };
  });
}

export function saveCheckpoint(store: Store, c: Checkpoint): void {
  dbOf(store)
    .prepare('INSERT INTO audit_checkpoints (at, record_count, head_id, head_hash, key_fingerprint, signature) VALUES (?, ?, ?, ?, ?, ?)')
    .run(c.at, c.record_count, c.head_id, c.head_hash, c.key_fingerprint, c.signature);
}

export function lastCheckpoint(store: Store): Checkpoint | null {
  return (
    (dbOf(store).prepare('SELECT at, record_count, head_id, head_hash, key_fingerprint, signature FROM audit_checkpoints ORDER BY id DESC LIMIT 1').get() as
      Checkpoint | undefined) ?? null
  );
}

export function listCheckpoints(store: Store): Checkpoint[] {
  return dbOf(store)
    .prepare('SELECT at, record_count, head_id, head_hash, key_fingerprint, signature FROM audit_checkpoints ORDER BY id')
    .all() as Checkpoint[];
}

export function logFacts(store: Store): LogFacts {
  const db = dbOf(store);
  const r = db.prepare('SELECT COUNT(*) AS n, COALESCE(MAX(id), 0) AS max_id FROM audit').get() as { n: number; max_id: number };
  const gaps: [number, number][] = [];
  if (r.n !== r.max_id) {
    // Ids run 1, 2, 3, …: each row whose predecessor is absent starts a gap.
    const rows = db
      .prepare(
        `SELECT COALESCE((SELECT MAX(p.id) FROM audit p WHERE p.id < a.id), 0) + 1 AS gap_start, a.id - 1 AS gap_end
        FROM audit a WHERE a.id > 1 AND NOT EXISTS (SELECT 1 FROM audit b WHERE b.id = a.id - 1) ORDER BY a.id LIMIT 100`,
      )
      .all() as { gap_start: number; gap_end: number }[];
    for (const g of rows) gaps.push([g.gap_start, g.gap_end]);
  }
  const hashAt = db.prepare('SELECT hash FROM audit WHERE id = ?');
  const upTo = db.prepare('SELECT COUNT(*) AS n FROM audit WHERE id <= ?');
  return {
    count: r.n,
    max_id: r.max_id,
    gaps,
    hashAt: (id) => (hashAt.get(id) as { hash: string } | undefined)?.hash ?? null,
    countUpTo: (id) => (upTo.get(id) as { n: number }).n,
  };
}
