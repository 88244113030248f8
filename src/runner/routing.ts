/**
 * Wires engines, router and safety gate for the local pool. Kept apart from
 * host.ts so the policy (which engine, which checks) reads in one place.
 */
import type { ColonyConfig } from '../core/config.js';
import { ColonyError } from '../core/errors.js';
import { createExecEngine } from '../engines/exec.js';
import type { Killswitch } from '../safety/killswitch.js';
import type { Store } from '../store/store.js';
import type { HomePaths } from './home.js';
import type { GateFn, RouteFn } from './pool.js';
import type { StoredTask } from '../store/rows.js';

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
  envFor: (task: StoredTask, engine: string) => Record<string, string>;
}

export function createRouting(d: RoutingDeps): Routing {
  const exec = createExecEngine({ killGraceMs: d.config.runner.kill_grace_ms });
  return {
    route: (task) => {
      if (task.engine === 'exec') return { engine: exec, model: null, rule: 'forced', explanation: 'engine exec requested by the task' };
      throw new ColonyError('E_ENGINE_MISSING', `engine "${task.engine}" is not available yet`);
    },
    gate: () => ({ verdict: 'allow' }),
    envFor: () => ({ ...(d.env as Record<string, string>) }),
  };
}
