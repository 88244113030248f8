/** Admin API routes: thin adapters from HTTP to the TaskService, the kill switch and the store. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ColonyError } from '../../core/errors.js';
import { TASK_STATES, isTerminal, type TaskState } from '../../core/task.js';
import type { Actor } from '../../store/store.js';
import { allWorkers, statusOf, type ServerContext } from '../context.js';
import { streamEvents } from '../live.js';
import { registerAdminSessionRoutes } from './sessions.js';
import { approveHeldTask, pendingWithFindings } from '../../runner/approval.js';
import { approveBody, auditQuery, dropEdgeSchema, executeSchema, idParam, singleTaskGraph, taskQuery } from '../schemas.js';

export function adminActor(request: FastifyRequest): Actor {
  return { actor: 'admin', origin: request.socket.remoteAddress ?? 'unknown' };
}

export function registerAdminRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { service, store, killswitch, pool } = ctx.host;

  app.get('/api/status', async () => statusOf(ctx));

  app.post('/admin/execute', async (request, reply) => {
    const body = executeSchema.parse(request.body);
    const graph = 'graph' in body ? body.graph : singleTaskGraph(body);
    const r = service.submitGraph(
      graph,
      {
        submittedBy: 'admin',
        who: adminActor(request),
        workspace: process.cwd(),
        defaultTarget: 'host',
        holdHostTasks: false,
      },
      'graph' in body ? `graph "${graph.name}"` : 'task',
    );
    return reply.code(201).send(r);
  });

  // One approve/reject for both things that wait for the admin: a queued task
  // (LAN task asking for the host, safety needs_approval) and a pending change.
  app.post('/admin/approve/:id', async (request) => {
    const { id } = idParam.parse(request.params);
    if (ctx.host.toolApprovals?.has(id)) return { id, tool_call: ctx.host.toolApprovals.approve(id, adminActor(request)) };
    if (ctx.changes?.pendingFor(id)) return { id, change: await ctx.changes.approve(id, adminActor(request)) };
    // Covers the findings listed with the task in GET /admin/pending (pass `digest` to insist on exactly those).
    const { digest } = approveBody.parse(request.body ?? {});
    return { id, ...approveHeldTask(service, id, adminActor(request), digest) };
  });

  app.post('/admin/reject/:id', async (request) => {
    const { id } = idParam.parse(request.params);
    if (ctx.host.toolApprovals?.has(id)) return { id, tool_call: ctx.host.toolApprovals.reject(id, adminActor(request)) };
    if (ctx.changes?.pendingFor(id)) return { id, change: await ctx.changes.reject(id, adminActor(request)) };
    return { id, transitions: service.reject(id, adminActor(request)) };
  });

  // Tool calls of running agents held by the safety gateway come with the held tasks: {kind:'tool_call', task_id, command|path|url, …}.
  app.get('/admin/pending', async () => ({ tasks: pendingWithFindings(service), tool_calls: ctx.host.toolApprovals?.list() ?? [] }));

  app.post('/admin/kill', async (request) => {
    killswitch.halt(adminActor(request), 'kill switch from the admin app');
    return { state: killswitch.state() };
  });
  app.post('/admin/pause', async (request) => {
    killswitch.pause(adminActor(request));
    return { state: killswitch.state() };
  });
  app.post('/admin/resume', async (request) => {
    killswitch.resume(adminActor(request));
    pool.kick();
    return { state: killswitch.state() };
  });

  registerAdminSessionRoutes(app, ctx); // GET /admin/sessions, PATCH /admin/sessions/:id, POST /admin/sessions/:id/revoke

  app.get('/admin/audit', async (request) => {
    const q = auditQuery.parse(request.query);
    const records = store.listAudit(q);
    return { records, next_before_id: records.length === (q.limit ?? 100) ? (records[records.length - 1]?.id ?? null) : null };
  });
  app.get('/admin/audit/verify', async () => store.verifyAudit());

  app.get('/admin/graphs', async () => ({ graphs: store.listGraphs() }));
  app.get('/admin/graphs/:id', async (request) => {
    const { id } = idParam.parse(request.params);
    const graph = store.getGraph(id);
    if (!graph) throw new ColonyError('E_NOT_FOUND', `no graph ${id}`);
    return { graph, tasks: store.listTasks({ graph_id: id, limit: 100_000 }) };
  });

  app.get('/admin/tasks', async (request) => {
    const q = taskQuery.parse(request.query);
    if (q.state && !(TASK_STATES as readonly string[]).includes(q.state)) {
      throw new ColonyError('E_BAD_INPUT', `state must be one of ${TASK_STATES.join(', ')}`);
    }
    const { state, graph_id, q: search, engine, submitted_by, limit, offset } = q;
    return { tasks: store.listTasks({ state: state as TaskState | undefined, graph_id, search, engine, submitted_by, limit: limit ?? 500, offset }) };
  });

  // What the queue's filters offer: the engines and submitters that occur (one pass each, not the whole task list).
  app.get('/admin/task-facets', async () => ({ engines: store.taskFacet('engine'), submitters: store.taskFacet('submitted_by') }));

  app.get('/admin/tasks/:id', async (request) => {
    const { id } = idParam.parse(request.params);
    const task = service.requireTask(id);
    // Several hosts: the dashboard disables the actions on another host's task (they answer E_FOREIGN_TASK).
    const owner_host = store.getGraph(task.graph_id)?.owner_host ?? null;
    return { task: { ...task, owner_host }, attempts: store.attemptsOf(id), output: store.outputOf(id, { limit: 5000 }) };
  });

  const override = (path: string, fn: (id: string, who: Actor) => unknown): void => {
    app.post(`/admin/tasks/:id/${path}`, async (request) => {
      const { id } = idParam.parse(request.params);
      return { id, transitions: fn(id, adminActor(request)) };
    });
  };
  override('force-run', (id, who) => service.forceRun(id, who));
  override('skip', (id, who) => service.skip(id, who));
  override('retry', (id, who) => service.retry(id, who));
  override('cancel', (id, who) => {
    const t = service.requireTask(id);
    if (isTerminal(t.state)) throw new ColonyError('E_INVALID_TRANSITION', `task ${id} already ended (${t.state})`);
    if (t.state === 'assigned' || t.state === 'running') {
      const reason = `cancelled by ${who.actor}`;
      if (pool.cancel(id, reason) || ctx.cancelRemote?.(id, reason)) return [];
    }
    return service.cancelPending(id, who);
  });
  app.post('/admin/tasks/:id/drop-edge', async (request) => {
    const { id } = idParam.parse(request.params);
    const { depends_on } = dropEdgeSchema.parse(request.body);
    return { id, transitions: service.dropEdge(id, depends_on, adminActor(request)) };
  });

  app.get('/admin/workers', async () => ({ workers: allWorkers(ctx) }));

  app.get('/admin/costs', async () => ({
    by_engine: store.costBy('engine'),
    by_model: store.costBy('model'),
    by_user: store.costBy('submitted_by'),
    by_graph: store.costBy('graph_id'),
    by_worker: store.costBy('worker_id'),
  }));

  app.get('/events', (request, reply) =>
    streamEvents(request, reply, store, (e) => e, {
      bounds: ctx.host.config.http,
      slots: [{ key: 'admin', max: ctx.host.config.http.max_streams_per_address, what: 'address' }],
    }),
  );
}
