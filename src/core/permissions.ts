/**
 * LAN user sessions and what each permission allows (DESIGN §5). Pure: the
 * store persists sessions, the user app checks them with these functions.
 */
export const PERMISSIONS = ['view', 'submit_task', 'view_own_sessions', 'view_all'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const DEFAULT_PERMISSIONS: readonly Permission[] = ['view', 'submit_task', 'view_own_sessions'];

export interface UserSession {
  user_id: string; // UUID; the task's submitted_by is `session:<user_id>`
  display_name: string;
  origin_ip: string; // from the socket at creation, never from headers
  is_local: boolean;
  permissions: Permission[];
  tasks_submitted: number;
  created_at: number;
  last_seen_at: number;
  revoked: boolean;
}

export function submitterOf(s: Pick<UserSession, 'user_id'>): string {
  return `session:${s.user_id}`;
}

export function can(s: Pick<UserSession, 'permissions' | 'revoked'>, p: Permission): boolean {
  return !s.revoked && s.permissions.includes(p);
}

/** May this viewer see the full text/output of a task submitted by `submittedBy`? */
export function canSeeTask(s: Pick<UserSession, 'user_id' | 'permissions' | 'revoked'>, submittedBy: string): boolean {
  if (s.revoked) return false;
  if (submittedBy === submitterOf(s)) return can(s, 'view_own_sessions') || can(s, 'view');
  return can(s, 'view_all');
}

export function isPermission(p: string): p is Permission {
  return (PERMISSIONS as readonly string[]).includes(p);
}
