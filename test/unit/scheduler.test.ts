import { describe, expect, it } from 'vitest';
import { Scheduler, type SchedTask } from '../../src/core/scheduler.js';
import type { Trigger } from '../../src/core/task.js';

function t(id: string, deps: string[] = [], trigger: Trigger = 'all_success', extra: Partial<SchedTask> = {}): SchedTask {
  return { id, depends_on: deps, trigger, state: 'waiting', lane: 'host', wait_deadline: null, ...extra };
}

function runAll(s: Scheduler, outcome: (id: string) => 'succeeded' | 'failed' = () => 'succeeded'): string[] {
  const order: string[] = [];
  for (;;) {
    const claimed = s.claim('host', 100);
    if (claimed.length === 0) return order;
    for (const c of claimed) {
      s.start(c.id);
      s.finish(c.id, outcome(c.id), 'done');
      order.push(c.id);
    }
  }
}

describe('Scheduler', () => {
  it('makes roots ready and runs a diamond in dependency order', () => {
    const s = new Scheduler();
    const tr = s.add([t('a'), t('b', ['a']), t('c', ['a']), t('d', ['b', 'c'])]);
    expect(tr).toEqual([{ id: 'a', from: 'waiting', to: 'ready', reason: 'dependencies done' }]);
    const order = runAll(s);
    expect(order[0]).toBe('a');
    expect(order[3]).toBe('d');
    expect(s.countByState()['succeeded']).toBe(4);
  });

  it('marks the whole downstream chain upstream_failed when a task fails', () => {
    const s = new Scheduler();
    s.add([t('a'), t('b', ['a']), t('c', ['b']), t('d', ['c']), t('side')]);
    s.claim('host', 10);
    s.start('a');
    const tr = s.finish('a', 'failed', 'exit 1');
    expect(tr.map((x) => `${x.id}:${x.to}`)).toEqual(['a:failed', 'b:upstream_failed', 'c:upstream_failed', 'd:upstream_failed']);
    expect(s.state('side')).toBe('assigned');
  });

  it('runs an all_done task after a failed dependency', () => {
    const s = new Scheduler();
    s.add([t('test'), t('fix', ['test'], 'all_done'), t('after', ['fix'])]);
    s.claim('host', 1);
    s.start('test');
    const tr = s.finish('test', 'failed', 'exit 1');
    expect(tr.map((x) => `${x.id}:${x.to}`)).toEqual(['test:failed', 'fix:ready']);
  });

  it('retries a failed task and re-opens its upstream_failed dependents', () => {
    const s = new Scheduler();
    s.add([t('a'), t('b', ['a']), t('c', ['b'])]);
    s.claim('host', 1);
    s.start('a');
    s.finish('a', 'failed', 'boom');
    const tr = s.retry('a');
    expect(tr.map((x) => `${x.id}:${x.to}`).sort()).toEqual(['a:ready', 'a:waiting', 'b:waiting', 'c:waiting']);
    expect(s.state('b')).toBe('waiting');
    expect(runAll(s)).toEqual(['a', 'b', 'c']);
  });

  it('refuses to retry a task that did not fail', () => {
    const s = new Scheduler();
    s.add([t('a')]);
    expect(() => s.retry('a')).toThrow(/only failed/);
  });

  it('force-runs a task ignoring its dependencies', () => {
    const s = new Scheduler();
    s.add([t('a'), t('b', ['a'])]);
    expect(s.forceRun('b').map((x) => x.to)).toEqual(['ready']);
    const claimed = s.claim('host', 10).map((x) => x.id);
    expect(claimed).toEqual(['a', 'b']);
  });

  it('skipping a task counts as success for its dependents', () => {
    const s = new Scheduler();
    s.add([t('a'), t('b', ['a'])]);
    expect(s.skip('a').map((x) => `${x.id}:${x.to}`)).toEqual(['a:skipped', 'b:ready']);
  });

  it('skipping an upstream_failed task re-opens nothing but lets its dependents run', () => {
    const s = new Scheduler();
    s.add([t('a'), t('b', ['a']), t('c', ['b'])]);
    s.claim('host', 1);
    s.start('a');
    s.finish('a', 'failed', 'x');
    expect(s.skip('b').map((x) => `${x.id}:${x.to}`)).toEqual(['b:skipped', 'c:waiting', 'c:ready']);
  });

  it('dropping an edge releases a waiting task', () => {
    const s = new Scheduler();
    s.add([t('a'), t('b'), t('c', ['a', 'b'])]);
    s.claim('host', 1);
    s.start('a');
    s.finish('a', 'succeeded', 'ok');
    expect(s.dropEdge('c', 'b').map((x) => `${x.id}:${x.to}`)).toEqual(['c:ready']);
    expect(() => s.dropEdge('c', 'b')).toThrow(/does not depend/);
  });

  it('dropping the edge to a failed dependency revives an upstream_failed task', () => {
    const s = new Scheduler();
    s.add([t('a'), t('b', ['a'])]);
    s.claim('host', 1);
    s.start('a');
    s.finish('a', 'failed', 'x');
    expect(s.dropEdge('b', 'a').map((x) => `${x.id}:${x.to}`)).toEqual(['b:waiting', 'b:ready']);
  });

  it('fails a task still waiting at its deadline with wait_timeout, cascading', () => {
    const s = new Scheduler();
    s.add([t('slow'), t('w', ['slow'], 'all_success', { wait_deadline: 1000 }), t('after', ['w'])]);
    expect(s.expireWaits(999)).toEqual([]);
    const tr = s.expireWaits(1000);
    expect(tr.map((x) => `${x.id}:${x.to}:${x.reason}`)).toEqual(['w:failed:wait_timeout', 'after:upstream_failed:a dependency did not succeed']);
  });

  it('does not time out a task that became ready in time', () => {
    const s = new Scheduler();
    s.add([t('w', [], 'all_success', { wait_deadline: 1000 })]);
    expect(s.expireWaits(5000)).toEqual([]);
    expect(s.state('w')).toBe('ready');
  });

  it('keeps a held task out of dispatch until approved, then honours dependencies', () => {
    const s = new Scheduler();
    s.add([t('a'), t('lan', ['a'], 'all_success', { state: 'awaiting_approval' })]);
    runAll(s);
    expect(s.state('lan')).toBe('awaiting_approval');
    expect(s.approve('lan').map((x) => x.to)).toEqual(['waiting', 'ready']);
  });

  it('keeps lanes apart', () => {
    const s = new Scheduler();
    s.add([t('h'), t('u', [], 'all_success', { lane: 'user:1' })]);
    expect(s.claim('host', 10).map((x) => x.id)).toEqual(['h']);
    expect(s.readyLanes()).toEqual(['user:1']);
  });

  it('requeues a running task and rejects illegal transitions', () => {
    const s = new Scheduler();
    s.add([t('a')]);
    s.claim('host', 1);
    s.start('a');
    expect(s.requeue('a', 'lease lost').map((x) => x.to)).toEqual(['ready']);
    expect(() => s.finish('a', 'succeeded', 'x')).toThrow(/cannot go from ready to succeeded/);
  });

  it('rebuilds counters from persisted states on resume', () => {
    const s = new Scheduler();
    const tr = s.add([
      t('a', [], 'all_success', { state: 'succeeded' }),
      t('b', ['a'], 'all_success', { state: 'running' }),
      t('c', ['a']),
      t('d', ['b', 'c']),
    ]);
    expect(tr.map((x) => `${x.id}:${x.to}`)).toEqual(['c:ready']);
  });

  it('schedules a 100k-task chain without overflowing the stack', () => {
    const s = new Scheduler();
    const tasks: SchedTask[] = [];
    for (let i = 0; i < 100_000; i++) tasks.push(t(`n${i}`, i ? [`n${i - 1}`] : []));
    s.add(tasks);
    s.claim('host', 1);
    s.start('n0');
    expect(s.finish('n0', 'failed', 'x')).toHaveLength(100_000);
  });

  it('holds a task that ran until its change is decided, keeping dependents waiting', () => {
    const s = new Scheduler();
    s.add([t('edit'), t('after', ['edit'])]);
    s.claim('host', 1);
    s.start('edit');
    expect(s.holdAfterRun('edit', 'change pending').map((x) => x.to)).toEqual(['awaiting_approval']);
    expect(s.state('after')).toBe('waiting');
    expect(() => s.approve('edit')).toThrow(/pending change/);
    expect(s.expireWaits(Number.MAX_SAFE_INTEGER)).toEqual([]);
    expect(s.settleHeld('edit', true, 'approved').map((x) => `${x.id}:${x.to}`)).toEqual(['edit:succeeded', 'after:ready']);
  });

  it('reopens a task whose change got a request for changes: held → ready, succeeded → ready; dependents not yet started wait again', () => {
    const s = new Scheduler();
    s.add([t('edit'), t('other'), t('after', ['edit', 'other'])]);
    s.claim('host', 2);
    s.start('edit');
    s.holdAfterRun('edit', 'change pending');
    expect(s.reopen('edit', 'changes requested').map((x) => `${x.id}:${x.to}`)).toEqual(['edit:ready']);
    expect(() => s.settleHeld('edit', true, 'x')).toThrow(/not waiting for its change/);
    s.claim('host', 1);
    s.start('edit');
    s.finish('edit', 'succeeded', 'revised');
    expect(s.state('after')).toBe('waiting'); // still waits for `other`
    expect(s.reopen('edit', 'changes requested again').map((x) => `${x.id}:${x.to}`)).toEqual(['edit:ready']);
    s.start('other');
    s.finish('other', 'succeeded', 'ok');
    expect(s.state('after')).toBe('waiting'); // `edit` is being revised: its dependent does not start on the old result
    s.claim('host', 1);
    s.start('edit');
    expect(s.finish('edit', 'succeeded', 'revised').map((x) => `${x.id}:${x.to}`)).toEqual(['edit:succeeded', 'after:ready']);
    expect(() => s.reopen('after', 'x')).toThrow(/only a finished task/);
  });

  it('a rejected held change fails the task and its dependents', () => {
    const s = new Scheduler();
    s.add([t('edit'), t('after', ['edit'])]);
    s.claim('host', 1);
    s.start('edit');
    s.holdAfterRun('edit', 'change pending');
    expect(s.settleHeld('edit', false, 'rejected').map((x) => `${x.id}:${x.to}`)).toEqual(['edit:failed', 'after:upstream_failed']);
    expect(() => s.settleHeld('edit', true, 'again')).toThrow(/not waiting/);
  });
});
