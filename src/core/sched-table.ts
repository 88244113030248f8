/**
 * The scheduler's storage (issue 17): tasks interned to integers at the edge,
 * every per-task field in a typed array (struct of arrays), and dependents as
 * adjacency lists in typed arrays (edge slots chained per node, in insertion
 * order), so 100k tasks are a handful of flat arrays instead of 100k objects.
 * Pure data structure; the scheduling rules live in scheduler.ts.
 */
import { TASK_STATES, TERMINAL_STATES, type TaskState, type Trigger } from './task.js';

/** State codes: index into TASK_STATES. */
export const STATE_CODE = new Map<TaskState, number>(TASK_STATES.map((s, i) => [s, i]));
export const TERMINAL = Uint8Array.from(TASK_STATES, (s) => (TERMINAL_STATES.has(s) ? 1 : 0));
export const SUCCESS = Uint8Array.from(TASK_STATES, (s) => (s === 'succeeded' || s === 'skipped' ? 1 : 0));

export const F_FORCED = 1;
export const F_HELD_AFTER_RUN = 2;
export const F_ALL_DONE = 4; // trigger all_done (else all_success)

function grow<A extends Int32Array | Uint8Array>(a: A, need: number): A {
  if (need <= a.length) return a;
  let n = a.length;
  while (n < need) n *= 2;
  const b = new (a.constructor as new (n: number) => A)(n);
  b.set(a);
  return b;
}

export class SchedTable {
  readonly ids: string[] = [];
  readonly index = new Map<string, number>();
  readonly deps: (readonly string[])[] = []; // the caller's arrays, never mutated (dropEdge replaces one)
  readonly lane: string[] = [];
  state = new Uint8Array(1024);
  flags = new Uint8Array(1024);
  remaining = new Int32Array(1024);
  failed = new Int32Array(1024);
  // Dependents of node n: edge slots from head[n] following next[], each naming a child; tail[n] keeps insertion order.
  head = new Int32Array(1024).fill(-1);
  tail = new Int32Array(1024).fill(-1);
  child = new Int32Array(4096);
  next = new Int32Array(4096);
  edges = 0;
  private freeEdge = -1; // slots freed by dropEdge, chained through next[]

  get size(): number {
    return this.ids.length;
  }

  add(id: string, deps: readonly string[], trigger: Trigger, state: TaskState, lane: string, heldAfterRun: boolean): number {
    const n = this.ids.length;
    if (n >= this.state.length) {
      const need = n + 1;
      this.state = grow(this.state, need);
      this.flags = grow(this.flags, need);
      this.remaining = grow(this.remaining, need);
      this.failed = grow(this.failed, need);
      const h = this.head.length;
      this.head = grow(this.head, need);
      this.head.fill(-1, h);
      this.tail = grow(this.tail, need);
      this.tail.fill(-1, h);
    }
    this.ids.push(id);
    this.index.set(id, n);
    this.deps.push(deps);
    this.lane.push(lane);
    this.state[n] = STATE_CODE.get(state) as number;
    this.flags[n] = (trigger === 'all_done' ? F_ALL_DONE : 0) | (heldAfterRun ? F_HELD_AFTER_RUN : 0);
    return n;
  }

  /** Appends `c` to the dependents of `p`. */
  link(p: number, c: number): void {
    let e = this.freeEdge;
    if (e >= 0) this.freeEdge = this.next[e] as number;
    else {
      e = this.edges++;
      if (e >= this.child.length) {
        this.child = grow(this.child, e + 1);
        this.next = grow(this.next, e + 1);
      }
    }
    this.child[e] = c;
    this.next[e] = -1;
    const t = this.tail[p] as number;
    if (t < 0) this.head[p] = e;
    else this.next[t] = e;
    this.tail[p] = e;
  }

  /** Removes one `c` from the dependents of `p`. */
  unlink(p: number, c: number): void {
    let prev = -1;
    for (let e = this.head[p] as number; e >= 0; prev = e, e = this.next[e] as number) {
      if (this.child[e] !== c) continue;
      const after = this.next[e] as number;
      if (prev < 0) this.head[p] = after;
      else this.next[prev] = after;
      if (this.tail[p] === e) this.tail[p] = prev;
      this.next[e] = this.freeEdge;
      this.freeEdge = e;
      return;
    }
  }

  dependents(p: number): number[] {
    const out: number[] = [];
    for (let e = this.head[p] as number; e >= 0; e = this.next[e] as number) out.push(this.child[e] as number);
    return out;
  }
}
