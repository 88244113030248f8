/**
 * Links into the admin app: `#task=<id>` opens a task's drawer (over whatever
 * tab is shown), `#queue?state=failed&engine=exec&submitted_by=admin&graph_id=…&q=…`
 * opens the queue with those filters. The drawer keeps `#task=<id>` in the
 * address bar while it is open (replaceState: no history entry, no tab switch).
 */
import type { TaskQuery } from './tasks.js';

const TASK_PREFIX = 'task=';
const FILTER_KEYS = ['state', 'q', 'graph_id', 'engine', 'submitted_by'] as const;

export function taskLink(id: string): string {
  return `#${TASK_PREFIX}${encodeURIComponent(id)}`;
}

/** The task a hash links to, or null. */
export function taskFromHash(hash: string): string | null {
  const h = hash.replace(/^#/, '');
  if (!h.startsWith(TASK_PREFIX)) return null;
  try {
    return decodeURIComponent(h.slice(TASK_PREFIX.length)) || null;
  } catch {
    return null; // a malformed %-escape: not a link we made
  }
}

/** The queue filters a `#queue?…` hash carries, or null for any other hash. */
export function queueFiltersFromHash(hash: string): Partial<TaskQuery> | null {
  const h = hash.replace(/^#/, '');
  if (!h.startsWith('queue?')) return null;
  const params = new URLSearchParams(h.slice('queue?'.length));
  const out: Partial<TaskQuery> = {};
  for (const k of FILTER_KEYS) {
    const v = params.get(k);
    if (v !== null) out[k] = v;
  }
  return out;
}

/** Keeps the open task in the address bar and puts the previous hash back when the drawer closes. */
export function followDrawer(): (id: string | null) => void {
  let before: string | null = null;
  return (id) => {
    const current = location.hash;
    if (id) {
      if (!taskFromHash(current)) before = current;
      if (taskFromHash(current) !== id) history.replaceState(null, '', taskLink(id));
    } else if (taskFromHash(current)) {
      history.replaceState(null, '', before || `${location.pathname}${location.search}`);
      before = null;
    }
  };
}
