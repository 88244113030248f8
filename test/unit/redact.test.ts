import { describe, expect, it } from 'vitest';
import { OTHER_OWNER, othersView, viewEvent, viewWorker, type LiveEvent, type Viewer } from '../../src/core/redact.js';
import type { WorkerCard } from '../../src/core/live-types.js';

const opaque = (id: string): string => `x-${id.length.toString(16).padStart(16, '0')}`; // stable, reveals nothing of the text
const SECRET = 'SECRET-TEXT';
const ada: Viewer = { user_id: 'ada', permissions: ['view', 'submit_task', 'view_own_sessions'], revoked: false };
const bob: Viewer = { user_id: 'bob', permissions: ['view', 'submit_task', 'view_own_sessions'], revoked: false };
const auditor: Viewer = { user_id: 'eve', permissions: ['view', 'view_all'], revoked: false };

const ev = (kind: string, data: Record<string, unknown>, owner: string | null = 'session:ada', task_id: string | null = `g-${SECRET}:t`): LiveEvent => ({
  id: 7,
  at: 1000,
  kind,
  task_id,
  owner,
  data,
});

const EVENTS: LiveEvent[] = [
  ev('graph.submitted', { graph_id: `g-${SECRET}`, name: SECRET, tasks: [`g-${SECRET}:t`] }, 'session:ada', null),
  ev('task.state', { graph_id: `g-${SECRET}`, from: 'ready', to: 'failed', reason: `exit 1: ${SECRET}` }),
  ev('attempt.started', {
    attempt: 1,
    engine: 'claude',
    model: 'sonnet',
    worker_id: 'host-1',
    route_rule: 'complex',
    route_explanation: `keywords: ${SECRET}`,
  }),
  ev('attempt.finished', {
    attempt: 1,
    state: 'failed',
    engine: 'claude',
    model: 'sonnet',
    cost_usd: 0.12,
    cost_source: 'reported',
    usage: { input: 10, output: 5, cache_read: 0, cache_write: 0 },
    error_code: 'E_ENGINE',
    summary: SECRET,
  }),
  ev('task.output', { attempt: 1, stream: 'stdout', text: SECRET }),
  ev('worker', {
    id: 'host-1',
    kind: 'local',
    status: 'running',
    task_id: `g-${SECRET}:t`,
    task_title: SECRET,
    owner: 'session:ada',
    engine: 'claude',
    model: 'sonnet',
    session_cost_usd: 0.5,
    tokens_used: 99,
    origin_ip: '127.0.0.1',
    workspace: `/w/${SECRET}`,
  }),
  ev('remote.something', { anything: SECRET }),
];

describe('viewEvent', () => {
  it('has three results per event: the event, null, or the one view shared by every visitor who may not see the owner', () => {
    const carol: Viewer = { user_id: 'carol', permissions: ['view'], revoked: false };
    for (const e of [...EVENTS, ev('worker', { id: 'w', kind: 'remote', status: 'busy', task_id: `g-${SECRET}:t` })]) {
      const shared = othersView(e, opaque);
      expect(viewEvent(bob, e, opaque)).toEqual(shared);
      expect(viewEvent(carol, e, opaque)).toEqual(shared);
      // The server memoises that view per event: every such viewer then gets the same object (serialised once).
      let built = 0;
      const memo = (): LiveEvent | null => (built++, shared);
      const a = viewEvent(bob, e, opaque, false, memo);
      expect(viewEvent(carol, e, opaque, false, memo)).toBe(a);
      expect(viewEvent(ada, e, opaque, false, memo)).toBe(e); // the owner: the event itself, never the shared view
      expect(built).toBe(2);
    }
  });

  it("passes the viewer's own events unchanged", () => {
    for (const e of EVENTS) expect(viewEvent(ada, e, opaque)).toBe(e);
  });

  it('passes everything unchanged to a viewer granted view_all', () => {
    for (const e of EVENTS) expect(viewEvent(auditor, e, opaque)).toBe(e);
  });

  it("never lets another user's text through: prompt, title, reason, summary, explanation, output, workspace, graph name, ids", () => {
    for (const e of EVENTS) {
      const v = viewEvent(bob, e, opaque);
      expect(JSON.stringify(v ?? null), e.kind).not.toContain(SECRET);
      expect(JSON.stringify(v ?? null), e.kind).not.toContain('session:ada');
    }
  });

  it("drops others' output and unknown kinds entirely, keeps state, engine, model, cost and counts", () => {
    const [submitted, state, started, finished, output, worker, unknown] = EVENTS.map((e) => viewEvent(bob, e, opaque));
    expect(output).toBeNull();
    expect(unknown).toBeNull();
    expect(submitted).toEqual({
      id: 7,
      at: 1000,
      kind: 'graph.submitted',
      task_id: null,
      owner: OTHER_OWNER,
      data: { graph_id: opaque(`g-${SECRET}`), tasks: [opaque(`g-${SECRET}:t`)], redacted: true },
    });
    expect(state).toMatchObject({ task_id: opaque(`g-${SECRET}:t`), data: { from: 'ready', to: 'failed', redacted: true } });
    expect(started?.data).toEqual({ attempt: 1, engine: 'claude', model: 'sonnet', worker_id: 'host-1', route_rule: 'complex', redacted: true });
    expect(finished?.data).toMatchObject({ state: 'failed', cost_usd: 0.12, usage: { input: 10, output: 5 }, error_code: 'E_ENGINE', redacted: true });
    expect(worker?.data).toMatchObject({
      id: 'host-1',
      status: 'running',
      engine: 'claude',
      model: 'sonnet',
      session_cost_usd: 0.5,
      tokens_used: 99,
      task_title: null,
      owner: OTHER_OWNER,
      redacted: true,
    });
    expect(worker?.data).not.toHaveProperty('workspace');
  });

  it('gives the same opaque id to the same task in every event, so a viewer can follow it', () => {
    const ids = EVENTS.slice(1, 4).map((e) => viewEvent(bob, e, opaque)?.task_id);
    expect(new Set(ids).size).toBe(1);
  });

  it('passes public events (owner null) and rebuilds public worker cards from the allow-list', () => {
    const sw = ev('killswitch', { state: 'halted', by: 'admin' }, null, null);
    expect(viewEvent(bob, sw, opaque)).toBe(sw);
    const idle = ev(
      'worker',
      {
        id: 'host-2',
        kind: 'local',
        status: 'idle',
        task_id: null,
        task_title: null,
        owner: null,
        engine: null,
        model: null,
        session_cost_usd: 0,
        tokens_used: 0,
        origin_ip: '127.0.0.1',
        extra: SECRET,
      },
      null,
      null,
    );
    const v = viewEvent(bob, idle, opaque);
    expect(v?.data).toMatchObject({ id: 'host-2', status: 'idle', owner: null, task_id: null });
    expect(v?.data).not.toHaveProperty('redacted');
    expect(JSON.stringify(v)).not.toContain(SECRET);
  });

  it('drops kinds that only look like allow-list entries (prototype keys)', () => {
    for (const kind of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) expect(viewEvent(bob, ev(kind, { text: SECRET }), opaque), kind).toBeNull();
  });

  it('keeps an event that names a task but no owner from everyone but view_all', () => {
    const change = ev('change', { task_id: `g-${SECRET}:t`, status: 'pending' }, null);
    expect(viewEvent(bob, change, opaque)).toBeNull();
    expect(viewEvent(auditor, change, opaque)).toBe(change);
  });

  it('sends nothing to a revoked session, not even its own events', () => {
    for (const e of EVENTS) expect(viewEvent({ ...ada, revoked: true }, e, opaque)).toBeNull();
  });

  it("treats the admin's tasks as another user's", () => {
    expect(viewEvent(ada, ev('task.output', { text: SECRET }, 'admin'), opaque)).toBeNull();
  });
});

describe('viewWorker', () => {
  const busy: WorkerCard & { workspace: string; fingerprint: string } = {
    id: 'w1',
    kind: 'remote',
    status: 'running',
    task_id: `g:${SECRET}`,
    task_title: SECRET,
    owner: 'session:ada',
    engine: 'groq',
    model: 'llama',
    session_cost_usd: 1.5,
    tokens_used: 500,
    origin_ip: '10.0.0.2',
    owner_name: 'Ada',
    connected: true,
    workspace: `/home/${SECRET}`,
    fingerprint: 'ab:cd',
  };

  it('shows the owner the full card and others an allow-listed one, without owner name or address by default', () => {
    expect(viewWorker(ada, busy, opaque)).toBe(busy);
    expect(viewWorker(bob, busy, opaque)).toEqual({
      id: 'w1',
      kind: 'remote',
      status: 'running',
      task_id: opaque(`g:${SECRET}`),
      task_title: null,
      owner: OTHER_OWNER,
      engine: 'groq',
      model: 'llama',
      session_cost_usd: 1.5,
      tokens_used: 500,
      origin_ip: '',
      owner_name: null,
      connected: true,
      redacted: true,
    });
    // The admin's lan.show_worker_owners brings name and address back (the task stays hidden).
    expect(viewWorker(bob, busy, opaque, true)).toMatchObject({ origin_ip: '10.0.0.2', owner_name: 'Ada', task_title: null, task_id: opaque(`g:${SECRET}`) });
  });

  it('hides owner name and address in worker events too, unless shown by the admin', () => {
    const e: LiveEvent = { id: 9, at: 1, kind: 'worker', task_id: null, owner: 'session:ada', data: { ...busy } };
    const hidden = viewEvent(bob, e, opaque);
    expect(JSON.stringify(hidden)).not.toContain('Ada');
    expect(JSON.stringify(hidden)).not.toContain('10.0.0.2');
    expect(viewEvent(bob, e, opaque, true)?.data).toMatchObject({ owner_name: 'Ada', origin_ip: '10.0.0.2' });
    expect(viewEvent(ada, e, opaque)).toBe(e);
  });

  it('keeps idle cards readable without fields outside the allow-list', () => {
    const idle = { ...busy, status: 'idle', task_id: null, task_title: null, owner: null };
    const v = viewWorker(bob, idle, opaque);
    expect(v).toMatchObject({ id: 'w1', status: 'idle', task_id: null });
    expect(v).not.toHaveProperty('workspace');
    expect(v).not.toHaveProperty('redacted');
  });
});
