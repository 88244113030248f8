/**
 * Wires the safety gateway, engines and router for the local pool: the policy
 * (which checks, which engine, which environment) reads in one place.
 */
import { resolve } from 'node:path';
import { tmpdir } from 'node:os';
import type { ColonyConfig } from '../core/config.js';
import { createEngineRegistry } from '../engines/registry.js';
import { engineEnvNames } from '../engines/engine-env.js';
import { createEngineRouting } from './engine-routing.js';
import { runGateway, compileGatewayConfig } from '../safety/gateway.js';
import { scrubEnv } from '../safety/sandbox.js';
import type { Killswitch } from '../safety/killswitch.js';
import { SYSTEM, type Store } from '../store/store.js';
import type { StoredTask } from '../store/rows.js';
import type { HomePaths } from './home.js';
import type { GateFn, GateVerdict, RouteFn } from './pool.js';

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

export function providerHosts(config: ColonyConfig): string[] {
  return Object.values(config.engines.providers).map((p) => p.base_url);
}

/** Roots a task's workspace must resolve inside: configured ones, else the host's working directory and the worktree area. */
export function baseRoots(config: ColonyConfig): string[] {
  const roots = config.safety.allowed_roots.map((r) => resolve(r));
  const lan = config.lan.host_workspace ? [resolve(config.lan.host_workspace)] : [];
  return roots.length > 0 ? [...roots, ...lan] : [process.cwd(), resolve(tmpdir(), 'colony-worktrees'), ...lan];
}

export function createGate(d: Pick<RoutingDeps, 'config' | 'store' | 'paths' | 'configFile' | 'killswitch'>): GateFn {
  const hosts = providerHosts(d.config);
  compileGatewayConfig(d.config.safety, hosts); // fail at start on a bad pattern or allow-list entry
  const roots = baseRoots(d.config);
  return (task: StoredTask): GateVerdict => {
    // The admin chooses workspaces; LAN tasks (approved to run here) must stay inside the configured roots.
    const allowedRoots = task.submitted_by === 'admin' ? [...roots, task.workspace] : roots;
    const provider = d.config.engines.providers[task.engine];
    const r = runGateway(
      { killswitch: d.killswitch, config: d.config.safety, allowedRoots, home: d.paths.home, configFile: d.configFile, providerHosts: hosts },
      { id: task.id, prompt: task.prompt, engine: task.engine, workspace: task.workspace, endpoint: provider?.base_url ?? null },
    );
    d.store.transaction(() => {
      for (const c of r.checks) {
        d.store.appendAudit({ ...SYSTEM, action: `safety.${c.check}`, target: task.id, detail: { verdict: c.verdict, rule: c.rule ?? null, reason: c.reason ?? null } });
      }
    });
    if (r.blocked_by_killswitch) return { verdict: 'defer', reason: r.reason ?? 'kill switch' };
    if (r.verdict === 'deny') return { verdict: 'deny', reason: r.reason ?? 'denied' };
    if (r.verdict === 'needs_approval') return { verdict: 'needs_approval', reason: r.reason ?? 'needs approval' };
    return { verdict: 'allow', prompt: r.prompt, workspace: r.workspace ?? task.workspace };
  };
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
  return {
    route: (task, ctx) => engines.route(task, ctx),
    gate: createGate(d),
    envFor: createEnvFor(d.config, d.env),
  };
}
