/**
 * Which live events are worth a notification (issue 18): a task waiting for
 * approval (a held task, an agent's held tool call or a pending change), a task that failed, a graph
 * whose last task ended. Budget alerts come from the budget watch. The
 * notification carries the owner of the task, so the live stream's per-viewer
 * rules (core/redact.ts: unknown kinds of other users are dropped) decide who
 * receives it.
 */
import type { Notification } from '../../core/webhook.js';
import { isTerminal, type TaskState } from '../../core/task.js';
import type { EventRecord } from '../../store/rows.js';
import type { StoredTask } from '../../store/rows.js';

const short = (s: string, n = 200): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export function fromEvent(e: EventRecord, task: (id: string) => StoredTask | null): Notification[] {
  if (e.kind === 'graph.submitted' && Array.isArray(e.data['tasks'])) return heldAtSubmit(e, task);
  const one = fromTaskEvent(e, task);
  return one ? [one] : [];
}

/** Tasks a submission put straight into awaiting_approval (no task.state event announces those). */
function heldAtSubmit(e: EventRecord, task: (id: string) => StoredTask | null): Notification[] {
  const out: Notification[] = [];
  for (const id of e.data['tasks'] as unknown[]) {
    const t = typeof id === 'string' ? task(id) : null;
    if (t?.state !== 'awaiting_approval') continue;
    out.push({
      event: 'approval.needed',
      title: 'Approval needed',
      body: short(t.title),
      at: e.at,
      owner: t.submitted_by,
      task_id: t.id,
      graph_id: t.graph_id,
      detail: {},
    });
  }
  return out;
}

function fromTaskEvent(e: EventRecord, task: (id: string) => StoredTask | null): Notification | null {
  if (e.task_id === null) return null;
  const base = { at: e.at, task_id: e.task_id, detail: {} };
  if (e.kind === 'task.state' && (e.data['to'] === 'awaiting_approval' || e.data['to'] === 'failed')) {
    const t = task(e.task_id);
    if (!t) return null;
    const reason = typeof e.data['reason'] === 'string' ? e.data['reason'] : '';
    if (e.data['to'] === 'awaiting_approval') {
      return { ...base, event: 'approval.needed', title: 'Approval needed', body: short(t.title), owner: t.submitted_by, graph_id: t.graph_id };
    }
    return {
      ...base,
      event: 'task.failed',
      title: 'Task failed',
      body: short(`${t.title}${reason ? ` — ${reason}` : ''}`),
      owner: t.submitted_by,
      graph_id: t.graph_id,
    };
  }
  if (e.kind === 'approval' && e.data['state'] === 'waiting') {
    const t = task(e.task_id);
    if (!t) return null;
    return { ...base, event: 'approval.needed', title: 'Tool call to approve', body: short(t.title), owner: t.submitted_by, graph_id: t.graph_id };
  }
  if (e.kind === 'change' && e.data['status'] === 'pending') {
    const t = task(e.task_id);
    if (!t) return null;
    return { ...base, event: 'approval.needed', title: 'Change to approve', body: short(t.title), owner: t.submitted_by, graph_id: t.graph_id };
  }
  return null;
}

/** The graph a terminal task.state event may have finished, or null. */
export function graphMaybeDone(e: EventRecord): string | null {
  if (e.kind !== 'task.state' || typeof e.data['graph_id'] !== 'string') return null;
  return isTerminal(e.data['to'] as TaskState) ? e.data['graph_id'] : null;
}

/** A graph is finished when none of its tasks is still open. */
export function graphFinished(graph: { id: string; name: string; submitted_by: string }, counts: Record<string, number>, at: number): Notification | null {
  const open = Object.entries(counts).filter(([s]) => !isTerminal(s as TaskState));
  if (open.some(([, n]) => n > 0)) return null;
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const ok = counts['succeeded'] ?? 0;
  const parts = Object.entries(counts)
    .filter(([s, n]) => s !== 'succeeded' && n > 0)
    .map(([s, n]) => `${n} ${s.replace('_', ' ')}`);
  return {
    event: 'graph.finished',
    title: ok === total ? 'Graph finished' : 'Graph finished with failures',
    body: short(`${graph.name}: ${ok}/${total} succeeded${parts.length ? `, ${parts.join(', ')}` : ''}`),
    at,
    owner: graph.submitted_by,
    task_id: null,
    graph_id: graph.id,
    detail: { counts },
  };
}
