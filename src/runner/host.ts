/**
 * Assembles a host: store, task service, kill switch, engines, router, safety
 * gate and local pool, from a home directory and a config. `colony run` and
 * `colony serve` both start one; tests start one on a temp home.
 */
import { agentStateDirOf } from './agent-state.js';
import { sandboxCoverage } from './sandbox-plan.js';
import type { Store } from '../store/store.js';
import { openStore } from '../store/open.js';
import type { ColonyConfig } from '../core/config.js';
import { Killswitch } from '../safety/killswitch.js';
import { ensureHome, type HomePaths } from './home.js';
import { acquireHostLock, type HostLock } from '../store/host-lock.js';
import { LocalPool, type GateFn, type RouteFn } from './pool.js';
import { TaskService } from './service.js';
import { createRouting, providerHosts, type Routing } from './routing.js';
import type { RouterInsight } from './engine-routing.js';
import { ToolApprovals } from './tool-approvals.js';
import { createWorkspacePreparer } from './task-workspace.js';
import { ChangeStore } from '../store/changes.js';
import { FollowUpStore, type FollowUp } from '../store/follow-ups.js';
import { SYSTEM } from '../store/store.js';
import type { StoredTask } from '../store/rows.js';
import { sweepOrphans, type OrphanSweep } from './orphans.js';
import type { SandboxPlanner } from '../safety/os-sandbox/index.js';
import { Notifier } from './notify/notifier.js';
import { BudgetWatch } from './budget-watch.js';
import { Cluster } from '../store/cluster.js';
import { loadOrCreateHostId } from './host-id.js';
import { HostWatch } from './adopt.js';
import { FenceWatch } from './fence-watch.js';

export interface HostOptions {
  paths: HomePaths;
  config: ColonyConfig;
  configFile?: string | null;
  concurrency?: number;
  accept?: (taskId: string) => boolean;
  route?: RouteFn;
  gate?: GateFn;
  env?: NodeJS.ProcessEnv;
  lock?: boolean;
  /** Several hosts on PostgreSQL: this host's id (default: `<home>/host-id`, runner/host-id.ts). */
  hostId?: string;
  /** This host lost its database lease (another host took its graphs, or it fenced itself in time); default: log and exit with status 75. */
  onFenced?: (message: string) => void;
}

export interface Host {
  paths: HomePaths;
  config: ColonyConfig;
  store: Store;
  service: TaskService;
  killswitch: Killswitch;
  pool: LocalPool;
  /** The adaptive router's statistics and decisions (dashboard, `colony router explain`). */
  router: RouterInsight;
  /** Tool calls of running agents held for the admin (GET /admin/pending, approve/reject). */
  toolApprovals: ToolApprovals;
  /** Gateway, router and environment, shared by the local pool and the remote dispatcher. */
  routing: Routing;
  recovered: { requeued: string[]; failed: string[] };
  /** Processes of interrupted attempts ended before recovery (runner/orphans.ts). */
  orphans: OrphanSweep;
  /** The OS sandbox every task attempt runs in (status for the dashboards and `colony status`). */
  sandbox: SandboxPlanner;
  /** Browser notifications and webhooks (issue 18). */
  notifier: Notifier;
  /** Budgets per graph and user: warnings, pauses at the budget, the admin's raise and resume (issue 18). */
  budgets: BudgetWatch;
  /** Several hosts on PostgreSQL: this host's lease, takeovers and self-fencing; null on SQLite. */
  cluster: { cluster: Cluster; watch: HostWatch; fence: FenceWatch } | null;
  close(): Promise<void>;
}

export function openHost(o: HostOptions): Host {
  ensureHome(o.paths);
  const lock: HostLock | null = o.lock === false ? null : acquireHostLock(o.paths.hostLock, o.paths.home);
  let store: Store | null = null;
  try {
    store = openStore(o.config.store.url ?? o.paths.db);
    store.outputCapBytes = o.config.retention.max_output_bytes_per_task;
    const s = store;
    const service = new TaskService(store, o.config);
    const fenceRef: { watch: FenceWatch | null } = { watch: null }; // created once the cluster's lease slot exists
    const cluster = Cluster.join(store, {
      hostId: o.hostId ?? loadOrCreateHostId(o.paths.home, (legacy) => Cluster.knows(s, legacy)),
      leaseMs: o.config.store.lease_ms,
      beatMs: o.config.store.heartbeat_ms,
      onFenced: (message) => (fenceRef.watch ? fenceRef.watch.fenceNow(message) : (o.onFenced ?? exitFenced)(message)),
    });
    // Several hosts: only this host's graphs (a restart with the same id recovers its own; others' attempts are theirs).
    const mine = store.ownedGraphsInFlight() ?? undefined;
    // Nothing of an interrupted attempt may run when its task is requeued: end it first.
    const orphans = sweepOrphans(store, 'host died', undefined, mine);
    const recovered = service.recover(mine ?? null);
    const watch = cluster ? new HostWatch(cluster, store, service, o.config.store.heartbeat_ms, o.config.store.lease_ms) : null;
    const poolRef: { pool: LocalPool | null } = { pool: null };
    const fence = cluster
      ? new FenceWatch({
          slot: cluster.leaseSlot,
          hostId: cluster.hostId,
          leaseMs: o.config.store.lease_ms,
          heartbeatMs: o.config.store.heartbeat_ms,
          onFence: (e) => {
            // Processes are dead already (fence-watch.ts); stop dispatching and let each slot end (its writes are refused).
            void poolRef.pool?.stop();
            poolRef.pool?.cancelAll(e.message);
            (o.onFenced ?? exitFenced)(e.message);
          },
        })
      : null;
    fenceRef.watch = fence;
    fence?.start();
    watch?.start();
    store.pruneAttemptProcesses();
    const killswitch = new Killswitch(store, o.paths.haltFile);
    const routing = createRouting({ config: o.config, store, env: o.env ?? process.env, paths: o.paths, configFile: o.configFile ?? null, killswitch });
    service.onHeld = (ids) => routing.review(ids);
    const toolApprovals = new ToolApprovals({
      store,
      config: o.config,
      home: o.paths.home,
      configFile: o.configFile ?? null,
      providerHosts: providerHosts(o.config),
    });
    const changes = new ChangeStore(store);
    const followUps = new FollowUpStore(store);
    const budgetRef: { watch: BudgetWatch | null } = { watch: null }; // created below, once the pool it stops exists
    const pool = new LocalPool({
      onCost: (taskId, attempt, scope, usd) => budgetRef.watch?.attemptCost(taskId, attempt, scope, usd),
      service,
      route: o.route ?? routing.route,
      gate: o.gate ?? routing.gate,
      envFor: routing.envFor,
      recordProcess: (taskId, attempt, info) => {
        fence?.track(taskId, info); // first: a host that fences while the write waits still kills it
        void s.grouped(() => s.recordAttemptProcess(taskId, attempt, info)).catch(() => undefined);
      },
      attemptEnded: fence ? (taskId) => fence.untrack(taskId) : undefined,
      sandboxFor: routing.sandboxFor,
      stateDirFor: (task) => agentStateDirOf(o.paths.home, task.id),
      concurrency: o.concurrency ?? o.config.runner.concurrency,
      canDispatch: () => killswitch.canDispatch(),
      silenceTimeoutMs: o.config.runner.silence_timeout_s === null ? null : o.config.runner.silence_timeout_s * 1000,
      maxOutputBytes: o.config.retention.max_output_bytes_per_task,
      accept: o.accept,
      toolGateFor: (task, attempt, workspace) => toolApprovals.gateFor(task, attempt, workspace),
      prepare: (() => {
        const coverage = sandboxCoverage(routing.sandbox, (task) => agentStateDirOf(o.paths.home, task.id));
        const prep = createWorkspacePreparer({ config: o.config, changes, followUps, home: o.paths.home, configFile: o.configFile ?? null, coverage });
        return (task: StoredTask, engine: string, workspace: string, followUp: FollowUp | null) => prep({ ...task, workspace }, engine, followUp);
      })(),
      followUps: {
        openFor: (taskId) => followUps.open(taskId),
        recordSession: (taskId, attempt, engine, id) => void s.grouped(() => followUps.recordSession(taskId, attempt, engine, id)).catch(() => undefined),
        abandon: (f, reason) => {
          changes.restore(f.task_id, SYSTEM, reason);
          followUps.close(f.task_id, f.seq, 'failed', null, SYSTEM, { reason });
        },
      },
    });
    poolRef.pool = pool;
    killswitch.onHalt({ onHalt: (reason) => pool.cancelAll(`halted: ${reason}`) });
    const notifier = new Notifier(store, o.config);
    const budgets = new BudgetWatch(store, service, o.config, (n) => notifier.emit(n));
    budgetRef.watch = budgets;
    budgets.addStopper((id, reason) => pool.stopForBudget(id, reason)); // graph and user budgets stop running attempts
    notifier.start();
    budgets.start();
    return {
      paths: o.paths,
      config: o.config,
      store: s,
      service,
      killswitch,
      pool,
      router: routing.router,
      toolApprovals,
      routing,
      recovered,
      orphans,
      sandbox: routing.sandbox,
      notifier,
      budgets,
      cluster: cluster && watch && fence ? { cluster, watch, fence } : null,
      async close() {
        watch?.quiesce();
        await pool.stop();
        watch?.stop();
        fence?.stop();
        budgets.stop();
        notifier.stop();
        service.close();
        s.close();
        lock?.release();
      },
    };
  } catch (e) {
    store?.close();
    lock?.release();
    throw e;
  }
}

/** A host presumed dead by the others must not act on the graphs they took: it stops (a supervisor restarts it clean). */
function exitFenced(message: string): void {
  process.stderr.write(`colony: ${message}; exiting (status 75)\n`);
  // A moment for the remote workers' cancel orders to leave the sockets; nothing is written meanwhile (the store
  // refuses). Whatever fails in that moment (a refused write nobody catches) ends it the same way.
  const bye = (): never => process.exit(75);
  process.on('uncaughtException', bye);
  process.on('unhandledRejection', bye);
  setTimeout(bye, 250);
}
