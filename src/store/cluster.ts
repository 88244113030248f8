/**
 * Several colony hosts on one PostgreSQL database (issue 19). Each host has a
 * lease row in `hosts` (expiry on the database's clock, renewed by its
 * heartbeat) and owns the graphs submitted to it (`graphs.owner_host`); it
 * loads and schedules only those. A live host claims hosts whose lease
 * expired (`FOR UPDATE SKIP LOCKED`: exactly one claimant) and moves their
 * graphs to itself; its TaskService then adopts them (runner/adopt.ts).
 *
 * One writer at a time: every write transaction starts with
 * `pg_advisory_xact_lock(WRITE_LOCK)` and re-reads the audit head, the next
 * log id and the task seq under it (the prologue, sent with BEGIN in one
 * round trip), so the audit chain stays one chain and event ids follow commit
 * order. The same read says whether this host's row was claimed: a host that
 * was presumed dead is fenced (every write refused with E_HOST_FENCED) and
 * told so once (`onFenced`). A transaction that wrote events notifies the
 * others at commit; they read the log past their last delivered id
 * (Store.subscribeLive).
 */
import { hostname } from 'node:os';
import { ColonyError } from '../core/errors.js';
import { dbOf } from './internal.js';
import { isFencedSlot, noteRenewal, type LeaseSlot } from './pg/lease-slot.js';
import { PgDb } from './pg/pg-db.js';
import { SYSTEM, type Store } from './store.js';

/** The LISTEN/NOTIFY channel of live events. */
export const EVENTS_CHANNEL = 'colony_events';
/** Any constant every host agrees on; names the write lock in pg_locks. */
const WRITE_LOCK = 0x77726974; // 'writ'
/** Milliseconds since the epoch on the database's clock (leases never use the hosts' clocks). */
const DB_NOW = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

export interface HostRow {
  id: string;
  hostname: string;
  pid: number;
  started_at: number;
  lease_until: number;
  claimed_by: string | null;
  claimed_at: number | null;
  /** live: lease running; expired: not renewed, not yet claimed; claimed: a live host took its graphs. */
  lease: 'live' | 'expired' | 'claimed';
  /** Milliseconds until (positive) or since (negative) the lease's expiry, on the database's clock. */
  lease_left_ms: number;
  graphs: number;
}

export interface ClusterOptions {
  hostId: string;
  leaseMs: number;
  /** Renew the lease every so often from the PostgreSQL worker thread; null: only when heartbeat() is called (tests). */
  beatMs: number | null;
  /** Called once when this host finds it lost its lease (another host took its graphs). */
  onFenced: (message: string) => void;
}

export class Cluster {
  private readonly db: PgDb;
  private fenced = false;

  /** Several hosts only on PostgreSQL: null on SQLite (one host, file lock). */
  static join(store: Store, o: ClusterOptions): Cluster | null {
    const db = dbOf(store);
    return db instanceof PgDb ? new Cluster(store, db, o) : null;
  }

  private constructor(
    private readonly store: Store,
    db: PgDb,
    private readonly o: ClusterOptions,
  ) {
    if (!/^[A-Za-z0-9._:-]{1,80}$/.test(o.hostId)) throw new ColonyError('E_BAD_INPUT', `host id ${o.hostId}: letters, digits and . _ : - only`);
    this.db = db;
    this.register();
    store.hostId = o.hostId;
    store.enableLiveRelay();
    const me = o.hostId;
    db.hooks = {
      prologue: `SELECT pg_advisory_xact_lock(${WRITE_LOCK}); SELECT h.audit_id, h.hash, (SELECT COALESCE(MAX(id), 0) FROM log) AS log_id,
        (SELECT COALESCE(MAX(seq), 0) FROM tasks) AS seq, (SELECT claimed_by FROM hosts WHERE id = '${me}') AS claimed_by
        FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT audit_id, hash FROM log WHERE audit_id IS NOT NULL ORDER BY audit_id DESC LIMIT 1) h ON true`,
      opened: (row) => {
        if (row?.['claimed_by'] != null) throw this.fence(String(row['claimed_by']));
        store.adoptHeads({
          auditId: Number(row?.['audit_id'] ?? 0),
          hash: (row?.['hash'] as string | null | undefined) ?? null,
          logId: Number(row?.['log_id'] ?? 0),
          seq: Number(row?.['seq'] ?? 0),
        });
      },
      closing: () => (store.pendingEventCount > 0 ? `SELECT pg_notify('${EVENTS_CHANNEL}', '${me}')` : null),
    };
    db.onNotice((n) => {
      if (n.kind === 'fenced') this.fence(n.by);
      // This host's own commits are relayed at commit already.
      else if (n.kind === 'resumed' || n.payload !== me) store.scheduleRelay();
    });
    if (o.beatMs !== null) db.beat({ hostId: me, leaseMs: o.leaseMs, everyMs: o.beatMs });
  }

  /** Whether the database has a host row under `id` (PostgreSQL; false on SQLite): runner/host-id.ts keeps an upgraded home's id. */
  static knows(store: Store, id: string): boolean {
    const db = dbOf(store);
    return db instanceof PgDb && db.prepare('SELECT 1 FROM hosts WHERE id = ?').get(id) !== undefined;
  }

  get hostId(): string {
    return this.o.hostId;
  }

  get isFenced(): boolean {
    return this.fenced || isFencedSlot(this.db.leaseSlot);
  }

  /** When this host's last acknowledged lease renewal was sent, and whether it fenced itself (runner/fence-watch.ts). */
  get leaseSlot(): LeaseSlot {
    return this.db.leaseSlot;
  }

  /**
   * Renews the lease. False when this host's row was claimed (it was presumed
   * dead and its graphs moved): it is fenced from then on. Also relays any
   * live event a lost notification left behind.
   */
  heartbeat(): boolean {
    if (this.isFenced) return false;
    const sent = process.hrtime.bigint();
    const row = this.db
      .prepare(`UPDATE hosts SET lease_until = ${DB_NOW} + ? WHERE id = ? AND claimed_by IS NULL AND lease_until > 0 RETURNING id`)
      .get(this.o.leaseMs, this.o.hostId);
    this.store.scheduleRelay();
    if (row) {
      noteRenewal(this.db.leaseSlot, sent);
      return true;
    }
    const by = this.db.prepare('SELECT claimed_by FROM hosts WHERE id = ?').pluck().get(this.o.hostId);
    if (by === null) return false; // released by a clean stop: nothing to renew, nobody to fence us
    this.fence(typeof by === 'string' ? by : 'another host');
    return false;
  }

  /**
   * Claims every other host whose lease expired and moves its graphs here,
   * in one write transaction (audited). Returns the graphs moved.
   */
  claimExpired(): { hosts: string[]; graphs: string[] } {
    if (this.isFenced) return { hosts: [], graphs: [] };
    // A plain read first: the claim takes the write lock, which no beat should do while every host is alive.
    const expired = this.db.prepare(`SELECT 1 FROM hosts WHERE id <> ? AND claimed_by IS NULL AND lease_until < ${DB_NOW} LIMIT 1`).get(this.o.hostId);
    if (!expired) return { hosts: [], graphs: [] };
    return this.store.transaction(() => {
      const hosts = this.db
        .prepare(`SELECT id FROM hosts WHERE id <> ? AND claimed_by IS NULL AND lease_until < ${DB_NOW} ORDER BY id FOR UPDATE SKIP LOCKED`)
        .pluck()
        .all(this.o.hostId) as string[];
      const graphs: string[] = [];
      for (const h of hosts) {
        this.db.prepare(`UPDATE hosts SET claimed_by = ?, claimed_at = ${DB_NOW} WHERE id = ?`).run(this.o.hostId, h);
        const moved = this.db.prepare('UPDATE graphs SET owner_host = ? WHERE owner_host = ? RETURNING id').pluck().all(this.o.hostId, h) as string[];
        graphs.push(...moved);
        this.store.appendAudit({ ...SYSTEM, action: 'host.claimed', target: h, detail: { by: this.o.hostId, graphs: moved.length } });
      }
      return { hosts, graphs };
    });
  }

  /**
   * A clean stop: the lease ends now, so another host takes this one's graphs
   * at its next beat. Stored negative (minus the time of the stop): a renewal
   * already on its way from the listener thread renews only a positive lease,
   * so it cannot bring a released host back to life.
   */
  release(): void {
    if (this.isFenced || !this.db.open) return;
    try {
      this.db.prepare(`UPDATE hosts SET lease_until = -${DB_NOW} WHERE id = ? AND claimed_by IS NULL`).run(this.o.hostId);
    } catch {
      // the database is out of reach: the lease expires on its own
    }
  }

  /** The hosts on the database with their lease state (`colony doctor`). */
  list(): HostRow[] {
    return listHosts(this.db);
  }

  /**
   * This host's row, fresh: a restart with the same id is the same host again
   * (claimed_by cleared; graphs another host took meanwhile stay there).
   * Graphs of a database used by one host before hosts existed become this host's.
   */
  private register(): void {
    const sent = process.hrtime.bigint();
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO hosts (id, hostname, pid, started_at, lease_until) VALUES (?, ?, ?, ${DB_NOW}, ${DB_NOW} + ?)
          ON CONFLICT (id) DO UPDATE SET hostname = EXCLUDED.hostname, pid = EXCLUDED.pid, started_at = EXCLUDED.started_at,
          lease_until = EXCLUDED.lease_until, claimed_by = NULL, claimed_at = NULL`,
        )
        .run(this.o.hostId, hostname(), process.pid, this.o.leaseMs);
      this.db.prepare('UPDATE graphs SET owner_host = ? WHERE owner_host IS NULL').run(this.o.hostId);
    })();
    noteRenewal(this.db.leaseSlot, sent);
  }

  private fence(by: string): ColonyError {
    const message = `this host (${this.o.hostId}) lost its lease: host ${by} took over its graphs; it stops acting on them`;
    if (!this.fenced) {
      this.fenced = true;
      this.o.onFenced(message);
    }
    return new ColonyError('E_HOST_FENCED', message, { owner_host: by });
  }
}

/** The hosts on a PostgreSQL database with their lease state (doctor opens the database without joining). */
export function listHosts(db: { prepare: PgDb['prepare'] }): HostRow[] {
  const rows = db
    .prepare(
      `SELECT h.*, ABS(h.lease_until) - ${DB_NOW} AS lease_left_ms, (SELECT COUNT(*) FROM graphs g WHERE g.owner_host = h.id) AS graphs
      FROM hosts h ORDER BY h.started_at`,
    )
    .all() as Omit<HostRow, 'lease'>[];
  return rows.map((r) => ({ ...r, lease: r.claimed_by !== null ? 'claimed' : r.lease_left_ms > 0 ? 'live' : 'expired' }));
}
