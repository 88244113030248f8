/**
 * What one LAN viewer may see of other people's work (DESIGN §5, seed Risk 2).
 * Pure: data in, data out. The server supplies `opaque`, a keyed hash that
 * turns a task/graph id into a stable token, so a viewer can follow another
 * user's task through its states without learning its name (ids embed the
 * graph name and the task's local id, both chosen by the submitter).
 *
 * Rules, per viewer:
 * - events and workers of the viewer's own tasks (or every task, with
 *   `view_all`) pass unchanged;
 * - `task.output` of anyone else is dropped entirely;
 * - other known kinds are rebuilt from an allow-list: state, engine/model,
 *   cost, tokens, counts and codes stay; prompt, title, output, reasons,
 *   summaries, routing explanations and workspaces never appear;
 * - worker cards are rebuilt from an allow-list unless they run a task the
 *   viewer may see; another user's remote worker shows neither its owner's
 *   name nor its address unless the admin set `lan.show_worker_owners`;
 * - an unknown kind owned by someone else is dropped (default deny); an event
 *   whose owner is null and that names no task was published as public and
 *   passes unchanged; one that names a task but no owner reaches only
 *   `view_all` viewers (the server fills in the task's submitter first, see
 *   server/user/live.ts, so the owner still gets it).
 */
import { can, canSeeTask, type UserSession } from './permissions.js';
import type { EventRecord, WorkerCard } from './live-types.js';

export type Viewer = Pick<UserSession, 'user_id' | 'permissions' | 'revoked'>;
export type Opaque = (id: string) => string;

export type LiveEvent = EventRecord;

/** Stands in for another user's submitter id in redacted views. */
export const OTHER_OWNER = 'other';

export function viewerSees(viewer: Viewer, owner: string | null): boolean {
  return owner === null || canSeeTask(viewer, owner);
}

type Picker = (d: Record<string, unknown>, opaque: Opaque) => Record<string, unknown>;

const opaqueOrNull = (v: unknown, opaque: Opaque): string | null => (typeof v === 'string' ? opaque(v) : null);

/** Allow-lists per event kind for events of other users. */
const REDACTED_KINDS: Record<string, Picker> = {
  'graph.submitted': (d, o) => ({
    graph_id: opaqueOrNull(d['graph_id'], o),
    tasks: Array.isArray(d['tasks']) ? d['tasks'].filter((t): t is string => typeof t === 'string').map(o) : [],
  }),
  'task.state': (d, o) => ({ graph_id: opaqueOrNull(d['graph_id'], o), from: d['from'], to: d['to'] }),
  'attempt.started': (d) => pick(d, ['attempt', 'engine', 'model', 'worker_id', 'route_rule']),
  'attempt.finished': (d) => pick(d, ['attempt', 'state', 'engine', 'model', 'cost_usd', 'cost_source', 'usage', 'error_code']),
};

/**
 * The event as this viewer may receive it, or null when it must not be sent at
 * all. Only three results exist: the event itself, null, or the view of "any
 * other visitor" (`forOthers`, the same for every viewer who may not see the
 * owner: the server memoises it per event instead of rebuilding it per viewer).
 */
export function viewEvent(
  viewer: Viewer,
  e: LiveEvent,
  opaque: Opaque,
  showOwners = false,
  forOthers: (e: LiveEvent) => LiveEvent | null = (x) => othersView(x, opaque, showOwners),
): LiveEvent | null {
  if (viewer.revoked) return null;
  if (e.kind === 'worker') return e.owner !== null && viewerSees(viewer, e.owner) ? e : forOthers(e);
  if (e.owner === null && e.task_id !== null) return can(viewer, 'view_all') ? e : null; // about a task, owner unknown: not public
  if (viewerSees(viewer, e.owner)) return e;
  return forOthers(e);
}

/** What a viewer who may not see the event's owner receives (depends on the event only). */
export function othersView(e: LiveEvent, opaque: Opaque, showOwners = false): LiveEvent | null {
  if (e.kind === 'worker') {
    return { ...e, task_id: opaqueOrNull(e.task_id, opaque), owner: e.owner === null ? null : OTHER_OWNER, data: redactWorkerData(e.data, opaque, showOwners) };
  }
  const picker = Object.hasOwn(REDACTED_KINDS, e.kind) ? REDACTED_KINDS[e.kind] : undefined;
  if (!picker) return null; // task.output and anything unknown
  return {
    id: e.id,
    at: e.at,
    kind: e.kind,
    task_id: opaqueOrNull(e.task_id, opaque),
    owner: OTHER_OWNER,
    data: { ...picker(e.data, opaque), redacted: true },
  };
}

/**
 * A worker card as this viewer may see it: unchanged when it runs a task the
 * viewer may see; otherwise rebuilt from the allow-list (so fields a remote
 * worker may add, such as its workspace, never reach other users), with the
 * task hidden and `redacted: true` when it is busy with someone else's task.
 */
export function viewWorker<W extends WorkerCard>(viewer: Viewer, w: W, opaque: Opaque, showOwners = false): W | WorkerCard {
  if (w.owner !== null && viewerSees(viewer, w.owner)) return w;
  return redactWorker(w, opaque, showOwners);
}

export function redactWorker(w: WorkerCard, opaque: Opaque, showOwners = false): WorkerCard {
  // Whose machine it is and where it sits on the LAN is the owner's to share, via the admin's setting.
  const hideOwner = !showOwners && (w.kind === 'remote' || w.owner_name !== undefined);
  const out: WorkerCard = {
    id: w.id,
    kind: w.kind,
    status: w.status,
    task_id: w.task_id === null ? null : opaque(w.task_id),
    task_title: null,
    owner: w.owner === null ? null : OTHER_OWNER,
    engine: w.engine,
    model: w.model,
    session_cost_usd: w.session_cost_usd,
    tokens_used: w.tokens_used,
    origin_ip: hideOwner ? '' : w.origin_ip,
  };
  if (w.owner_name !== undefined) out.owner_name = hideOwner ? null : w.owner_name;
  if (w.connected !== undefined) out.connected = w.connected;
  if (w.owner !== null || w.task_id !== null || w.task_title !== null) out.redacted = true;
  return out;
}

/** `worker` events carry a worker card as data; unknown fields never pass. */
function redactWorkerData(d: Record<string, unknown>, opaque: Opaque, showOwners: boolean): Record<string, unknown> {
  const str = (k: string): string | null => (typeof d[k] === 'string' ? (d[k] as string) : null);
  const num = (k: string): number => (typeof d[k] === 'number' ? (d[k] as number) : 0);
  const w: WorkerCard = {
    id: str('id') ?? '',
    kind: str('kind') === 'remote' ? 'remote' : 'local',
    status: str('status') ?? 'idle',
    task_id: str('task_id'),
    task_title: null,
    owner: str('owner'),
    engine: str('engine'),
    model: str('model'),
    session_cost_usd: num('session_cost_usd'),
    tokens_used: num('tokens_used'),
    origin_ip: str('origin_ip') ?? '',
  };
  if (typeof d['owner_name'] === 'string' || d['owner_name'] === null) w.owner_name = d['owner_name'] as string | null;
  if (typeof d['connected'] === 'boolean') w.connected = d['connected'];
  return { ...redactWorker(w, opaque, showOwners) };
}

function pick(d: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (k in d) out[k] = d[k];
  return out;
}
