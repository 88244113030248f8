/**
 * Graph validation: duplicate ids, self-dependencies, unknown dependencies and
 * cycles (with the path). A graph submitted whole is validated whole with
 * Kahn's algorithm, O(V + E); only when Kahn leaves nodes unsorted do we walk
 * the leftover subgraph to name one cycle.
 */
import type { ErrorCode } from './errors.js';

export interface GraphNode {
  id: string;
  depends_on: readonly string[];
}

export interface GraphProblem {
  code: Extract<ErrorCode, 'E_DUPLICATE_ID' | 'E_UNKNOWN_DEP' | 'E_SELF_DEP' | 'E_CYCLE'>;
  task: string;
  message: string;
  path?: string[];
}

/**
 * Validates a batch of new nodes. `isKnown` says whether an id outside the
 * batch already exists (a live graph); edges to such nodes cannot close a cycle
 * because existing nodes never gain new dependencies, so only the batch's own
 * edges are checked — adding tasks costs O(new edges), not O(graph).
 */
export function validateGraph(nodes: readonly GraphNode[], isKnown: (id: string) => boolean = () => false): GraphProblem[] {
  const problems: GraphProblem[] = [];
  const byId = new Map<string, GraphNode>();
  for (const n of nodes) {
    if (byId.has(n.id)) {
      problems.push({ code: 'E_DUPLICATE_ID', task: n.id, message: `task id "${n.id}" is used more than once` });
      continue;
    }
    byId.set(n.id, n);
  }
  for (const n of byId.values()) {
    const seen = new Set<string>();
    for (const dep of n.depends_on) {
      if (dep === n.id) {
        problems.push({ code: 'E_SELF_DEP', task: n.id, message: `task "${n.id}" depends on itself` });
      } else if (!byId.has(dep) && !isKnown(dep)) {
        problems.push({ code: 'E_UNKNOWN_DEP', task: n.id, message: `task "${n.id}" depends on unknown task "${dep}"` });
      } else if (seen.has(dep)) {
        problems.push({ code: 'E_DUPLICATE_ID', task: n.id, message: `task "${n.id}" lists dependency "${dep}" twice` });
      }
      seen.add(dep);
    }
  }
  if (problems.length > 0) return problems;
  const cycle = findCycle(byId);
  if (cycle) {
    problems.push({
      code: 'E_CYCLE',
      task: cycle[0] ?? '',
      message: `dependency cycle: ${cycle.join(' → ')}`,
      path: cycle,
    });
  }
  return problems;
}

/** Kahn's algorithm over the batch; returns one cycle as a closed path (a → b → a) or null. */
export function findCycle(byId: ReadonlyMap<string, GraphNode>): string[] | null {
  const indegree = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const n of byId.values()) {
    let d = 0;
    for (const dep of n.depends_on) {
      if (!byId.has(dep)) continue;
      d++;
      let list = dependents.get(dep);
      if (!list) dependents.set(dep, (list = []));
      list.push(n.id);
    }
    indegree.set(n.id, d);
  }
  const queue: string[] = [];
  for (const [id, d] of indegree) if (d === 0) queue.push(id);
  let sorted = 0;
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i] as string;
    sorted++;
    for (const child of dependents.get(id) ?? []) {
      const d = (indegree.get(child) ?? 0) - 1;
      indegree.set(child, d);
      if (d === 0) queue.push(child);
    }
  }
  if (sorted === byId.size) return null;
  // Every node left with indegree > 0 has a dependency that is also left, so
  // following dependencies from any of them must revisit a node: that's a cycle.
  const start = [...indegree].find(([, d]) => d > 0)?.[0];
  if (start === undefined) return null;
  const order: string[] = [];
  const position = new Map<string, number>();
  let cur: string = start;
  while (!position.has(cur)) {
    position.set(cur, order.length);
    order.push(cur);
    const node = byId.get(cur);
    const next = node?.depends_on.find((dep) => (indegree.get(dep) ?? 0) > 0);
    if (next === undefined) return null;
    cur = next;
  }
  // order runs along "depends on" edges; report it in the same direction, closed.
  const cyc = order.slice(position.get(cur));
  cyc.push(cur);
  return cyc;
}

/** Topological order (dependencies first) of a valid batch; throws on a cycle. */
export function topologicalOrder(nodes: readonly GraphNode[]): string[] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const indegree = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const n of nodes) {
    const deps = n.depends_on.filter((d) => byId.has(d));
    indegree.set(n.id, deps.length);
    for (const dep of deps) {
      let list = dependents.get(dep);
      if (!list) dependents.set(dep, (list = []));
      list.push(n.id);
    }
  }
  const out: string[] = [];
  for (const [id, d] of indegree) if (d === 0) out.push(id);
  for (let i = 0; i < out.length; i++) {
    for (const child of dependents.get(out[i] as string) ?? []) {
      const d = (indegree.get(child) ?? 0) - 1;
      indegree.set(child, d);
      if (d === 0) out.push(child);
    }
  }
  if (out.length !== nodes.length) throw new Error('graph has a cycle');
  return out;
}

/** Longest chain of dependencies above each node (0 for roots); feeds the router's complexity features. */
export function dependencyDepths(nodes: readonly GraphNode[]): Map<string, number> {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const depth = new Map<string, number>();
  for (const id of topologicalOrder(nodes)) {
    const n = byId.get(id);
    let d = 0;
    for (const dep of n?.depends_on ?? []) d = Math.max(d, (depth.get(dep) ?? 0) + 1);
    depth.set(id, d);
  }
  return depth;
}
