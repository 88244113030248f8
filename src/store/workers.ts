/**
 * Persistence of remote workers and their one-time pairing codes (DESIGN §6).
 * Pairing codes are stored as a hash only: a copy of the database never hands
 * out a usable code. Enrolment consumes the code and creates the worker in one
 * transaction, so a code can bind exactly one key.
 */
import { ColonyError } from '../core/errors.js';
import type { Actor, Store } from './store.js';
import { dbOf } from './internal.js';

export interface WorkerRecord {
  id: string;
  owner: string; // submitted_by form: 'session:<user_id>'
  name: string;
  public_key: string; // raw Ed25519 key, base64url
  fingerprint: string;
  engines: string[];
  open_to_admin: boolean;
  enrolled_at: number;
  enrolled_from: string;
  last_seen_at: number | null;
  last_ip: string | null;
  revoked_at: number | null;
  revoked_by: string | null;
}

interface WorkerRow extends Omit<WorkerRecord, 'engines' | 'open_to_admin'> {
  engines: string;
  open_to_admin: number;
}

export interface NewWorker {
  id: string;
  name: string;
  public_key: string;
  fingerprint: string;
  engines: string[];
  open_to_admin: boolean;
}

function fromRow(r: WorkerRow): WorkerRecord {
  let engines: string[] = [];
  try {
    const v: unknown = JSON.parse(r.engines);
    if (Array.isArray(v)) engines = v.filter((e): e is string => typeof e === 'string');
  } catch {
    engines = [];
  }
  return { ...r, engines, open_to_admin: r.open_to_admin === 1 };
}

export class WorkerStore {
  constructor(private readonly store: Store) {}

  /**
   * Records a new pairing code (by hash) for `owner`, valid until `expiresAt`,
   * with the MAC secret derived from it (remote/pairing-mac.ts): the code itself
   * is never sent at enrolment, so the host finds it by the proof it keys.
   */
  createPairingCode(codeHash: string, owner: string, now: number, expiresAt: number, who: Actor, secret: string | null = null): void {
    this.store.transaction(() => {
      dbOf(this.store)
        .prepare('INSERT INTO pairing_codes (code_hash, owner, created_at, expires_at, secret) VALUES (?, ?, ?, ?, ?)')
        .run(codeHash, owner, now, expiresAt, secret);
      this.store.appendAudit({ ...who, action: 'pairing.code_created', target: owner, detail: { expires_at: expiresAt } });
    });
  }

  /**
   * Consumes the code and enrols the worker under the code's owner, in one
   * transaction. Throws E_UNAUTHORIZED when the code is unknown, used or
   * expired (one message for all three: no oracle), E_CONFLICT when the key
   * is already enrolled.
   */
  enroll(codeHash: string, w: NewWorker, now: number, origin: string): WorkerRecord {
    return this.store.transaction(() => {
      const code = dbOf(this.store)
        .prepare(
          'UPDATE pairing_codes SET used_at = ?, worker_id = ?, secret = NULL WHERE code_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING owner',
        )
        .get(now, w.id, codeHash, now) as { owner: string } | undefined;
      if (!code) throw new ColonyError('E_UNAUTHORIZED', 'pairing code is unknown, already used or expired; ask for a new one on the dashboard');
      const dup = dbOf(this.store).prepare('SELECT id FROM workers WHERE public_key = ?').get(w.public_key) as { id: string } | undefined;
      if (dup) throw new ColonyError('E_CONFLICT', `this public key is already enrolled as worker ${dup.id}; pair with a new key`);
      dbOf(this.store)
        .prepare(
          `INSERT INTO workers (id, owner, name, public_key, fingerprint, engines, open_to_admin, enrolled_at, enrolled_from)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(w.id, code.owner, w.name, w.public_key, w.fingerprint, JSON.stringify(w.engines), w.open_to_admin ? 1 : 0, now, origin);
      this.store.appendAudit({
        actor: code.owner,
        origin,
        action: 'worker.enrolled',
        target: w.id,
        detail: { name: w.name, fingerprint: w.fingerprint, engines: w.engines, open_to_admin: w.open_to_admin },
      });
      return this.get(w.id) as WorkerRecord;
    });
  }

  /** Unused, unexpired codes with their MAC secrets (few: each lives 5 minutes). */
  liveCodes(now: number, limit = 1000): Array<{ code_hash: string; owner: string; secret: string }> {
    return dbOf(this.store)
      .prepare(
        'SELECT code_hash, owner, secret FROM pairing_codes WHERE used_at IS NULL AND expires_at > ? AND secret IS NOT NULL ORDER BY created_at DESC LIMIT ?',
      )
      .all(now, limit) as Array<{ code_hash: string; owner: string; secret: string }>;
  }

  /** Voids every unused code of `owner` (a banned user's outstanding codes). */
  voidCodes(owner: string, now: number): number {
    return dbOf(this.store).prepare('UPDATE pairing_codes SET used_at = ?, secret = NULL WHERE owner = ? AND used_at IS NULL').run(now, owner).changes;
  }

  get(id: string): WorkerRecord | null {
    const r = dbOf(this.store).prepare('SELECT * FROM workers WHERE id = ?').get(id) as WorkerRow | undefined;
    return r ? fromRow(r) : null;
  }

  list(opts: { owner?: string; includeRevoked?: boolean } = {}): WorkerRecord[] {
    const rows = dbOf(this.store)
      .prepare(`SELECT * FROM workers WHERE (? IS NULL OR owner = ?) AND (? = 1 OR revoked_at IS NULL) ORDER BY enrolled_at`)
      .all(opts.owner ?? null, opts.owner ?? null, opts.includeRevoked ? 1 : 0) as WorkerRow[];
    return rows.map(fromRow);
  }

  /** Marks the worker revoked; its key is refused from now on. Idempotent errors: E_NOT_FOUND for an unknown id. */
  revoke(id: string, who: Actor, now: number): WorkerRecord {
    return this.store.transaction(() => {
      const w = this.get(id);
      if (!w) throw new ColonyError('E_NOT_FOUND', `no worker ${id}`);
      if (w.revoked_at === null) {
        dbOf(this.store).prepare('UPDATE workers SET revoked_at = ?, revoked_by = ? WHERE id = ?').run(now, who.actor, id);
        this.store.appendAudit({ ...who, action: 'worker.revoked', target: id, detail: { owner: w.owner, fingerprint: w.fingerprint } });
      }
      return this.get(id) as WorkerRecord;
    });
  }

  touch(id: string, at: number, ip: string): void {
    dbOf(this.store).prepare('UPDATE workers SET last_seen_at = ?, last_ip = ? WHERE id = ?').run(at, ip, id);
  }
}
