/** Which live events become notifications, and for whom (runner/notify/derive.ts, issue 18). */
import { describe, expect, it } from 'vitest';
import { fromEvent, graphFinished, graphMaybeDone } from '../../src/runner/notify/derive.js';
import type { EventRecord, StoredTask } from '../../src/store/rows.js';

const task = { id: 'g:t', graph_id: 'g', title: 'deploy the docs', submitted_by: 'session:ada', state: 'awaiting_approval' } as StoredTask;
const lookup = (id: string): StoredTask | null => (id === task.id ? task : null);
const ev = (kind: string, data: Record<string, unknown>, task_id: string | null = 'g:t'): EventRecord => ({
  id: 1,
  at: 5,
  kind,
  task_id,
  owner: 'session:ada',
  data,
});

describe('fromEvent', () => {
  it('a task entering awaiting_approval or failed notifies its submitter with its title', () => {
    expect(fromEvent(ev('task.state', { to: 'awaiting_approval' }), lookup)).toEqual([
      { event: 'approval.needed', title: 'Approval needed', body: 'deploy the docs', at: 5, owner: 'session:ada', task_id: 'g:t', graph_id: 'g', detail: {} },
    ]);
    expect(fromEvent(ev('task.state', { to: 'failed', reason: 'exit 3' }), lookup)[0]).toMatchObject({
      event: 'task.failed',
      body: 'deploy the docs — exit 3',
    });
  });
  it('tasks held at submission, held tool calls and pending changes need approval too', () => {
    expect(fromEvent(ev('graph.submitted', { tasks: ['g:t', 'g:gone'] }, null), lookup).map((n) => [n.event, n.task_id])).toEqual([['approval.needed', 'g:t']]);
    expect(fromEvent(ev('approval', { state: 'waiting' }), lookup)[0]).toMatchObject({ event: 'approval.needed', title: 'Tool call to approve' });
    expect(fromEvent(ev('change', { status: 'pending' }), lookup)[0]).toMatchObject({ event: 'approval.needed', title: 'Change to approve' });
  });
  it('other events, other states and unknown tasks notify nobody', () => {
    expect(fromEvent(ev('task.state', { to: 'succeeded' }), lookup)).toEqual([]);
    expect(fromEvent(ev('task.output', { text: 'x' }), lookup)).toEqual([]);
    expect(fromEvent(ev('approval', { state: 'approved' }), lookup)).toEqual([]);
    expect(fromEvent(ev('task.state', { to: 'failed' }, 'other:t'), lookup)).toEqual([]);
  });
  it('long titles are cut', () => {
    const long = { ...task, title: 'x'.repeat(500) } as StoredTask;
    expect(fromEvent(ev('task.state', { to: 'failed' }), () => long)[0]?.body).toHaveLength(200);
  });
});

describe('graphFinished', () => {
  const g = { id: 'g', name: 'release', submitted_by: 'admin' };
  it('only once no task is open', () => {
    expect(graphFinished(g, { succeeded: 2, running: 1 }, 9)).toBeNull();
    expect(graphFinished(g, { succeeded: 3 }, 9)).toMatchObject({
      event: 'graph.finished',
      title: 'Graph finished',
      body: 'release: 3/3 succeeded',
      owner: 'admin',
      graph_id: 'g',
    });
    expect(graphFinished(g, { succeeded: 1, failed: 1, upstream_failed: 2 }, 9)?.body).toBe('release: 1/4 succeeded, 1 failed, 2 upstream failed');
  });
  it('is considered on terminal task states only', () => {
    expect(graphMaybeDone(ev('task.state', { graph_id: 'g', to: 'failed' }))).toBe('g');
    expect(graphMaybeDone(ev('task.state', { graph_id: 'g', to: 'ready' }))).toBeNull();
  });
});
