/**
 * The OS sandbox as the host's pool sees it: one planner from the config,
 * a gate in front of the safety gate that refuses every task while the
 * sandbox is switched on but cannot start (E_SANDBOX_UNAVAILABLE, naming the
 * fix), and the per-attempt plan passed to the engine in its request.
 */
import { realpathSync } from 'node:fs';
import type { ColonyConfig } from '../core/config.js';
import { createSandboxPlanner, type SandboxPlan, type SandboxPlanner } from '../safety/os-sandbox/index.js';
import { SYSTEM, type Store } from '../store/store.js';
import type { StoredTask } from '../store/rows.js';
import type { GateFn } from './pool.js';
import type { HomePaths } from './home.js';

export type SandboxFor = (task: StoredTask, engine: string, workspace: string) => SandboxPlan | null;

export function createHostSandbox(d: { config: ColonyConfig; store: Store; paths: HomePaths; configFile: string | null }): SandboxPlanner {
  return createSandboxPlanner({
    safety: d.config.safety,
    colonyHome: d.paths.home,
    configFile: d.configFile,
    onDenied: (taskId, target, reason) => {
      try {
        d.store.appendAudit({ ...SYSTEM, action: 'sandbox.network_denied', target: taskId, detail: { target, reason } });
      } catch {
        /* the task's output has the line too */
      }
    },
  });
}

/** Refuses tasks while the sandbox is on but cannot start; otherwise the inner gate decides. */
export function withSandboxGate(inner: GateFn, planner: SandboxPlanner): GateFn {
  return (task) => {
    if (planner.enabled === false) return inner(task); // off: nothing to probe
    const s = planner.status();
    if (s.on && !s.available) return { verdict: 'deny', reason: `E_SANDBOX_UNAVAILABLE: ${s.problem}` };
    return inner(task);
  };
}

export function sandboxForTasks(
  planner: SandboxPlanner,
  envFor: (task: StoredTask, engine: string) => Record<string, string>,
  stateDirFor?: (task: StoredTask) => string | null,
): SandboxFor {
  return (task, engine, workspace) => {
    if (planner.enabled === false) return null; // no realpath, no environment to build
    let ws = workspace;
    try {
      ws = realpathSync.native(workspace);
    } catch {
      /* the engine reports a missing workspace itself */
    }
    const stateDir = stateDirFor?.(task) ?? null;
    return planner.planFor({ taskId: task.id, engine, workspace: ws, env: envFor(task, engine), ...(stateDir ? { stateDir } : {}) });
  };
}
