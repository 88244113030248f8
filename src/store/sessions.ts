/** Persistence of LAN user sessions; they survive a host restart. */
import { ColonyError } from '../core/errors.js';
import { isPermission, type Permission, type UserSession } from '../core/permissions.js';
import type { SqlStatement as Statement } from './sql-port.js';
import type { Actor, Store } from './store.js';
import { dbOf } from './internal.js';

interface SessionRow {
  user_id: string;
  display_name: string;
  origin_ip: string;
  is_local: number;
  permissions: string;
  tasks_submitted: number;
  created_at: number;
  last_seen_at: number;
  revoked: number;
}

function fromRow(r: SessionRow): UserSession {
  return {
    user_id: r.user_id,
    display_name: r.display_name,
    origin_ip: r.origin_ip,
    is_local: r.is_local === 1,
    permissions: (JSON.parse(r.permissions) as string[]).filter(isPermission),
    tasks_submitted: r.tasks_submitted,
    created_at: r.created_at,
    last_seen_at: r.last_seen_at,
    revoked: r.revoked === 1,
  };
}

export class SessionStore {
  // Read on every LAN request (the gate resolves the cookie's session): prepared once.
  private readonly byId: Statement;

  constructor(private readonly store: Store) {
    this.byId = dbOf(store).prepare('SELECT * FROM sessions WHERE user_id = ?');
  }

  create(s: UserSession, who: Actor): UserSession {
    this.store.transaction(() => {
      dbOf(this.store)
        .prepare(
          `INSERT INTO sessions (user_id, display_name, origin_ip, is_local, permissions, tasks_submitted, created_at, last_seen_at, revoked)
          VALUES (?, ?, ?, ?, ?, 0, ?, ?, 0)`,
        )
        .run(s.user_id, s.display_name, s.origin_ip, s.is_local ? 1 : 0, JSON.stringify(s.permissions), s.created_at, s.last_seen_at);
      this.store.appendAudit({ ...who, action: 'session.created', target: s.user_id, detail: { display_name: s.display_name, origin_ip: s.origin_ip } });
    });
    return s;
  }

  get(userId: string): UserSession | null {
    const r = this.byId.get(userId) as SessionRow | undefined;
    return r ? fromRow(r) : null;
  }

  list(): UserSession[] {
    return (dbOf(this.store).prepare('SELECT * FROM sessions ORDER BY created_at').all() as SessionRow[]).map(fromRow);
  }

  rename(userId: string, name: string, who: Actor): void {
    this.update(userId, 'display_name = ?', [name], who, 'session.renamed', { display_name: name });
  }

  setPermissions(userId: string, perms: Permission[], who: Actor): void {
    this.update(userId, 'permissions = ?', [JSON.stringify(perms)], who, 'session.permissions', { permissions: perms });
  }

  revoke(userId: string, who: Actor): void {
    this.update(userId, 'revoked = 1', [], who, 'session.revoked', {});
  }

  /** The browser (device cookie) a session was created from, for bans; null for sessions older than device cookies. */
  setDevice(userId: string, deviceId: string): void {
    dbOf(this.store).prepare('UPDATE sessions SET device_id = ? WHERE user_id = ?').run(deviceId, userId);
  }

  deviceOf(userId: string): string | null {
    const r = dbOf(this.store).prepare('SELECT device_id FROM sessions WHERE user_id = ?').get(userId) as { device_id: string | null } | undefined;
    return r?.device_id ?? null;
  }

  touch(userId: string, at: number): void {
    dbOf(this.store).prepare('UPDATE sessions SET last_seen_at = ? WHERE user_id = ?').run(at, userId);
  }

  countSubmission(userId: string, n: number): void {
    dbOf(this.store).prepare('UPDATE sessions SET tasks_submitted = tasks_submitted + ? WHERE user_id = ?').run(n, userId);
  }

  private update(userId: string, set: string, args: unknown[], who: Actor, action: string, detail: unknown): void {
    this.store.transaction(() => {
      const changed = dbOf(this.store)
        .prepare(`UPDATE sessions SET ${set} WHERE user_id = ?`)
        .run(...args, userId).changes;
      if (changed === 0) throw new ColonyError('E_NOT_FOUND', `no session ${userId}`);
      this.store.appendAudit({ ...who, action, target: userId, detail });
    });
  }
}
