/**
 * Store conformance: `describeStoreConformance(makeStore)` states what any
 * store backend must do (atomic submits and transitions, one audit record and
 * one event per transition, attempts folding cost into tasks, events only after
 * commit, a hash chain that survives a restart), through the StoreBackend interface
 * only — no SQL. store.test.ts runs it over a real SQLite file; a future
 * backend (PostgreSQL) calls it with its own factory.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isColonyError } from '../../src/core/errors.js';
import { Scheduler, type Transition } from '../../src/core/scheduler.js';
import type { EventRecord } from '../../src/store/rows.js';
import type { StoreBackend } from '../../src/store/backend.js';
import { SYSTEM, type Actor, type AttemptEnd, type NewTask } from '../../src/store/store.js';

export interface StoreFixture {
  store: StoreBackend;
  /** Closes the store and opens the same data again (a host restart). */
  reopen(): StoreBackend;
  dispose(): void;
}

export const ADMIN: Actor = { actor: 'admin', origin: 'local' };

export function task(id: string, deps: string[] = [], over: Partial<NewTask> = {}): NewTask {
  return {
    id,
    title: id,
    prompt: `echo ${id}`,
    engine: 'exec',
    model: null,
    budget_usd: 1,
    depends_on: deps,
    workspace: '/tmp',
    target: 'host',
    wait_timeout_s: null,
    run_timeout_s: null,
    max_attempts: 3,
    trigger: 'all_success',
    lane: 'host',
    state: 'waiting',
    ...over,
  };
}

/** Submits tasks through a Scheduler the way TaskService does; returns the initial transitions. */
export function submit(store: StoreBackend, sched: Scheduler, graphId: string, tasks: NewTask[], source: string | null = null): Transition[] {
  const initial = sched.add(tasks.map((t) => ({ id: t.id, depends_on: t.depends_on, trigger: t.trigger, state: t.state, lane: t.lane, wait_deadline: null })));
  store.submitGraph({ id: graphId, name: graphId, budget_usd: null, submitted_by: 'admin', workspace: '/tmp', source }, tasks, initial, ADMIN);
  return initial;
}

export function auditCount(store: StoreBackend): number {
  const r = store.verifyAudit();
  if (!r.ok) throw new Error(`audit chain broken at ${r.broken_id}: ${r.reason}`);
  return r.count;
}

function end(state: AttemptEnd['state'], cost: number | null, usage = { input: 0, output: 0, cache_read: 0, cache_write: 0 }): AttemptEnd {
  return {
    state,
    engine: 'exec',
    model: null,
    cost_usd: cost,
    cost_source: cost === null ? 'unknown' : 'reported',
    usage,
    error_code: state === 'succeeded' ? null : 'E_ENGINE',
    summary: state,
  };
}

export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return isColonyError(e) ? e.code : `not a ColonyError: ${String(e)}`;
  }
  return 'no error';
}

export function describeStoreConformance(makeStore: () => StoreFixture, name = 'store'): void {
  describe(`store conformance: ${name}`, () => {
    let fx: StoreFixture;
    afterEach(() => fx?.dispose());

    it('submits a graph in one transaction with its edges, one audit record and one event per transition', () => {
      fx = makeStore();
      const { store } = fx;
      const sched = new Scheduler();
      const initial = submit(store, sched, 'g1', [task('g1:a'), task('g1:b', ['g1:a']), task('g1:c', ['g1:a', 'g1:b'])]);
      expect(initial).toEqual([{ id: 'g1:a', from: 'waiting', to: 'ready', reason: 'dependencies done' }]);

      expect(store.getGraph('g1')?.name).toBe('g1');
      expect(store.getTask('g1:a')?.state).toBe('ready');
      expect(store.getTask('g1:c')?.state).toBe('waiting');
      expect(store.getTask('g1:c')?.depends_on.sort()).toEqual(['g1:a', 'g1:b']);
      expect(store.listTasks({ graph_id: 'g1' }).map((t) => t.id)).toEqual(['g1:a', 'g1:b', 'g1:c']);

      const audit = store.listAudit({ limit: 100 }).reverse();
      expect(audit.map((r) => r.action)).toEqual(['graph.submitted', 'task.transition']);
      expect(audit[1]).toMatchObject({ actor: 'admin', target: 'g1:a', detail: { from: 'waiting', to: 'ready' } });
      const events = store.eventsSince(0);
      expect(events.map((e) => e.kind)).toEqual(['graph.submitted', 'task.state']);
      expect(events[1]).toMatchObject({ task_id: 'g1:a', owner: 'admin', data: { from: 'waiting', to: 'ready', graph_id: 'g1' } });
    });

    it('persists a batch of transitions with one audit record and one event per transition', () => {
      fx = makeStore();
      const { store } = fx;
      const sched = new Scheduler();
      submit(store, sched, 'g', [task('g:a'), task('g:b'), task('g:c')]);
      const auditBefore = auditCount(store);
      const lastEvent = store.lastEventId();

      const claimed = sched.claim('host', 10);
      expect(claimed).toHaveLength(3);
      store.applyTransitions(claimed, SYSTEM);

      expect(auditCount(store)).toBe(auditBefore + 3);
      const events = store.eventsSince(lastEvent);
      expect(events.map((e) => `${e.kind} ${e.task_id} ${String(e.data['from'])}→${String(e.data['to'])}`)).toEqual([
        'task.state g:a ready→assigned',
        'task.state g:b ready→assigned',
        'task.state g:c ready→assigned',
      ]);
      const audit = store.listAudit({ action: 'task.transition', limit: 3 });
      expect(audit.map((r) => r.target).sort()).toEqual(['g:a', 'g:b', 'g:c']);
      expect(store.listTasks({ state: 'assigned' })).toHaveLength(3);
    });

    it('rejects a transition whose from does not match the row with E_INVALID_TRANSITION and writes nothing', () => {
      fx = makeStore();
      const { store } = fx;
      const sched = new Scheduler();
      submit(store, sched, 'g', [task('g:a'), task('g:b')]);
      const auditBefore = auditCount(store);
      const eventsBefore = store.lastEventId();
      const heard: EventRecord[] = [];
      store.subscribe((evs) => heard.push(...evs));

      const batch: Transition[] = [
        { id: 'g:a', from: 'ready', to: 'assigned', reason: 'claimed' }, // valid on its own
        { id: 'g:b', from: 'running', to: 'succeeded', reason: 'stale' }, // g:b is ready, not running
      ];
      expect(codeOf(() => store.applyTransitions(batch, SYSTEM))).toBe('E_INVALID_TRANSITION');

      expect(store.getTask('g:a')?.state).toBe('ready'); // the valid half was rolled back too
      expect(store.getTask('g:b')?.state).toBe('ready');
      expect(auditCount(store)).toBe(auditBefore);
      expect(store.lastEventId()).toBe(eventsBefore);
      expect(heard).toEqual([]);

      // The chain head was restored: the next write links to the last committed record.
      store.applyTransitions([batch[0] as Transition], SYSTEM);
      expect(auditCount(store)).toBe(auditBefore + 1);
      expect(store.getTask('g:a')?.state).toBe('assigned');
      // …and only its own event is delivered: nothing of the rolled-back batch leaks into it.
      expect(heard.map((e) => `${e.task_id}:${String(e.data['to'])}`)).toEqual(['g:a:assigned']);
      expect(store.eventsSince(eventsBefore).map((e) => e.task_id)).toEqual(['g:a']);
    });

    it('leaves nothing behind when a submit fails half way', () => {
      fx = makeStore();
      const { store } = fx;
      const sched = new Scheduler();
      submit(store, sched, 'g1', [task('g1:a')]);
      const auditBefore = auditCount(store);
      // The second graph reuses an existing task id: the insert fails after the graph row was written.
      const code = codeOf(() =>
        store.submitGraph(
          { id: 'g2', name: 'g2', budget_usd: null, submitted_by: 'admin', workspace: '/tmp', source: null },
          [task('g2:x'), task('g1:a')],
          [],
          ADMIN,
        ),
      );
      expect(code).toBe('E_STORE');
      expect(store.getGraph('g2')).toBeNull();
      expect(store.getTask('g2:x')).toBeNull();
      expect(auditCount(store)).toBe(auditBefore);
    });

    it('folds the cost and tokens of every attempt into the task', () => {
      fx = makeStore();
      const { store } = fx;
      const sched = new Scheduler();
      submit(store, sched, 'g', [task('g:a'), task('g:b')]);
      const info = { engine: 'exec', model: null, worker_id: 'host-1', route_rule: 'forced', route_explanation: 'test' };

      const only = (id: string) => (x: string) => x === id;
      store.applyTransitions(sched.claim('host', 1, only('g:a')), SYSTEM);
      const first = store.startAttempt('g:a', info, sched.start('g:a'), SYSTEM);
      expect(first).toBe(1);
      expect(store.getTask('g:a')?.state).toBe('running');
      store.finishAttempt('g:a', first, end('failed', 0.1, { input: 10, output: 20, cache_read: 1, cache_write: 2 }), sched.requeue('g:a', 'retry'), SYSTEM);

      store.applyTransitions(sched.claim('host', 1, only('g:a')), SYSTEM);
      const second = store.startAttempt('g:a', info, sched.start('g:a'), SYSTEM);
      expect(second).toBe(2);
      store.finishAttempt(
        'g:a',
        second,
        end('succeeded', 0.25, { input: 5, output: 7, cache_read: 0, cache_write: 0 }),
        sched.finish('g:a', 'succeeded', 'exit 0'),
        SYSTEM,
      );

      const a = store.getTask('g:a');
      expect(a).toMatchObject({
        state: 'succeeded',
        attempt: 2,
        tokens_in: 15,
        tokens_out: 27,
        tokens_cache_read: 1,
        tokens_cache_write: 2,
        cost_unknown: false,
      });
      expect(a?.cost_usd).toBeCloseTo(0.35, 10);
      const attempts = store.attemptsOf('g:a');
      expect(attempts.map((x) => [x.attempt, x.state, x.cost_usd, x.worker_id])).toEqual([
        [1, 'failed', 0.1, 'host-1'],
        [2, 'succeeded', 0.25, 'host-1'],
      ]);
      expect(attempts.every((x) => x.finished_at !== null)).toBe(true);

      // Finishing the same attempt twice is refused and changes nothing.
      const auditBefore = auditCount(store);
      expect(codeOf(() => store.finishAttempt('g:a', second, end('succeeded', 1), [], SYSTEM))).toBe('E_INVALID_TRANSITION');
      expect(store.getTask('g:a')?.cost_usd).toBeCloseTo(0.35, 10);
      expect(auditCount(store)).toBe(auditBefore);

      // An unknown price is flagged, never silently zero.
      store.applyTransitions(sched.claim('host', 1, only('g:b')), SYSTEM);
      const b1 = store.startAttempt('g:b', info, sched.start('g:b'), SYSTEM);
      store.finishAttempt('g:b', b1, end('succeeded', null), sched.finish('g:b', 'succeeded', 'ok'), SYSTEM);
      expect(store.getTask('g:b')).toMatchObject({ cost_usd: 0, cost_unknown: true });
    });

    it('publishes events to listeners only after their transaction commits', () => {
      fx = makeStore();
      const { store } = fx;
      const sched = new Scheduler();
      submit(store, sched, 'g', [task('g:a'), task('g:b')]);
      const heard: { events: EventRecord[]; stateSeen: string | undefined }[] = [];
      store.subscribe((events) => heard.push({ events, stateSeen: store.getTask('g:a')?.state }));

      store.transaction(() => {
        store.applyTransitions(sched.claim('host', 1), SYSTEM); // nested: joins the outer transaction
        expect(heard).toEqual([]);
        store.appendAudit({ actor: 'admin', origin: 'local', action: 'test.marker', target: null, detail: { n: 1 } });
        expect(heard).toEqual([]);
      });
      expect(heard).toHaveLength(1); // one delivery for the whole transaction
      expect(heard[0]?.events.map((e) => `${e.task_id}:${String(e.data['to'])}`)).toEqual(['g:a:assigned']);
      expect(heard[0]?.stateSeen).toBe('assigned');

      // A transaction that rolls back delivers nothing and leaves no trace.
      const auditBefore = auditCount(store);
      expect(() =>
        store.transaction(() => {
          store.applyTransitions(sched.claim('host', 1), SYSTEM);
          throw new Error('boom');
        }),
      ).toThrow('boom');
      expect(heard).toHaveLength(1);
      expect(store.getTask('g:b')?.state).toBe('ready');
      expect(auditCount(store)).toBe(auditBefore);
      // The next commit delivers its own events only. (The scheduler above believes g:b was
      // claimed — it was, in memory — so the transition is written out by hand.)
      store.applyTransitions([{ id: 'g:b', from: 'ready', to: 'assigned', reason: 'claimed again' }], SYSTEM);
      expect(heard).toHaveLength(2);
      expect(heard[1]?.events.map((e) => `${e.task_id}:${String(e.data['to'])}`)).toEqual(['g:b:assigned']);
    });

    it('keeps the audit chain continuous across a reopen', () => {
      fx = makeStore();
      let store = fx.store;
      const sched = new Scheduler();
      submit(store, sched, 'g', [task('g:a'), task('g:b', ['g:a'])]);
      store.applyTransitions(sched.claim('host', 1), SYSTEM);
      const before = store.verifyAudit();
      expect(before.ok).toBe(true);
      const lastHash = before.ok ? before.last_hash : '';

      store = fx.reopen();
      expect(auditCount(store)).toBe(before.count);
      const info = { engine: 'exec', model: null, worker_id: 'host-1', route_rule: null, route_explanation: null };
      const n = store.startAttempt('g:a', info, sched.start('g:a'), SYSTEM);
      store.finishAttempt('g:a', n, end('succeeded', 0), sched.finish('g:a', 'succeeded', 'exit 0'), SYSTEM);
      store.appendAudit({ actor: 'admin', origin: 'local', action: 'test.after_reopen', target: null, detail: {} });

      const after = store.verifyAudit();
      expect(after).toMatchObject({ ok: true });
      expect(after.count).toBeGreaterThan(before.count + 3);
      const firstNew = store.listAudit({ limit: 1000 }).reverse()[before.count];
      expect(firstNew?.id).toBe(before.count + 1);
      expect(firstNew?.prev_hash).toBe(lastHash);
      expect(store.getTask('g:b')?.state).toBe('ready');
    });

    it('finds the unfinished graph submitted from a file, for --resume', () => {
      fx = makeStore();
      const { store } = fx;
      const sched = new Scheduler();
      submit(store, sched, 'old', [task('old:a')], '/work/graph.json');
      submit(store, sched, 'other', [task('other:a')], '/work/other.json');
      expect(store.unfinishedGraphFrom('/work/graph.json')?.id).toBe('old');
      store.applyTransitions(
        sched.claim('host', 10, (id) => id === 'old:a'),
        SYSTEM,
      );
      store.applyTransitions(sched.cancel('old:a'), SYSTEM);
      expect(store.unfinishedGraphFrom('/work/graph.json')).toBeNull();
      expect(store.unfinishedGraphFrom('/work/other.json')?.id).toBe('other');
    });

    it('stores output once, replays it with its events, and keeps the per-task cap', () => {
      fx = makeStore();
      const { store } = fx;
      const sched = new Scheduler();
      submit(store, sched, 'g', [task('g:a')]);
      store.outputCapBytes = 2048;
      const from = store.lastEventId();
      store.appendOutput('g:a', 1, 'stdout', 'héllo\n');
      store.appendOutput('g:a', 1, 'stderr', 'x'.repeat(3000));
      store.appendOutput('g:a', 1, 'stdout', 'after the cut');
      const out = store.outputOf('g:a');
      expect(out.map((o) => o.stream)).toEqual(['stdout', 'stderr']);
      expect(out[0]?.text).toBe('héllo\n');
      expect(out[1]?.text).toContain('output of this task cut at 2048 bytes');
      expect(store.outputOf('g:a', { after_id: out[0]?.id ?? 0 }).length).toBe(1);
      const replay = store.eventsSince(from).filter((e) => e.kind === 'task.output');
      expect(replay.map((e) => e.data.text)).toEqual(out.map((o) => o.text));
      expect(replay[0]?.data.output_id).toBe(out[0]?.id);
    });

    it('commits grouped writes together; a failing one rolls back alone', async () => {
      fx = makeStore();
      const { store } = fx;
      const sched = new Scheduler();
      submit(store, sched, 'g', [task('g:a'), task('g:b')]);
      const seen: string[] = [];
      store.subscribe((evs) => seen.push(...evs.map((e) => e.kind)));
      const before = auditCount(store);
      const ok = store.grouped(() => store.appendAudit({ actor: 'admin', origin: 'local', action: 'test.one', target: null, detail: {} }).id);
      const bad = store.grouped(() => {
        store.publish('test.vanishes', null, {});
        store.applyTransitions([{ id: 'g:a', from: 'running', to: 'succeeded', reason: 'wrong' }], SYSTEM);
      });
      const two = store.grouped(() => store.appendAudit({ actor: 'admin', origin: 'local', action: 'test.two', target: null, detail: {} }).id);
      const [r1, r2, r3] = await Promise.allSettled([ok, bad, two]);
      expect(r1.status).toBe('fulfilled');
      expect(r2.status === 'rejected' && isColonyError(r2.reason) ? r2.reason.code : r2.status).toBe('E_INVALID_TRANSITION');
      expect(r3.status === 'fulfilled' && r1.status === 'fulfilled' ? r3.value - r1.value : null).toBe(1);
      expect(auditCount(store)).toBe(before + 2);
      expect(seen).not.toContain('test.vanishes');
      expect(store.getTask('g:a')?.state).toBe('ready');
    });

    it('reads several tasks in one pass with their dependencies, as getTask does', () => {
      fx = makeStore();
      const { store } = fx;
      submit(store, new Scheduler(), 'g', [task('g:a'), task('g:b'), task('g:c', ['g:a', 'g:b']), task('g:d', ['g:c'])]);
      const ids = ['g:d', 'g:c', 'g:a', 'g:nope'];
      const got = store.getTasks(ids);
      expect([...got.keys()].sort()).toEqual(['g:a', 'g:c', 'g:d']);
      for (const id of ['g:a', 'g:c', 'g:d']) expect(got.get(id)).toEqual(store.getTask(id));
      expect(got.get('g:c')?.depends_on).toEqual(['g:a', 'g:b']);
    });

    it('keeps settings, attempt processes and an attempt history', () => {
      fx = makeStore();
      const { store } = fx;
      const sched = new Scheduler();
      submit(store, sched, 'g', [task('g:a')]);
      expect(store.getSetting('k')).toBeNull();
      store.setSetting('k', 'one');
      store.setSetting('k', 'two');
      expect(store.getSetting('k')).toBe('two');
      store.applyTransitions(sched.claim('host', 1), SYSTEM);
      const n = store.startAttempt(
        'g:a',
        { engine: 'exec', model: null, worker_id: 'w', route_rule: null, route_explanation: null },
        sched.start('g:a'),
        SYSTEM,
      );
      const proc = { pid: 10, pgid: 10, start_ticks: 5, boot_id: 'b', cgroup: null, tag: 't1' };
      store.recordAttemptProcess('g:a', n, proc);
      store.recordAttemptProcess('g:a', n, { ...proc, pid: 11, tag: 't2' }); // replaces
      expect(store.openAttemptProcesses()).toEqual([{ task_id: 'g:a', attempt: n, ...proc, pid: 11, tag: 't2' }]);
      store.finishAttempt('g:a', n, end('succeeded', 0.5), sched.finish('g:a', 'succeeded', 'ok'), SYSTEM);
      expect(store.openAttemptProcesses()).toEqual([]);
      expect(store.attemptHistory().map((a) => [a.task_id, a.prompt])).toEqual([['g:a', 'echo g:a']]);
      expect(store.costBy('worker_id')).toEqual([{ key: 'w', cost_usd: 0.5, tokens: 0, attempts: 1 }]);
      expect(store.costBy('submitted_by', 'nobody')).toEqual([]);
      expect(store.listGraphs().map((g) => [g.id, g.counts, g.cost_usd])).toEqual([['g', { succeeded: 1 }, 0.5]]);
      expect(store.listTasks({ search: 'ECHO G' }).map((t) => t.id)).toEqual(['g:a']);
      expect(store.listAudit({ action: 'task.*', limit: 1 })[0]?.action).toBe('task.transition');
    });
  });
}
