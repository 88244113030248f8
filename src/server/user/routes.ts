/**
 * The user API (DESIGN §5): thin adapters over the TaskService and the store,
 * each answering only with what the calling session may see. Another user's
 * task is a 404 (never a 403: its existence is not revealed).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ColonyError, isColonyError } from '../../core/errors.js';
import { canSeeTask, submitterOf } from '../../core/permissions.js';
import { viewWorker } from '../../core/redact.js';
import { outputTail } from '../../store/output.js';
import { WorkerStore } from '../../store/workers.js';
import type { StoredTask } from '../../store/rows.js';
import { allWorkers, statusOf } from '../context.js';
import { idParam, singleTaskGraph } from '../schemas.js';
import { serveClient } from '../web.js';
import { noteRefusal } from './audit.js';
import { accessCodePage, registerCodePageAssets } from './code-page.js';
import type { LanDeps } from './deps.js';
import { parseLanSubmission } from './schemas.js';
import { lanActor, lanState, requireSession } from './session.js';

const MY_TASKS_LIMIT = 200;
const OUTPUT_TAIL_CHARS = 2000;

export function registerUserRoutes(app: FastifyInstance, deps: LanDeps): void {
  const { ctx, opaque } = deps;
  const { store, service } = ctx.host;
  const workers = new WorkerStore(store);

  app.get('/healthz', { config: { accessCode: false } }, async () => ({ ok: true }));
  app.get('/', { config: { accessCode: false } }, async (_request, reply) => reply.redirect('/dashboard', 302));
  registerCodePageAssets(app, ctx.webRoot);
  app.get('/dashboard', { config: { accessCode: false } }, async (request, reply) => {
    if (lanState(request)?.codeOk !== true) return reply.type('text/html').header('cache-control', 'no-store').send(accessCodePage());
    return serveClient(reply, ctx.webRoot, 'user');
  });

  app.get('/api/status', async (request) => {
    requireSession(request, 'view');
    return statusOf(ctx);
  });

  app.get('/api/workers', async (request) => {
    const s = requireSession(request, 'view');
    return { workers: allWorkers(ctx).map((w) => viewWorker(s, w, opaque, ctx.host.config.lan.show_worker_owners)) };
  });

  app.post('/api/submit-task', async (request, reply) => {
    const s = requireSession(request, 'submit_task');
    const body = parseLanSubmission(request.body);
    const graph = 'graph' in body ? body.graph : singleTaskGraph(body);
    const mine = submitterOf(s);
    const r = noteOthersWorkers(request, workers, graph.tasks, mine, () =>
      service.submitGraph(
        graph,
        {
          submittedBy: mine,
          who: lanActor(request),
          workspace: ctx.host.config.lan.host_workspace ?? process.cwd(),
          defaultTarget: 'own-worker',
          holdHostTasks: true, // target 'host' waits in awaiting_approval for the admin
          canDependOn: (t) => t.submitted_by === mine, // others' tasks read as unknown ids
        },
        'graph' in body ? `graph "${graph.name}"` : 'task',
      ),
    );
    deps.sessions.countSubmission(s.user_id, r.task_ids.length);
    const states = Object.fromEntries(r.task_ids.map((id) => [id, store.getTask(id)?.state ?? null]));
    return reply.code(201).send({ ...r, ...('graph' in body ? {} : { id: r.task_ids[0] }), states });
  });

  app.get('/api/my-sessions', async (request) => {
    const s = requireSession(request, 'view_own_sessions');
    const all = store.listTasks({ submitted_by: submitterOf(s), limit: 100_000 });
    const workerName = myWorkerNames(workers, store, submitterOf(s));
    const tasks = all
      .slice(-MY_TASKS_LIMIT)
      .reverse()
      .map((t) => ({
        id: t.id,
        graph_id: t.graph_id,
        title: t.title,
        prompt: t.prompt,
        engine: t.engine,
        model: t.model,
        target: t.target,
        worker_name: workerName(t),
        state: t.state,
        state_reason: t.state_reason,
        attempt: t.attempt,
        cost_usd: t.cost_usd,
        tokens_in: t.tokens_in,
        tokens_out: t.tokens_out,
        created_at: t.created_at,
        updated_at: t.updated_at,
        output_tail: outputTail(store, t.id, OUTPUT_TAIL_CHARS),
      }));
    return {
      session: s,
      tasks,
      total_tasks: all.length,
      total_cost_usd: all.reduce((sum, t) => sum + t.cost_usd, 0),
    };
  });

  // Only the caller's own budget: the key is the session's, never a parameter (another user's spend is not asked for).
  app.get('/api/my-budget', async (request) => {
    const s = requireSession(request, 'view_own_sessions');
    const { spent_usd, budget_usd, level, paused } = ctx.host.budgets.userStatus(submitterOf(s));
    return { budget: { spent_usd, budget_usd, level, paused, warn_share: ctx.host.config.budget.warn_share } };
  });

  app.get('/api/tasks/:id', async (request) => {
    const s = requireSession(request);
    const { id } = idParam.parse(request.params);
    const task = store.getTask(id);
    if (!task || !canSeeTask(s, task.submitted_by)) {
      if (task) noteRefusal(request, 'task of another user');
      throw new ColonyError('E_NOT_FOUND', `no task ${id}`);
    }
    return { task, attempts: store.attemptsOf(id), output: store.outputOf(id, { limit: 5000 }) };
  });
}

/**
 * The name of the caller's worker a task of theirs ran (its latest attempt) or is
 * queued for; null for the host, for "any of my workers" before it ran, and for
 * any worker that is not the caller's own (another user's name is never shown).
 */
function myWorkerNames(workers: WorkerStore, store: LanDeps['ctx']['host']['store'], mine: string): (t: StoredTask) => string | null {
  const names = new Map(workers.list({ owner: mine, includeRevoked: true }).map((w) => [w.id, w.name]));
  return (t) => {
    if (t.target === 'host' || names.size === 0) return null;
    const ran = t.attempt > 0 ? store.attemptsOf(t.id).at(-1)?.worker_id : undefined;
    return names.get(ran ?? t.target) ?? null;
  };
}

/**
 * Runs `submit`; when it refuses a named worker (E_WORKER_UNAVAILABLE), notes on the request's audit record whether
 * one belongs to another user. The caller reads "unknown, or not yours" either way; the admin's record says which.
 */
function noteOthersWorkers<T>(request: FastifyRequest, workers: WorkerStore, tasks: ReadonlyArray<{ target?: string }>, mine: string, submit: () => T): T {
  try {
    return submit();
  } catch (e) {
    if (isColonyError(e) && e.code === 'E_WORKER_UNAVAILABLE') {
      const theirs = tasks
        .map((t) => t.target)
        .filter((id): id is string => id !== undefined && id !== 'host' && id !== 'own-worker')
        .filter((id) => {
          const w = workers.get(id);
          return w !== null && w.owner !== mine;
        });
      if (theirs.length > 0) noteRefusal(request, `names the worker of another user: ${[...new Set(theirs)].join(', ')}`);
    }
    throw e;
  }
}
