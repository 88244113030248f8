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
  // Ids → indices once; the edges inside the batch are resolved in the same pass as the checks
  // and kept as index lists (CSR) for the cycle search: one Map lookup per edge in all.
  const index = new Map<string, number>();
  const list: GraphNode[] = [];
  for (const n of nodes) {
    if (index.has(n.id)) {
      problems.push({ code: 'E_DUPLICATE_ID', task: n.id, message: `task id "${n.id}" is used more than once` });
      continue;
    }
    index.set(n.id, list.length);
    list.push(n);
  }
  const depStart = new Int32Array(list.length + 1);
  const depList: number[] = [];
  for (let i = 0; i < list.length; i++) {
    const n = list[i] as GraphNode;
    const deps = n.depends_on;
    depStart[i] = depList.length;
    // Repeats: a short list is scanned (no Set per task — this runs for every task of a 100k graph).
    const seen = deps.length > 16 ? new Set<string>() : null;
    for (let d = 0; d < deps.length; d++) {
      const dep = deps[d] as string;
      const j = dep === n.id ? -1 : index.get(dep);
      if (dep === n.id) {
        problems.push({ code: 'E_SELF_DEP', task: n.id, message: `task "${n.id}" depends on itself` });
      } else if (j === undefined && !isKnown(dep)) {
        problems.push({ code: 'E_UNKNOWN_DEP', task: n.id, message: `task "${n.id}" depends on unknown task "${dep}"` });
      } else if (seen ? seen.has(dep) : deps.indexOf(dep) < d) {
        problems.push({ code: 'E_DUPLICATE_ID', task: n.id, message: `task "${n.id}" lists dependency "${dep}" twice` });
      } else if (j !== undefined) {
        depList.push(j);
      }
      seen?.add(dep);
    }
  }
  depStart[list.length] = depList.length;
  if (problems.length > 0) return problems;
  const cycle = cycleIn(list, depStart, depList);
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
  const list = [...byId.values()];
  const index = new Map<string, number>();
  list.forEach((n, i) => index.set(n.id, i));
  const depStart = new Int32Array(list.length + 1);
  const depList: number[] = [];
  list.forEach((n, i) => {
    depStart[i] = depList.length;
    for (const dep of n.depends_on) {
      const j = index.get(dep);
      if (j !== undefined) depList.push(j);
    }
  });
  depStart[list.length] = depList.length;
  return cycleIn(list, depStart, depList);
}

/**
 * Kahn over index arrays: node i depends on depList[depStart[i] .. depStart[i+1]) (edges inside
 * the batch only, in declared order). Counters and adjacency are typed arrays, so a 100k-task
 * graph allocates a handful of arrays, not an object per node. If nodes are left unsorted, walks
 * their dependencies to name one cycle.
 */
function cycleIn(list: readonly GraphNode[], depStart: Int32Array, depList: readonly number[]): string[] | null {
  const n = list.length;
  const outDegree = new Int32Array(n);
  for (const j of depList) outDegree[j] = (outDegree[j] as number) + 1;
  // dependents of node j: childList[childStart[j] .. childStart[j+1])
  const childStart = new Int32Array(n + 1);
  for (let j = 0; j < n; j++) childStart[j + 1] = (childStart[j] as number) + (outDegree[j] as number);
  const fill = childStart.slice(0, n);
  const childList = new Int32Array(depList.length);
  const indegree = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const end = depStart[i + 1] as number;
    indegree[i] = end - (depStart[i] as number);
    for (let e = depStart[i] as number; e < end; e++) {
      const j = depList[e] as number;
      childList[fill[j] as number] = i;
      fill[j] = (fill[j] as number) + 1;
    }
  }
  const queue = new Int32Array(n);
  let tail = 0;
  for (let i = 0; i < n; i++) if (indegree[i] === 0) queue[tail++] = i;
  for (let head = 0; head < tail; head++) {
    const j = queue[head] as number;
    const end = childStart[j + 1] as number;
    for (let e = childStart[j] as number; e < end; e++) {
      const child = childList[e] as number;
      indegree[child] = (indegree[child] as number) - 1;
      if (indegree[child] === 0) queue[tail++] = child;
    }
  }
  if (tail === n) return null;
  // Every node left with indegree > 0 has a dependency that is also left, so
  // following dependencies from any of them must revisit a node: that's a cycle.
  let start = -1;
  for (let i = 0; i < n && start < 0; i++) if ((indegree[i] as number) > 0) start = i;
  if (start < 0) return null;
  const order: number[] = [];
  const position = new Int32Array(n).fill(-1);
  let cur = start;
  while (position[cur] === -1) {
    position[cur] = order.length;
    order.push(cur);
    let next = -1;
    const end = depStart[cur + 1] as number;
    for (let e = depStart[cur] as number; e < end && next < 0; e++) {
      const j = depList[e] as number;
      if ((indegree[j] as number) > 0) next = j;
    }
    if (next < 0) return null;
    cur = next;
  }
  // order runs along "depends on" edges; report it in the same direction, closed.
  const ids = (i: number): string => (list[i] as GraphNode).id;
  const cyc = order.slice(position[cur]).map(ids);
  cyc.push(ids(cur));
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
