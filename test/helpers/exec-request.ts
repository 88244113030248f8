/** An exec engine request for a task in `dir`, plain or in the OS sandbox as the pool would plan it (defaults: no timeouts, PATH only). */
import { realpathSync } from 'node:fs';
import type { EngineRequest } from '../../src/core/engine.js';
import { defaultConfig } from '../../src/core/config.js';
import { createSandboxPlanner } from '../../src/safety/os-sandbox/index.js';

const planner = createSandboxPlanner({ safety: defaultConfig().safety, colonyHome: '/nonexistent-colony-home', configFile: null });

export function execRequest(dir: string, prompt: string, sandboxed: boolean, over: Partial<EngineRequest> = {}): EngineRequest {
  const env = over.env ?? { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
  return {
    sandbox: sandboxed ? planner.planFor({ taskId: 'g:t', engine: 'exec', workspace: realpathSync(dir), env }) : null,
    task_id: 'g:t',
    attempt: 1,
    prompt,
    model: null,
    budget_usd: 0,
    workspace: dir,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
    run_timeout_ms: null,
    silence_timeout_ms: null,
    signal: new AbortController().signal,
    ...over,
  };
}
