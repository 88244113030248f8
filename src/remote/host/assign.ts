/**
 * Choosing and offering remote work, for the dispatcher: which ready tasks of
 * a lane a connection may take (ownership, admin opt-in, engines), and the
 * signed TASK_ASSIGNED plus the attempt row and the offered lease for each.
 * Runs inside the dispatcher's store transaction.
 */
import { randomBytes } from 'node:crypto';
import { remainingBudget } from '../../core/budget.js';
import { grantLease } from '../../core/lease.js';
import { SYSTEM } from '../../store/store.js';
import { taskAssignedSchema, type MessageOf, type ProtocolMessage, type Unsigned } from '../../core/protocol.js';
import type { RemotePort } from '../../runner/task-port.js';
import type { StoredTask } from '../../store/rows.js';
import type { LeaseRec } from './lease-book.js';
import type { HostIdentity } from '../pairing.js';
import { signMessage } from '../signing.js';

export interface AssignDeps {
  service: RemotePort;
  hostKey: HostIdentity;
  now: () => number;
  leaseMs: number;
  ttlMs: number;
}

/** At most this many ready tasks are examined per lane and round (bounds the work when a worker can run none of them). */
const MAX_LOOK = 256;
/** A well-formed stand-in signature: the offer is validated against the wire schema before it is signed (off-thread) and sent. */
const SIG_SHAPE = 'A'.repeat(86);

/** An authenticated worker connection, as the dispatcher sees it. */
export interface WorkerLink {
  readonly workerId: string;
  readonly owner: string;
  readonly name: string;
  readonly engines: ReadonlySet<string>;
  readonly openToAdmin: boolean; // effective: enrolled with it and asked for it in HELLO
  readonly enrolledOpenToAdmin: boolean;
  readonly ip: string;
  /** The connection's CHALLENGE nonce: orders sent on it are bound to it (core/protocol.ts, Binding). */
  readonly session: string;
  /** The protocol version negotiated on this connection: BATCH frames only from BATCH_VERSION on. */
  readonly version: number;
  send(msg: ProtocolMessage): void;
  close(code: number, reason: string): void;
}

/** Claims up to `limit` ready tasks of `lane` that `link` may and can run; fails tasks it may never run. */
export function claimFor(service: RemotePort, link: WorkerLink, lane: string, limit: number, held?: (taskId: string) => boolean): StoredTask[] {
  let looked = 0;
  return service.claimRemote(lane, limit, (t) => {
    if (++looked > MAX_LOOK) return { take: false }; // bound the work per round
    if (held?.(t.id)) return { take: false }; // its previous attempt may still run on a worker (orphan-hold.ts)
    if (lane.startsWith('worker:') && t.submitted_by !== link.owner) {
      if (t.submitted_by !== 'admin') return { take: false, refuse: `worker ${link.workerId} belongs to another user; a task can only name your own workers` };
      if (!link.enrolledOpenToAdmin)
        return { take: false, refuse: `worker ${link.workerId} was not opened to admin tasks by its owner (colony worker --open-to-admin)` };
      if (!link.openToAdmin) return { take: false };
    }
    return { take: canRun(link, t.engine) };
  });
}

/** What the host's gateway and router decided for an offer: the screened prompt, the engine and model, and why. */
export interface OfferChoice {
  prompt: string;
  engine: string;
  model: string | null;
  rule: string;
  explanation: string;
}

/** The offer of `t` to `link` (to be signed), with its attempt row started (state stays assigned) and its lease; null if it cannot be sent. */
export function buildAssignment(
  d: AssignDeps,
  link: WorkerLink,
  t: StoredTask,
  c: OfferChoice,
): { rec: LeaseRec; unsigned: Unsigned<MessageOf<'TASK_ASSIGNED'>> } | null {
  const { service } = d;
  const now = d.now();
  const budget = remainingBudget(t.budget_usd, t.cost_usd);
  const nonce = randomBytes(16).toString('base64url');
  const attempt = t.attempt + 1;
  const unsigned = {
    type: 'TASK_ASSIGNED' as const,
    worker_id: link.workerId,
    session: link.session,
    task_id: t.id,
    attempt,
    task: { prompt: c.prompt, title: clip(t.title, 120) },
    budget,
    engine: c.engine,
    model: c.model,
    workspace: remoteWorkspace(t.workspace, graphWorkspace(service, t.graph_id)),
    nonce,
    expires_at: now + d.ttlMs,
    lease_ms: d.leaseMs,
  };
  if (!taskAssignedSchema.safeParse({ ...unsigned, sig: SIG_SHAPE }).success) {
    service.stepDurably(t.id, { kind: 'finish', state: 'failed', reason: 'the task does not fit the remote protocol (a field out of its bounds)' }, SYSTEM);
    return null;
  }
  const started = service.recordOffer(t.id, {
    engine: c.engine,
    model: c.model,
    worker_id: link.workerId,
    route_rule: c.rule,
    route_explanation: `${c.explanation} · sent to worker ${link.name} (${link.workerId}) of ${link.owner} at ${link.ip}`,
  });
  if (started !== attempt) throw new Error(`attempt numbering drifted for ${t.id}: ${started} != ${attempt}`);
  const lease = grantLease({ task_id: t.id, attempt, worker_id: link.workerId }, now, d.leaseMs, unsigned.expires_at);
  const rec: LeaseRec = {
    lease,
    nonce,
    budget,
    title: t.title,
    owner: t.submitted_by,
    graph: t.graph_id,
    maxAttempts: t.max_attempts,
    taskEngine: t.engine,
    assignedAt: now,
    progressSeq: null,
    outputBytes: 0,
    truncated: false,
    engine: null,
    model: null,
    cost: 0,
    tokens: { input: 0, output: 0, cache_read: 0, cache_write: 0 },
  };
  return { rec, unsigned };
}

/** A graph's default workspace never changes: remember the last few (one SELECT per graph, not per task). */
const graphWs = new WeakMap<RemotePort, Map<string, string | null>>();
function graphWorkspace(service: RemotePort, graphId: string): string | null {
  let cache = graphWs.get(service);
  if (!cache) graphWs.set(service, (cache = new Map()));
  let ws = cache.get(graphId);
  if (ws === undefined) {
    ws = service.graphWorkspace(graphId);
    if (cache.size >= 1024) cache.delete(cache.keys().next().value as string);
    cache.set(graphId, ws);
  }
  return ws;
}

/** A signed TASK_CANCELLED for `link`'s current connection (bound to its worker id and session). */
export function cancelMessage(hostKey: HostIdentity, link: WorkerLink, taskId: string, attempt: number, reason: string): MessageOf<'TASK_CANCELLED'> {
  const unsigned = {
    type: 'TASK_CANCELLED' as const,
    worker_id: link.workerId,
    session: link.session,
    task_id: taskId,
    attempt,
    reason: clip(reason, 500),
    nonce: randomBytes(16).toString('base64url'),
  };
  return signMessage(unsigned, hostKey.privateKey);
}

/** 'auto' needs an AI engine on the worker: exec would run the prompt as a shell command. */
export function canRun(link: WorkerLink, engine: string): boolean {
  if (engine === 'auto') return [...link.engines].some((e) => e !== 'exec');
  return link.engines.has(engine);
}

export function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/**
 * The workspace as the worker sees it: relative to its --workspace-root. The
 * graph's default workspace (a host path, meaningless on the worker) becomes
 * '.', a directory inside it becomes that relative path, and anything else is
 * passed as written (the worker accepts it only inside its root).
 */
export function remoteWorkspace(taskWs: string, graphWs: string | null): string {
  if (graphWs === null) return taskWs;
  const base = graphWs.endsWith('/') ? graphWs : `${graphWs}/`;
  if (taskWs === graphWs || `${taskWs}/` === base) return '.';
  if (taskWs.startsWith(base)) return taskWs.slice(base.length) || '.';
  return taskWs;
}
