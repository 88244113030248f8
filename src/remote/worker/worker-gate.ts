/**
 * The worker's own safety gate (worker side): the same gateway the host runs,
 * with this machine's config, workspace root and HALT file. The task runner
 * cannot be built without one (RunnerOptions.gate is required), so no path
 * runs a host's task on a worker unchecked. Nobody approves on a worker, so
 * needs_approval is a refusal here.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ColonyConfig } from '../../core/config.js';
import { runGateway } from '../../safety/gateway.js';
import type { WorkerGate } from './worker-runner.js';

export interface WorkerGateOptions {
  config: ColonyConfig;
  configFile: string | null;
  /** The worker's home (its HALT file, keys). */
  home: string;
  workspaceRoot: string;
}

export function createWorkerGate(o: WorkerGateOptions): WorkerGate {
  const providerHosts = Object.values(o.config.engines.providers).map((p) => p.base_url);
  return (t) => {
    const r = runGateway(
      {
        killswitch: { state: () => (existsSync(join(o.home, 'HALT')) ? 'halted' : 'running') },
        config: o.config.safety,
        allowedRoots: [o.workspaceRoot],
        home: o.home,
        configFile: o.configFile,
        providerHosts,
      },
      { id: t.id, prompt: t.prompt, engine: t.engine, workspace: t.workspace, endpoint: o.config.engines.providers[t.engine]?.base_url ?? null },
    );
    if (r.verdict === 'allow') return { allow: true, prompt: r.prompt, workspace: r.workspace ?? t.workspace };
    const why = r.reason ?? 'denied';
    return { allow: false, reason: r.verdict === 'needs_approval' ? `needs approval (${why}); nobody approves on a worker, so it is refused` : why };
  };
}
