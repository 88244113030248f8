/**
 * The safety gate of the local pool: runs the gateway before each attempt,
 * audits every check (one `safety.gate` record per run: each check with its verdict), and decides what an admin's approval covers.
 *
 * Approval is bound to what was shown: when the gateway says needs_approval,
 * the findings and their digest (safety/review.ts) are recorded with the task
 * and listed in GET /admin/pending; an approval records that digest. At the
 * next dispatch the task runs only if the gateway's findings digest to the
 * approved one; anything new (a different command, workspace or finding)
 * holds it again with the new findings. A deny is never waived by approval.
 * LAN tasks held at submission (to run on the host) are screened then, so the
 * admin sees the findings before approving them too.
 */
import type { ColonyConfig } from '../core/config.js';
import { compileGatewayConfig, runGateway, type GatewayResult } from '../safety/gateway.js';
import { reviewOf } from '../safety/review.js';
import { rootsForGraph } from '../safety/roots.js';
import type { Killswitch } from '../safety/killswitch.js';
import { SafetyReviewStore } from '../store/safety-reviews.js';
import { SYSTEM, type Store } from '../store/store.js';
import type { StoredTask } from '../store/rows.js';
import type { HomePaths } from './home.js';
import type { GateFn, GateVerdict } from './pool.js';

export interface SafetyGateDeps {
  config: ColonyConfig;
  store: Store;
  paths: HomePaths;
  configFile: string | null;
  killswitch: Pick<Killswitch, 'state'>;
  now?: () => number;
}

export interface SafetyGate {
  gate: (task: StoredTask) => GateVerdict;
  /** The same, its audit records committed with the next group commit (the local pool's). */
  gateGrouped: (task: StoredTask) => Promise<GateVerdict>;
  /** Screens tasks (held at submission) and records their findings for the admin. */
  review: (taskIds: readonly string[]) => void;
}

export function providerHosts(config: ColonyConfig): string[] {
  return Object.values(config.engines.providers).map((p) => p.base_url);
}

/**
 * `remote`: the task will run on a worker, whose workspace the host cannot
 * see; the worker's own (mandatory) gate checks it against its root, so the
 * host runs every other check.
 */
export function createSafetyGate(d: SafetyGateDeps, o: { remote?: boolean } = {}): SafetyGate {
  const hosts = providerHosts(d.config);
  compileGatewayConfig(d.config.safety, hosts); // fail at start on a bad pattern or allow-list entry
  const graphWorkspace = graphWorkspaces(d.store);
  const reviews = new SafetyReviewStore(d.store);
  const now = d.now ?? Date.now;
  const running = { state: () => 'running' as const };
  // One object for the whole run: the gateway caches its compiled rules per config object (issue 17:
  // a copy per task recompiled every pattern and the allow-list for each remote task).
  const safety = o.remote ? { ...d.config.safety, sandbox: false } : d.config.safety;
  const roots = graphRoots(d.config, graphWorkspace);

  const screen = (task: StoredTask, killswitch: Pick<Killswitch, 'state'>): GatewayResult => {
    // The same roots the submission was checked against (nothing is added per task).
    const allowedRoots = roots(task.graph_id, task.submitted_by);
    const provider = d.config.engines.providers[task.engine];
    return runGateway(
      {
        killswitch,
        config: safety,
        allowedRoots,
        home: d.paths.home,
        configFile: d.configFile,
        providerHosts: hosts,
      },
      { id: task.id, prompt: task.prompt, engine: task.engine, workspace: task.workspace, endpoint: provider?.base_url ?? null },
    );
  };

  /** What the gateway found and how it is audited (the writes are the caller's to commit). */
  const decide = (task: StoredTask): { write: () => void; verdict: GateVerdict } => {
    const r = screen(task, d.killswitch);
    const rv = r.verdict === 'needs_approval' ? reviewOf(task, r) : null;
    const approved = rv !== null && reviews.get(task.id)?.approved_digest === rv.digest;
    // One audit record per gate run, every check's verdict in it (issue 17: it was one record per check,
    // 5 of a remote task's 11 log rows); the approval match stays its own record.
    const checks = r.checks.map((c) =>
      o.remote && c.check === 'sandbox' && d.config.safety.sandbox
        ? { check: c.check, verdict: 'allow', rule: null, reason: 'remote task: the worker checks the workspace against its own root' }
        : { check: c.check, verdict: c.verdict, rule: c.rule ?? null, reason: c.reason ?? null },
    );
    const write = (): void => {
      d.store.appendAudit({ ...SYSTEM, action: 'safety.gate', target: task.id, detail: { verdict: r.verdict, checks } });
      if (rv && approved) d.store.appendAudit({ ...SYSTEM, action: 'safety.approval_matched', target: task.id, detail: { digest: rv.digest } });
      else if (rv) reviews.record(task.id, rv.digest, rv.findings, now());
    };
    let verdict: GateVerdict;
    if (r.blocked_by_killswitch) verdict = { verdict: 'defer', reason: r.reason ?? 'kill switch' };
    else if (r.verdict === 'deny') verdict = { verdict: 'deny', reason: r.reason ?? 'denied' };
    else if (r.verdict === 'needs_approval' && !approved) verdict = { verdict: 'needs_approval', reason: r.reason ?? 'needs approval' };
    else verdict = { verdict: 'allow', prompt: r.prompt, workspace: r.workspace ?? task.workspace };
    return { write, verdict };
  };

  const gate = (task: StoredTask): GateVerdict => {
    const g = decide(task);
    d.store.transaction(g.write);
    return g.verdict;
  };

  // The local pool's: the audit records join the group commit of the attempts starting and ending in
  // the same event-loop turn (a transaction of its own per attempt also flushed that group early).
  const gateGrouped = async (task: StoredTask): Promise<GateVerdict> => {
    const g = decide(task);
    await d.store.grouped(g.write);
    return g.verdict;
  };

  const review = (taskIds: readonly string[]): void => {
    d.store.transaction(() => {
      for (const id of taskIds) {
        const task = d.store.getTask(id);
        if (!task) continue;
        const rv = reviewOf(task, screen(task, running));
        reviews.record(id, rv.digest, rv.findings, now());
      }
    });
  };

  return { gate, gateGrouped, review };
}

/** Kept for callers that only need the gate function. */
export function createGate(d: SafetyGateDeps): GateFn {
  return createSafetyGate(d).gate;
}

/** A graph's roots depend only on the config, its workspace and its submitter: computed once per graph, not per attempt. */
function graphRoots(config: ColonyConfig, graphWorkspace: (graphId: string) => string | null): (graphId: string, submittedBy: string) => string[] {
  const cache = new Map<string, string[]>();
  return (graphId, submittedBy) => {
    const key = `${graphId}\n${submittedBy}`;
    let roots = cache.get(key);
    if (!roots) {
      if (cache.size > 1000) cache.clear();
      cache.set(key, (roots = rootsForGraph(config, graphWorkspace(graphId), submittedBy)));
    }
    return roots;
  };
}

/** A graph's base workspace never changes: one SELECT per graph, not per attempt. */
function graphWorkspaces(store: Store): (graphId: string) => string | null {
  const cache = new Map<string, string | null>();
  return (graphId) => {
    if (!cache.has(graphId)) {
      if (cache.size > 1000) cache.clear();
      cache.set(graphId, store.getGraph(graphId)?.workspace ?? null);
    }
    return cache.get(graphId) ?? null;
  };
}
