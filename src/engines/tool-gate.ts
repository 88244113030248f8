/**
 * The tool gate an engine uses when the run brings none (a remote worker, a
 * direct engine run): colony's tool-call checks (safety/tool-check.ts) with
 * no one to ask, so "needs approval" is a denial that says why.
 * The host's pool brings its own gate, which can hold a call for the admin.
 */
import type { ColonyConfig } from '../core/config.js';
import type { ToolGate } from '../core/engine.js';
import { checkToolCall } from '../safety/tool-check.js';

export function safetyToolGate(config: ColonyConfig, workspace: string, home: string | null): ToolGate {
  const providerHosts = Object.values(config.engines.providers).map((p) => p.base_url);
  return async (call) => {
    const v = checkToolCall({ config: config.safety, providerHosts, home: home ?? '', workspace }, call);
    if (v.verdict === 'allow') return { behavior: 'allow' };
    const why = v.reason ?? v.rule ?? 'refused';
    return {
      behavior: 'deny',
      message:
        v.verdict === 'deny'
          ? `colony's safety gateway refused this ${call.tool} call: ${why}`
          : `colony's safety gateway needs an admin to approve this ${call.tool} call (${why}), and nobody can approve it here; it is refused`,
    };
  };
}
