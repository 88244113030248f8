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
 */
import { MinHeap } from './heap.js';
import { ColonyError } from './errors.js';
import { assertTransition, isSuccessOutcome } from './task-state.js';
import { isTerminal, type TaskState, type Trigger } from './task.js';

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

interface Node {
  id: string;
  deps: readonly string[]; // the caller's array, never mutated (dropEdge replaces it)
  dependents: Node[]; // references, not ids: completing a task touches its dependents without a lookup each
  trigger: Trigger;
  state: TaskState;
  lane: string;
  remaining: number;
  failed: number;
  forced: boolean;
  heldAfterRun: boolean;
}

export type FinishState = 'succeeded' | 'failed' | 'timed_out' | 'cancelled';

export class Scheduler {
  private readonly nodes = new Map<string, Node>();
  private readonly lanes = new Map<string, Set<string>>();
  private readonly deadlines = new MinHeap<string>();
  private readonly counts = new Map<TaskState, number>();
  private pending: Node[] = [];

  has(id: string): boolean {
    return this.nodes.has(id);
  }

  state(id: string): TaskState | undefined {
    return this.nodes.get(id)?.state;
  }

  dependents(id: string): readonly string[] {
    return this.nodes.get(id)?.dependents.map((d) => d.id) ?? [];
  }

  size(): number {
    return this.nodes.size;
  }

  countByState(): Record<string, number> {
    return Object.fromEntries(this.counts);
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
    const batch: Node[] = [];
    for (const t of tasks) {
      if (this.nodes.has(t.id)) throw new ColonyError('E_DUPLICATE_ID', `task id "${t.id}" already exists`);
      const node: Node = {
        id: t.id,
        deps: t.depends_on,
        dependents: [],
        trigger: t.trigger,
        state: t.state,
        lane: t.lane,
        remaining: 0,
        failed: 0,
        forced: false,
        heldAfterRun: t.held_after_run === true,
      };
      this.nodes.set(t.id, node);
      this.bump(t.state, 1);
      if (t.state === 'ready') this.enqueue(node);
      if (t.wait_deadline !== null && !isTerminal(t.state)) this.deadlines.push(t.wait_deadline, t.id);
      batch.push(node);
    }
    for (const node of batch) {
      for (const depId of node.deps) {
        const dep = this.nodes.get(depId);
        if (!dep) throw new ColonyError('E_UNKNOWN_DEP', `task "${node.id}" depends on unknown task "${depId}"`);
        dep.dependents.push(node);
        if (!isTerminal(dep.state)) node.remaining++;
        else if (!isSuccessOutcome(dep.state)) node.failed++;
      }
    }
    // No spread: push(...batch) overflows the call stack beyond ~120k tasks (e.g. reloading a big store).
    for (let i = batch.length - 1; i >= 0; i--) this.pending.push(batch[i] as Node);
    this.drain(out);
    return out;
  }

  /** Takes up to `limit` ready tasks of a lane (FIFO) and marks them assigned; `accept` can narrow (e.g. one graph). */
  claim(lane: string, limit: number, accept?: (id: string) => boolean): Transition[] {
    const out: Transition[] = [];
    const q = this.lanes.get(lane);
    if (!q) return out;
    for (const id of q) {
      if (out.length >= limit) break;
      if (accept && !accept(id)) continue;
      this.move(this.get(id), 'assigned', 'claimed', out);
    }
    return out;
  }

  /** Ready ids of a lane in FIFO order, without claiming them. */
  peekReady(lane: string, limit = Infinity): string[] {
    const out: string[] = [];
    for (const id of this.lanes.get(lane) ?? []) {
      if (out.length >= limit) break;
      out.push(id);
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
    const node = this.get(id);
    return this.run((out) => {
      this.move(node, 'awaiting_approval', reason, out);
      node.heldAfterRun = true;
    });
  }

  /** The admin decided a held task's change: approved → succeeded, rejected → failed. */
  settleHeld(id: string, ok: boolean, reason: string): Transition[] {
    const node = this.get(id);
    if (node.state !== 'awaiting_approval' || !node.heldAfterRun) {
      throw new ColonyError('E_INVALID_TRANSITION', `task ${id} is not waiting for its change to be decided`);
    }
    return this.run((out) => {
      node.heldAfterRun = false;
      this.move(node, ok ? 'succeeded' : 'failed', reason, out);
    });
  }

  /**
   * The admin requested changes on the task's pending change: a succeeded task,
   * or one held for that change, runs again (a follow-up attempt). Dependents
   * that have not started wait for it again; those that ran keep their result.
   */
  reopen(id: string, reason: string): Transition[] {
    const node = this.get(id);
    if (!(node.state === 'succeeded' || (node.state === 'awaiting_approval' && node.heldAfterRun))) {
      throw new ColonyError('E_INVALID_TRANSITION', `task ${id} is ${node.state}; only a finished task whose change waits for review can be revised`);
    }
    return this.run((out) => {
      node.heldAfterRun = false;
      node.forced = true; // its dependencies were met when it first ran
      this.move(node, 'ready', reason, out);
    });
  }

  approve(id: string, reason = 'approved'): Transition[] {
    const node = this.get(id);
    if (node.heldAfterRun) {
      throw new ColonyError('E_INVALID_TRANSITION', `task ${id} already ran; approve or reject its pending change instead`);
    }
    if (node.state !== 'awaiting_approval') {
      throw new ColonyError('E_INVALID_TRANSITION', `task ${id} is ${node.state}, not awaiting_approval`);
    }
    return this.run((out) => {
      this.move(node, 'waiting', reason, out);
      this.pending.push(node);
    });
  }

  /** Admin override: run now, ignoring dependencies. */
  forceRun(id: string): Transition[] {
    const node = this.get(id);
    return this.run((out) => {
      node.forced = true;
      this.move(node, 'ready', 'forced by admin (dependencies ignored)', out);
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
    const node = this.get(id);
    if (!['failed', 'timed_out', 'cancelled'].includes(node.state)) {
      throw new ColonyError('E_INVALID_TRANSITION', `task ${id} is ${node.state}; only failed, timed_out or cancelled tasks can be retried`);
    }
    return this.run((out) => {
      node.forced = false;
      this.move(node, 'waiting', 'retry requested', out);
      this.pending.push(node);
    });
  }

  /** Admin override: remove the edge `id` depends on `depId`. */
  dropEdge(id: string, depId: string): Transition[] {
    const node = this.get(id);
    const dep = this.get(depId);
    const at = node.deps.indexOf(depId);
    if (at < 0) throw new ColonyError('E_NOT_FOUND', `task ${id} does not depend on ${depId}`);
    node.deps = node.deps.filter((_, i) => i !== at);
    dep.dependents.splice(dep.dependents.indexOf(node), 1);
    if (!isTerminal(dep.state)) node.remaining--;
    else if (!isSuccessOutcome(dep.state)) node.failed--;
    return this.run(() => this.pending.push(node));
  }

  /** Fails every task whose wait deadline passed while it was still not ready. */
  expireWaits(now: number): Transition[] {
    const out: Transition[] = [];
    while ((this.deadlines.peekKey() ?? Infinity) <= now) {
      const id = this.deadlines.pop() as string;
      const node = this.nodes.get(id);
      if (node && !node.heldAfterRun && (node.state === 'waiting' || node.state === 'awaiting_approval' || node.state === 'paused')) {
        this.move(node, 'failed', 'wait_timeout', out);
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

  private get(id: string): Node {
    const node = this.nodes.get(id);
    if (!node) throw new ColonyError('E_NOT_FOUND', `no task ${id}`);
    return node;
  }

  private move(node: Node, to: TaskState, reason: string, out: Transition[]): void {
    const from = node.state;
    assertTransition(node.id, from, to);
    if (from === 'ready') this.lanes.get(node.lane)?.delete(node.id);
    node.state = to;
    this.bump(from, -1);
    this.bump(to, 1);
    if (to === 'ready') this.enqueue(node);
    out.push({ id: node.id, from, to, reason });
    const wasT = isTerminal(from);
    const isT = isTerminal(to);
    if (wasT === isT && (!wasT || isSuccessOutcome(from) === isSuccessOutcome(to))) return;
    // The node's terminal-ness or outcome changed: adjust each dependent's counters.
    for (const child of node.dependents) {
      if (!wasT) child.remaining--;
      if (!isT) child.remaining++;
      if (wasT && !isSuccessOutcome(from)) child.failed--;
      if (isT && !isSuccessOutcome(to)) child.failed++;
      this.pending.push(child);
    }
  }

  /** Re-evaluates nodes whose counters changed; an explicit worklist so a 100k chain cannot overflow the stack. */
  private drain(out: Transition[]): void {
    let node: Node | undefined;
    while ((node = this.pending.pop())) {
      const blockedByFailure = node.trigger === 'all_success' && node.failed > 0;
      switch (node.state) {
        case 'waiting':
          if (blockedByFailure) this.move(node, 'upstream_failed', 'a dependency did not succeed', out);
          else if (node.remaining === 0) this.move(node, 'ready', 'dependencies done', out);
          break;
        case 'ready':
          if (!node.forced && node.remaining > 0) this.move(node, 'waiting', 'a dependency re-opened', out);
          break;
        case 'awaiting_approval':
        case 'paused':
          if (blockedByFailure && !node.forced && !node.heldAfterRun) this.move(node, 'upstream_failed', 'a dependency did not succeed', out);
          break;
        case 'upstream_failed':
          if (!blockedByFailure) {
            this.move(node, 'waiting', 'upstream re-opened', out);
            this.pending.push(node);
          }
          break;
        default:
          break;
      }
    }
  }

  private enqueue(node: Node): void {
    let q = this.lanes.get(node.lane);
    if (!q) this.lanes.set(node.lane, (q = new Set()));
    q.add(node.id);
  }

  private bump(state: TaskState, by: number): void {
    this.counts.set(state, (this.counts.get(state) ?? 0) + by);
  }
}
