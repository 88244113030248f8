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
import { AGENT_CLI_ENGINES } from '../engines/agent-engines.js';

/** `covered`: the paths the guard left to this attempt's sandbox (sandboxCoverage); its wraps refuse to start without covering them. */
export type SandboxFor = (task: StoredTask, engine: string, workspace: string, covered?: readonly string[]) => SandboxPlan | null;

/** Which of `paths` the sandbox covers for an attempt (the guard then only checks their identity): see sandboxCoverage. */
export type SandboxCoverage = (task: StoredTask, engine: string, workspace: string, paths: readonly string[]) => string[];

/**
 * Engines whose every change to the filesystem is made by processes they spawn through the attempt's
 * sandbox. Others (openai applies its diffs from the host process) keep the full guard.
 */
const SANDBOXED_WRITERS: ReadonlySet<string> = new Set(['exec', 'claude', ...AGENT_CLI_ENGINES]);

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
  return (task, engine, workspace, covered) => {
    if (planner.enabled === false) return null; // no realpath, no environment to build
    const stateDir = stateDirFor?.(task) ?? null;
    const mustCover = covered?.length ? { mustCover: covered } : {};
    return planner.planFor({
      taskId: task.id,
      engine,
      workspace: realOr(workspace),
      env: envFor(task, engine),
      ...(stateDir ? { stateDir } : {}),
      ...mustCover,
    });
  };
}

/** The workspace's real path (the engine reports a missing workspace itself). */
function realOr(workspace: string): string {
  try {
    return realpathSync.native(workspace);
  } catch {
    return workspace;
  }
}

/**
 * The protected paths (colony home, config file) this attempt's sandbox makes unwritable, so the guard
 * checks only their identity after it instead of reading them before and after (issue 24). From the
 * plan the attempt will get (planner.coverage); nothing for an engine not in SANDBOXED_WRITERS.
 */
export function sandboxCoverage(planner: SandboxPlanner, stateDirFor?: (task: StoredTask) => string | null): SandboxCoverage {
  return (task, engine, workspace, paths) => {
    if (planner.enabled === false || !planner.coverage || !SANDBOXED_WRITERS.has(engine)) return [];
    const stateDir = stateDirFor?.(task) ?? null;
    return planner.coverage({ taskId: task.id, engine, workspace: realOr(workspace), env: {}, ...(stateDir ? { stateDir } : {}) }, paths);
  };
}
