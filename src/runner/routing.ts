/**
 * Wires the safety gateway, engines and router for the local pool and for the
 * remote dispatcher: the policy (which checks, which engine, which
 * environment) reads in one place, and a task sent to a worker passes the
 * same gateway and gets its engine from the same router as a local one.
 */
import { resolve } from 'node:path';
import { tmpdir } from 'node:os';
import type { ColonyConfig } from '../core/config.js';
import { createEngineRegistry } from '../engines/registry.js';
import { createEngineRouting } from './engine-routing.js';
import { runGateway, compileGatewayConfig } from '../safety/gateway.js';
import { scrubEnv } from '../safety/sandbox.js';
import type { Killswitch } from '../safety/killswitch.js';
import { SYSTEM, type Store } from '../store/store.js';
import type { StoredTask } from '../store/rows.js';
import type { HomePaths } from './home.js';
import type { GateFn, GateVerdict, RouteContext, RouteFn } from './pool.js';

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
  envFor: (task: StoredTask, engine: string) => Record<string, string>;
  /** The host's verdict on a task before it is offered to a worker (the worker checks the workspace against its root). */
  remoteGate: RemoteGateFn;
  remoteRoute: RemoteRouteFn;
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

/**
 * The gateway as a GateFn. `remote`: the task will run on a worker, whose
 * workspace the host cannot see; the worker's own (mandatory) gate checks it
 * against its root, so the host runs every other check.
 */
export function createGate(d: Pick<RoutingDeps, 'config' | 'store' | 'paths' | 'configFile' | 'killswitch'>, o: { remote?: boolean } = {}): RemoteGateFn {
  const hosts = providerHosts(d.config);
  compileGatewayConfig(d.config.safety, hosts); // fail at start on a bad pattern or allow-list entry
  const roots = baseRoots(d.config);
  const safety = o.remote ? { ...d.config.safety, sandbox: false } : d.config.safety;
  return (task: StoredTask): GateVerdict => {
    // The admin chooses workspaces; LAN tasks (approved to run here) must stay inside the configured roots.
    const allowedRoots = task.submitted_by === 'admin' ? [...roots, task.workspace] : roots;
    const provider = d.config.engines.providers[task.engine];
    const r = runGateway(
      { killswitch: d.killswitch, config: safety, allowedRoots, home: d.paths.home, configFile: d.configFile, providerHosts: hosts },
      { id: task.id, prompt: task.prompt, engine: task.engine, workspace: task.workspace, endpoint: provider?.base_url ?? null },
    );
    d.store.transaction(() => {
      for (const c of r.checks) {
        const detail = o.remote && c.check === 'sandbox' && d.config.safety.sandbox
          ? { verdict: 'allow', rule: null, reason: 'remote task: the worker checks the workspace against its own root' }
          : { verdict: c.verdict, rule: c.rule ?? null, reason: c.reason ?? null };
        d.store.appendAudit({ ...SYSTEM, action: `safety.${c.check}`, target: task.id, detail });
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
    const keyEnv = config.engines.providers[engine]?.api_key_env;
    const engineKeys = engine === 'claude' ? ['ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN'] : keyEnv ? [keyEnv] : [];
    return scrubEnv(env, { allow: config.safety.env_allow, engineKeys });
  };
}

export function createRouting(d: RoutingDeps): Routing {
  const registry = createEngineRegistry(d.config, { env: d.env });
  const engines = createEngineRouting({ config: d.config, store: d.store, registry, env: d.env });
  return {
    route: (task, ctx) => engines.route(task, ctx),
    gate: createGate(d),
    envFor: createEnvFor(d.config, d.env),
    remoteGate: createGate(d, { remote: true }),
    remoteRoute: (task, ctx) => {
      if (task.engine !== 'auto' && !registry.has(task.engine)) {
        // An engine only the worker knows: the host cannot price it, the worker's cap and the task budget bound it.
        return { engine: task.engine, model: task.model, rule: 'explicit', explanation: `engine ${task.engine} named by the task (configured on the worker only)` };
      }
      const c = engines.route(task, { ...ctx, available: ctx.engines.filter((e) => registry.has(e)) });
      return { engine: c.engine.name, model: c.model, rule: c.rule, explanation: c.explanation };
    },
  };
}
