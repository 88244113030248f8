/**
 * The safety gateway applied to what an agent actually does, one tool call at
 * a time (claude's `can_use_tool` requests): the same rules as for a task's
 * prompt, aimed at the concrete argument of each tool.
 *
 * - a shell command (Bash): the intent screen (built-in and configured
 *   patterns) — high severity denies, medium asks the admin;
 * - a file path (Write/Edit/MultiEdit/NotebookEdit, and Read/Grep/Glob):
 *   protected paths (colony's home and config, .env, SSH keys, git hooks,
 *   protected globs) are denied; a write outside the task's workspace asks
 *   the admin;
 * - a URL (WebFetch): its host must be on the network allow-list, else the
 *   admin is asked.
 * Anything else is allowed (the CLI's own rules and colony's sandbox still apply).
 * Pure apart from nothing: paths are compared as given (resolved, not realpath'd).
 */
import path from 'node:path';
import type { ToolCall } from '../core/engine.js';
export { describeToolCall } from '../core/tool-call.js';
import type { SafetyConfig } from './gateway.js';
import { compileGatewayConfig } from './gateway.js';
import { isHostAllowed, normaliseHost } from './network.js';
import { isInside, protectedReason } from './protected.js';
import { matchRulesDeep, verdictFromHits, type VerdictKind } from './verdict.js';

export interface ToolCheckContext {
  config: SafetyConfig;
  providerHosts: readonly string[];
  home: string; // colony data dir
  configFile?: string | null;
  workspace: string; // the task's workspace (real path)
}

export interface ToolVerdict {
  verdict: VerdictKind;
  rule: string | null;
  reason: string | null;
}

const WRITE_TOOLS = new Set(['Write', 'Edit', 'MultiEdit', 'NotebookEdit']);

const allow = (): ToolVerdict => ({ verdict: 'allow', rule: null, reason: null });

export function checkToolCall(ctx: ToolCheckContext, call: ToolCall): ToolVerdict {
  const cfg = ctx.config;
  const compiled = compileGatewayConfig(cfg, ctx.providerHosts);
  if (call.command !== undefined && cfg.intent) {
    const v = verdictFromHits('intent', matchRulesDeep(call.command, compiled.intent));
    if (v.verdict !== 'allow') return { verdict: v.verdict, rule: v.rule ?? 'intent', reason: `command: ${v.reason ?? 'matches an intent rule'}` };
  }
  if (call.path !== undefined && cfg.sandbox) {
    const abs = path.resolve(ctx.workspace, call.path);
    const why = protectedReason(abs, { home: ctx.home, configFile: ctx.configFile, globs: cfg.protected_globs, root: ctx.workspace });
    if (why) return { verdict: 'deny', rule: 'sandbox.protected-path', reason: `${abs} is protected: ${why}` };
    if (WRITE_TOOLS.has(call.tool) && !isInside(ctx.workspace, abs)) {
      return { verdict: 'needs_approval', rule: 'sandbox.outside-workspace', reason: `${call.tool} of ${abs}, outside the task's workspace ${ctx.workspace}` };
    }
  }
  if (call.url !== undefined && cfg.network) {
    let host: string | null = null;
    try {
      host = normaliseHost(new URL(call.url).hostname);
    } catch {
      return { verdict: 'deny', rule: 'network.tool-url', reason: `"${call.url.slice(0, 200)}" is not a valid URL` };
    }
    if (!isHostAllowed(host, compiled.allow)) {
      return {
        verdict: 'needs_approval',
        rule: 'network.tool-url',
        reason: `${call.tool} of ${host}, which is not in the network allow-list (safety.network_allow)`,
      };
    }
  }
  return allow();
}
