/**
 * Wires the safety gateway, engines and router for the local pool: the policy
 * (which checks, which engine, which environment) reads in one place.
 */
import type { ColonyConfig } from '../core/config.js';
import { createEngineRegistry } from '../engines/registry.js';
import { createEngineRouting, type RouterInsight } from './engine-routing.js';
import { engineEnvNames } from '../engines/engine-env.js';
import { scrubEnv } from '../safety/sandbox.js';
import type { Killswitch } from '../safety/killswitch.js';
import type { Store } from '../store/store.js';
import type { StoredTask } from '../store/rows.js';
import type { HomePaths } from './home.js';
import type { GateFn, RouteFn } from './pool.js';
import { createHostSandbox, sandboxForTasks, withSandboxGate, type SandboxFor } from './sandbox-plan.js';
import type { SandboxPlanner } from '../safety/os-sandbox/index.js';
import { createSafetyGate } from './safety-gate.js';

export { createGate, providerHosts } from './safety-gate.js';

export interface RoutingDeps {
  config: ColonyConfig;
  store: Store;
  env: NodeJS.ProcessEnv;
  paths: HomePaths;
  configFile: string | null;
  killswitch: Killswitch;
}

export interface Routing {
  route: RouteFn;
  gate: GateFn;
  /** Screens tasks held at submission and records the findings the admin will approve (or not). */
  review: (taskIds: readonly string[]) => void;
  envFor: (task: StoredTask, engine: string) => Record<string, string>;
  /** The adaptive router's state for the dashboard and `colony router explain`. */
  router: RouterInsight;
  /** The OS sandbox of an attempt (null: safety.sandbox is off). */
  sandboxFor: SandboxFor;
  sandbox: SandboxPlanner;
}

/** Tasks get a scrubbed environment; an API key only reaches the engine that needs it. */
export function createEnvFor(config: ColonyConfig, env: NodeJS.ProcessEnv): (task: StoredTask, engine: string) => Record<string, string> {
  return (_task, engine) => {
    return scrubEnv(env, { allow: config.safety.env_allow, engineKeys: engineEnvNames(config, engine) });
  };
}

export function createRouting(d: RoutingDeps): Routing {
  const registry = createEngineRegistry(d.config, { env: d.env });
  const engines = createEngineRouting({ config: d.config, store: d.store, registry, env: d.env });
  const envFor = createEnvFor(d.config, d.env);
  const sandbox = createHostSandbox(d);
  const safety = createSafetyGate(d);
  return {
    route: (task, ctx) => engines.route(task, ctx),
    gate: withSandboxGate(safety.gate, sandbox),
    review: safety.review,
    envFor,
    sandboxFor: sandboxForTasks(sandbox, envFor),
    sandbox,
    router: engines.insight,
  };
}
