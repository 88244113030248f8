/**
 * The live scheduling state of every non-archived task: in-degree counters,
 * ready queues per lane, wait deadlines. Pure and synchronous: each method
 * returns the transitions it made, in order, and the caller persists them in
 * one transaction (store) before acting on them. Nothing here scans all tasks:
 * completing a task touches only its dependents, so scheduling is O(V + E).
 *
 * Counter semantics per node: `remaining` = dependencies not yet terminal,
 * `failed` = terminal dependencies that did not succeed (skipped counts as
 * success — the admin said so). all_success: any failed dep → upstream_failed
 * at once, cascading; all_done: ready when remaining hits 0 whatever happened.
 *
 * Storage (issue 17): ids are interned to integers at the edge and every
 * per-task field lives in a typed array (sched-table.ts); the public API speaks ids.
 */
import { MinHeap } from './heap.js';
import { ColonyError } from './errors.js';
import { F_ALL_DONE, F_FORCED, F_HELD_AFTER_RUN, SchedTable, STATE_CODE, SUCCESS, TERMINAL } from './sched-table.js';
import { assertTransition } from './task-state.js';
import { isTerminal, TASK_STATES, type TaskState, type Trigger } from './task.js';

export interface SchedTask {
  id: string;
  depends_on: readonly string[];
  trigger: Trigger;
  state: TaskState;
  lane: string; // dispatch queue: 'host', 'user:<session>', 'worker:<id>'
  wait_deadline: number | null; // ms since epoch; fails with wait_timeout if not ready by then
  held_after_run?: boolean; // ran already; awaiting_approval of its pending change
}

export interface Transition {
  id: string;
  from: TaskState;
  to: TaskState;
  reason: string;
}

export type FinishState = 'succeeded' | 'failed' | 'timed_out' | 'cancelled';

export class Scheduler {
  private readonly t = new SchedTable();
  private readonly lanes = new Map<string, Set<number>>();
  private readonly deadlines = new MinHeap<number>();
  private readonly counts = new Int32Array(TASK_STATES.length);
  private readonly counted = new Uint8Array(TASK_STATES.length); // states seen once stay in countByState, at 0 too
  private pending: number[] = [];

  has(id: string): boolean {
    return this.t.index.has(id);
  }

  state(id: string): TaskState | undefined {
    const n = this.t.index.get(id);
    return n === undefined ? undefined : TASK_STATES[this.t.state[n] as number];
  }

  dependents(id: string): readonly string[] {
    const n = this.t.index.get(id);
    return n === undefined ? [] : this.t.dependents(n).map((c) => this.t.ids[c] as string);
  }

  size(): number {
    return this.t.size;
  }

  countByState(): Record<string, number> {
    const out: Record<string, number> = {};
    this.counts.forEach((c, i) => {
      if (this.counted[i] === 1) out[TASK_STATES[i] as string] = c;
    });
    return out;
  }

  readyCount(lane: string): number {
    return this.lanes.get(lane)?.size ?? 0;
  }

  readyLanes(): string[] {
    return [...this.lanes].filter(([, s]) => s.size > 0).map(([l]) => l);
  }

  /**
   * Adds tasks (new ones in state waiting/awaiting_approval, or persisted ones
   * on resume in any state). Dependencies must already exist or be in the
   * batch: validate with `validateGraph(batch, id => scheduler.has(id))` first.
   */
  add(tasks: readonly SchedTask[]): Transition[] {
    const out: Transition[] = [];
    const t = this.t;
    const first = t.size;
    for (const task of tasks) {
      if (t.index.has(task.id)) throw new ColonyError('E_DUPLICATE_ID', `task id "${task.id}" already exists`);
      const n = t.add(task.id, task.depends_on, task.trigger, task.state, task.lane, task.held_after_run === true);
      this.bump(t.state[n] as number, 1);
      if (task.state === 'ready') this.enqueue(n);
      if (task.wait_deadline !== null && !isTerminal(task.state)) this.deadlines.push(task.wait_deadline, n);
    }
    const last = t.size;
    for (let n = first; n < last; n++) {
      for (const depId of t.deps[n] as readonly string[]) {
        const d = t.index.get(depId);
        if (d === undefined) throw new ColonyError('E_UNKNOWN_DEP', `task "${t.ids[n]}" depends on unknown task "${depId}"`);
        t.link(d, n);
        const ds = t.state[d] as number;
        if (!TERMINAL[ds]) t.remaining[n] = (t.remaining[n] as number) + 1;
        else if (!SUCCESS[ds]) t.failed[n] = (t.failed[n] as number) + 1;
      }
    }
    for (let n = last - 1; n >= first; n--) this.pending.push(n);
    this.drain(out);
    return out;
  }

  /** Takes up to `limit` ready tasks of a lane (FIFO) and marks them assigned; `accept` can narrow (e.g. one graph). */
  claim(lane: string, limit: number, accept?: (id: string) => boolean): Transition[] {
    const out: Transition[] = [];
    const q = this.lanes.get(lane);
    if (!q) return out;
    for (const n of q) {
      if (out.length >= limit) break;
      if (accept && !accept(this.t.ids[n] as string)) continue;
      this.move(n, 'assigned', 'claimed', out);
    }
    return out;
  }

  /** Ready ids of a lane in FIFO order, without claiming them. */
  peekReady(lane: string, limit = Infinity): string[] {
    const out: string[] = [];
    for (const n of this.lanes.get(lane) ?? []) {
      if (out.length >= limit) break;
      out.push(this.t.ids[n] as string);
    }
    return out;
  }

  start(id: string): Transition[] {
    return this.run((out) => this.move(this.get(id), 'running', 'started', out));
  }

  finish(id: string, to: FinishState, reason: string): Transition[] {
    return this.run((out) => this.move(this.get(id), to, reason, out));
  }

  /** An assigned/running task goes back to the queue (retry, lost lease, crash recovery). */
  requeue(id: string, reason: string): Transition[] {
    return this.run((out) => this.move(this.get(id), 'ready', reason, out));
  }

  /** Safety verdict needs_approval, or a LAN task asking for the host. */
  hold(id: string, reason: string): Transition[] {
    return this.run((out) => this.move(this.get(id), 'awaiting_approval', reason, out));
  }

  /** The task ran and its change waits for the admin; dependents keep waiting until settleHeld. */
  holdAfterRun(id: string, reason: string): Transition[] {
    const n = this.get(id);
    return this.run((out) => {
      this.move(n, 'awaiting_approval', reason, out);
      this.t.flags[n] = (this.t.flags[n] as number) | F_HELD_AFTER_RUN;
    });
  }

  /** The admin decided a held task's change: approved → succeeded, rejected → failed. */
  settleHeld(id: string, ok: boolean, reason: string): Transition[] {
    const n = this.get(id);
    if (this.stateOf(n) !== 'awaiting_approval' || !this.held(n)) {
      throw new ColonyError('E_INVALID_TRANSITION', `task ${id} is not waiting for its change to be decided`);
    }
    return this.run((out) => {
      this.t.flags[n] = (this.t.flags[n] as number) & ~F_HELD_AFTER_RUN;
      this.move(n, ok ? 'succeeded' : 'failed', reason, out);
    });
  }

  /**
   * The admin requested changes on the task's pending change: a succeeded task,
   * or one held for that change, runs again (a follow-up attempt). Dependents
   * that have not started wait for it again; those that ran keep their result.
   */
  reopen(id: string, reason: string): Transition[] {
    const n = this.get(id);
    const st = this.stateOf(n);
    if (!(st === 'succeeded' || (st === 'awaiting_approval' && this.held(n)))) {
      throw new ColonyError('E_INVALID_TRANSITION', `task ${id} is ${st}; only a finished task whose change waits for review can be revised`);
    }
    return this.run((out) => {
      // Its dependencies were met when it first ran: forced, so it does not wait for them again.
      this.t.flags[n] = ((this.t.flags[n] as number) & ~F_HELD_AFTER_RUN) | F_FORCED;
      this.move(n, 'ready', reason, out);
    });
  }

  approve(id: string, reason = 'approved'): Transition[] {
    const n = this.get(id);
    if (this.held(n)) {
      throw new ColonyError('E_INVALID_TRANSITION', `task ${id} already ran; approve or reject its pending change instead`);
    }
    if (this.stateOf(n) !== 'awaiting_approval') {
      throw new ColonyError('E_INVALID_TRANSITION', `task ${id} is ${this.stateOf(n)}, not awaiting_approval`);
    }
    return this.run((out) => {
      this.move(n, 'waiting', reason, out);
      this.pending.push(n);
    });
  }

  /** Admin override: run now, ignoring dependencies. */
  forceRun(id: string): Transition[] {
    const n = this.get(id);
    return this.run((out) => {
      this.t.flags[n] = (this.t.flags[n] as number) | F_FORCED;
      this.move(n, 'ready', 'forced by admin (dependencies ignored)', out);
    });
  }

  skip(id: string, reason = 'skipped by admin'): Transition[] {
    return this.run((out) => this.move(this.get(id), 'skipped', reason, out));
  }

  cancel(id: string, reason = 'cancelled'): Transition[] {
    return this.run((out) => this.move(this.get(id), 'cancelled', reason, out));
  }

  /** Admin override: retry a failed/timed-out/cancelled task; its upstream_failed dependents re-open. */
  retry(id: string): Transition[] {
    const n = this.get(id);
    const st = this.stateOf(n);
    if (!['failed', 'timed_out', 'cancelled'].includes(st)) {
      throw new ColonyError('E_INVALID_TRANSITION', `task ${id} is ${st}; only failed, timed_out or cancelled tasks can be retried`);
    }
    return this.run((out) => {
      this.t.flags[n] = (this.t.flags[n] as number) & ~F_FORCED;
      this.move(n, 'waiting', 'retry requested', out);
      this.pending.push(n);
    });
  }

  /** Admin override: remove the edge `id` depends on `depId`. */
  dropEdge(id: string, depId: string): Transition[] {
    const n = this.get(id);
    const d = this.get(depId);
    const deps = this.t.deps[n] as readonly string[];
    const at = deps.indexOf(depId);
    if (at < 0) throw new ColonyError('E_NOT_FOUND', `task ${id} does not depend on ${depId}`);
    this.t.deps[n] = deps.filter((_, i) => i !== at);
    this.t.unlink(d, n);
    const ds = this.t.state[d] as number;
    if (!TERMINAL[ds]) this.t.remaining[n] = (this.t.remaining[n] as number) - 1;
    else if (!SUCCESS[ds]) this.t.failed[n] = (this.t.failed[n] as number) - 1;
    return this.run(() => this.pending.push(n));
  }

  /** Fails every task whose wait deadline passed while it was still not ready. */
  expireWaits(now: number): Transition[] {
    const out: Transition[] = [];
    while ((this.deadlines.peekKey() ?? Infinity) <= now) {
      const n = this.deadlines.pop() as number;
      const st = this.stateOf(n);
      if (!this.held(n) && (st === 'waiting' || st === 'awaiting_approval' || st === 'paused')) {
        this.move(n, 'failed', 'wait_timeout', out);
        this.drain(out);
      }
    }
    return out;
  }

  private run(fn: (out: Transition[]) => void): Transition[] {
    const out: Transition[] = [];
    fn(out);
    this.drain(out);
    return out;
  }

  private get(id: string): number {
    const n = this.t.index.get(id);
    if (n === undefined) throw new ColonyError('E_NOT_FOUND', `no task ${id}`);
    return n;
  }

  private stateOf(n: number): TaskState {
    return TASK_STATES[this.t.state[n] as number] as TaskState;
  }

  private held(n: number): boolean {
    return ((this.t.flags[n] as number) & F_HELD_AFTER_RUN) !== 0;
  }

  private move(n: number, to: TaskState, reason: string, out: Transition[]): void {
    const t = this.t;
    const fromCode = t.state[n] as number;
    const from = TASK_STATES[fromCode] as TaskState;
    const id = t.ids[n] as string;
    assertTransition(id, from, to);
    const toCode = STATE_CODE.get(to) as number;
    if (from === 'ready') this.lanes.get(t.lane[n] as string)?.delete(n);
    t.state[n] = toCode;
    this.bump(fromCode, -1);
    this.bump(toCode, 1);
    if (to === 'ready') this.enqueue(n);
    out.push({ id, from, to, reason });
    const wasT = TERMINAL[fromCode] === 1;
    const isT = TERMINAL[toCode] === 1;
    const wasFail = wasT && SUCCESS[fromCode] === 0;
    const isFail = isT && SUCCESS[toCode] === 0;
    if (wasT === isT && wasFail === isFail) return;
    // The node's terminal-ness or outcome changed: adjust each dependent's counters.
    const dRem = (wasT ? 0 : -1) + (isT ? 0 : 1);
    const dFail = (wasFail ? -1 : 0) + (isFail ? 1 : 0);
    for (let e = t.head[n] as number; e >= 0; e = t.next[e] as number) {
      const c = t.child[e] as number;
      t.remaining[c] = (t.remaining[c] as number) + dRem;
      t.failed[c] = (t.failed[c] as number) + dFail;
      this.pending.push(c);
    }
  }

  /** Re-evaluates nodes whose counters changed; an explicit worklist so a 100k chain cannot overflow the stack. */
  private drain(out: Transition[]): void {
    const t = this.t;
    let n: number | undefined;
    while ((n = this.pending.pop()) !== undefined) {
      const flags = t.flags[n] as number;
      const blockedByFailure = (flags & F_ALL_DONE) === 0 && (t.failed[n] as number) > 0;
      const forced = (flags & F_FORCED) !== 0;
      switch (this.stateOf(n)) {
        case 'waiting':
          if (blockedByFailure) this.move(n, 'upstream_failed', 'a dependency did not succeed', out);
          else if (t.remaining[n] === 0) this.move(n, 'ready', 'dependencies done', out);
          break;
        case 'ready':
          if (!forced && (t.remaining[n] as number) > 0) this.move(n, 'waiting', 'a dependency re-opened', out);
          break;
        case 'awaiting_approval':
        case 'paused':
          if (blockedByFailure && !forced && (flags & F_HELD_AFTER_RUN) === 0) this.move(n, 'upstream_failed', 'a dependency did not succeed', out);
          break;
        case 'upstream_failed':
          if (!blockedByFailure) {
            this.move(n, 'waiting', 'upstream re-opened', out);
            this.pending.push(n);
          }
          break;
        default:
          break;
      }
    }
  }

  private bump(code: number, by: number): void {
    this.counts[code] = (this.counts[code] as number) + by;
    this.counted[code] = 1;
  }

  private enqueue(n: number): void {
    const lane = this.t.lane[n] as string;
    let q = this.lanes.get(lane);
    if (!q) this.lanes.set(lane, (q = new Set()));
    q.add(n);
  }
}
