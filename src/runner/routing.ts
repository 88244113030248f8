/**
 * Wires the safety gateway, engines and router for the local pool and for the
 * remote dispatcher: the policy (which checks, which engine, which
 * environment) reads in one place, and a task sent to a worker passes the
 * same gateway and gets its engine from the same router as a local one.
 */
import { agentStateDirOf } from './agent-state.js';
import type { ColonyConfig } from '../core/config.js';
import { createEngineRegistry } from '../engines/registry.js';
import { createEngineRouting, type RouterInsight } from './engine-routing.js';
import { engineEnvNames } from '../engines/engine-env.js';
import { scrubEnv } from '../safety/sandbox.js';
import type { Killswitch } from '../safety/killswitch.js';
import type { Store } from '../store/store.js';
import type { StoredTask } from '../store/rows.js';
import type { HomePaths } from './home.js';
import type { GateFn, GateVerdict, RouteContext, RouteFn } from './pool.js';
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

/** The router's choice for a worker: an engine name the worker runs (the engine object is the worker's). */
export interface RemoteChoice {
  engine: string;
  model: string | null;
  rule: string;
  explanation: string;
}
export type RemoteRouteFn = (task: StoredTask, ctx: RouteContext & { engines: readonly string[] }) => RemoteChoice;
export type RemoteGateFn = (task: StoredTask) => GateVerdict;

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
  /** The host's verdict on a task before it is offered to a worker (the worker checks the workspace against its root). */
  remoteGate: RemoteGateFn;
  remoteRoute: RemoteRouteFn;
}

/** An engine's scrubbed environment: the allow-list plus that engine's own provider variables (host and `colony worker`). */
export function envForEngine(config: ColonyConfig, env: NodeJS.ProcessEnv): (engine: string) => Record<string, string> {
  return (engine) => scrubEnv(env, { allow: config.safety.env_allow, engineKeys: engineEnvNames(config, engine) });
}

/** Tasks get a scrubbed environment; an API key only reaches the engine that needs it. */
export function createEnvFor(config: ColonyConfig, env: NodeJS.ProcessEnv): (task: StoredTask, engine: string) => Record<string, string> {
  const forEngine = envForEngine(config, env);
  // The same for every attempt of an engine (it was scrubbed twice per attempt): kept for a second, a copy each time.
  const memo = new Map<string, { at: number; env: Record<string, string> }>();
  return (_task, engine) => {
    const now = Date.now();
    let m = memo.get(engine);
    if (!m || now - m.at >= 1000) memo.set(engine, (m = { at: now, env: forEngine(engine) }));
    return { ...m.env };
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
    gate: withSandboxGate(safety.gateGrouped, sandbox),
    review: safety.review,
    envFor,
    sandboxFor: sandboxForTasks(sandbox, envFor, (task) => agentStateDirOf(d.paths.home, task.id)),
    sandbox,
    router: engines.insight,
    remoteGate: createSafetyGate(d, { remote: true }).gate,
    remoteRoute: (task, ctx) => {
      if (task.engine !== 'auto' && !registry.has(task.engine)) {
        // An engine only the worker knows: the host cannot price it, the worker's cap and the task budget bound it.
        return {
          engine: task.engine,
          model: task.model,
          rule: 'explicit',
          explanation: `engine ${task.engine} named by the task (configured on the worker only)`,
        };
      }
      const c = engines.route(task, { ...ctx, available: ctx.engines.filter((e) => registry.has(e)) });
      return { engine: c.engine.name, model: c.model, rule: c.rule, explanation: c.explanation };
    },
  };
}
