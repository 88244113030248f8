/**
 * The one pipeline run before any task starts, on the host and on remote
 * workers (DESIGN §7):
 *
 *   killswitch → intent → injection → sandbox → network
 *
 * It stops at the first deny and collects needs_approval verdicts; every check
 * that ran is returned so the caller writes one audit record per verdict.
 * intent/injection/sandbox/network can be switched off in config (recorded as
 * an allow with reason "disabled"); the killswitch cannot.
 *
 * The result carries the values the caller must use from then on:
 * - `prompt`: the neutralised text that was screened (DESIGN §11: never screen
 *   a copy and run the original);
 * - `workspace`: the real path that the sandbox checked (symlinks resolved).
 *
 * A killswitch denial (`blocked_by_killswitch`) means "not now": leave the task
 * queued; do not fail it. Pure apart from `realpath`, which is injectable.
 */
import type { ColonyConfig } from '../core/config.js';
import { ColonyError } from '../core/errors.js';
import { intentRulesFromConfig } from './intent.js';
import { buildAllowList, checkEndpoint, scanTextForUrls, type AllowList } from './network.js';
import { checkWorkspace, type RealpathFn } from './sandbox.js';
import { INJECTION_RULES, neutralise, screenForUse } from './sanitize.js';
import { verdictFromHits, worseOf, type PatternRule, type RuleHit, type Verdict, type VerdictKind } from './verdict.js';

export type SafetyConfig = ColonyConfig['safety'];
export type KillswitchState = 'running' | 'paused' | 'halted';
export type CheckName = 'killswitch' | 'intent' | 'injection' | 'sandbox' | 'network';

export interface GatewayContext {
  killswitch: { state(): KillswitchState };
  config: SafetyConfig;
  allowedRoots: readonly string[];
  home: string; // colony data dir
  configFile?: string | null;
  providerHosts: readonly string[]; // hosts or base URLs of configured providers
  realpath?: RealpathFn;
}

export interface GatewayTask {
  id: string;
  prompt: string;
  engine: string;
  workspace: string;
  endpoint?: string | null; // the engine's base URL when it talks HTTP
}

export interface CheckResult {
  check: CheckName;
  verdict: VerdictKind;
  reason?: string;
  rule?: string;
}

export interface GatewayResult {
  verdict: VerdictKind;
  reason?: string;
  checks: CheckResult[];
  prompt: string; // the text to hand to the engine
  workspace: string | null; // real path checked by the sandbox (input path when the sandbox is off)
  blocked_by_killswitch: boolean;
}

interface Compiled {
  intent: PatternRule[];
  allow: AllowList;
}

const compiledCache = new WeakMap<object, Map<string, Compiled>>();

/**
 * Compiles configured patterns and the allow-list, listing every problem.
 * Call once at start-up to fail fast; runGateway caches the result per config.
 */
export function compileGatewayConfig(config: SafetyConfig, providerHosts: readonly string[]): Compiled {
  const key = providerHosts.join('\n');
  const perConfig = compiledCache.get(config) ?? new Map<string, Compiled>();
  const hit = perConfig.get(key);
  if (hit) return hit;
  const intent = intentRulesFromConfig(config);
  const net = buildAllowList([...providerHosts, ...config.network_allow]);
  const problems = [...intent.problems, ...net.problems];
  if (problems.length) throw new ColonyError('E_CONFIG', `safety configuration is invalid:\n${problems.join('\n')}`, { problems });
  const compiled = { intent: intent.rules, allow: net.allow };
  perConfig.set(key, compiled);
  compiledCache.set(config, perConfig);
  return compiled;
}

function result(check: CheckName, v: Pick<Verdict, 'verdict' | 'reason' | 'rule'>): CheckResult {
  const r: CheckResult = { check, verdict: v.verdict };
  if (v.reason !== undefined) r.reason = v.reason;
  if (v.rule !== undefined) r.rule = v.rule;
  return r;
}

const PROMPT_PROTECTED = /\.git\/(?:config|hooks)\b|\.ssh\/id_|\bauthorized_keys\b/i;

/** A task that names git config/hooks or SSH keys: the file guard would fail it anyway, so ask first. */
function promptProtected(prompt: string, ctx: GatewayContext): RuleHit[] {
  const m = PROMPT_PROTECTED.exec(prompt) ?? (prompt.includes(ctx.home) ? [ctx.home] : null);
  if (!m) return [];
  return [{ rule: 'sandbox.prompt-protected', severity: 'medium', description: 'the task names a protected path', excerpt: m[0] }];
}

// An exec command that starts an agent or model CLI hands (part of) its text to a model.
const MODEL_CLI =
  /(?:^|[\s;&|(`]|\$\()(?:(?:npx|bunx)\s+(?:-y\s+)?|pnpm\s+dlx\s+)?(?:@[\w.-]+\/)?(?:claude(?:-code)?|codex|gemini(?:-cli)?|aider|opencode|llm|ollama|sgpt|chatgpt|copilot|cursor-agent|goose|amp)(?=$|[\s;&|)`'"@])/;

/** Whether the task text reaches a model: every engine but exec, and exec commands that start a model CLI. */
export function reachesModel(task: Pick<GatewayTask, 'engine' | 'prompt'>): boolean {
  return task.engine !== 'exec' || MODEL_CLI.test(task.prompt);
}

function killswitchCheck(state: KillswitchState): CheckResult {
  if (state === 'halted') {
    return {
      check: 'killswitch',
      verdict: 'deny',
      rule: 'killswitch.halted',
      reason: 'the kill switch is engaged (halted); nothing starts until an admin resumes',
    };
  }
  if (state === 'paused') {
    return { check: 'killswitch', verdict: 'deny', rule: 'killswitch.paused', reason: 'dispatch is paused; the task stays queued until resume' };
  }
  return { check: 'killswitch', verdict: 'allow' };
}

export function runGateway(ctx: GatewayContext, task: GatewayTask): GatewayResult {
  const cfg = ctx.config;
  const prompt = cfg.neutralise ? neutralise(task.prompt) : task.prompt;
  const checks: CheckResult[] = [];
  let workspace: string | null = task.workspace;
  const done = (blocked = false): GatewayResult => {
    const overall = checks.reduce<VerdictKind>((acc, c) => worseOf(acc, c.verdict), 'allow');
    const reasons = checks.filter((c) => c.verdict === overall && overall !== 'allow').map((c) => `${c.check}: ${c.reason ?? c.rule ?? ''}`);
    const out: GatewayResult = { verdict: overall, checks, prompt, workspace, blocked_by_killswitch: blocked };
    if (reasons.length) out.reason = reasons.join('; ');
    return out;
  };
  const stop = (): boolean => checks[checks.length - 1]?.verdict === 'deny';
  const disabled = (check: CheckName): CheckResult => ({ check, verdict: 'allow', reason: `disabled in config (safety.${check}=false)` });

  checks.push(killswitchCheck(ctx.killswitch.state()));
  if (stop()) return done(true);

  const compiled = compileGatewayConfig(cfg, ctx.providerHosts);
  const screen = (check: 'intent' | 'injection', rules: readonly PatternRule[]): void => {
    if (!cfg[check]) {
      checks.push(disabled(check));
      return;
    }
    // Screens the text that will be used and the raw input (see sanitize.ts).
    checks.push(result(check, screenForUse(task.prompt, { neutralise: cfg.neutralise, rules, check }).verdict));
  };
  screen('intent', compiled.intent);
  if (stop()) return done();
  if (cfg.injection && !reachesModel(task)) {
    // A shell command is screened for intent only: `grep -r "ignore previous instructions"` is a search, not an injection.
    checks.push({ check: 'injection', verdict: 'allow', reason: 'exec command that does not invoke a model: screened for intent only' });
  } else screen('injection', INJECTION_RULES);
  if (stop()) return done();

  if (!cfg.sandbox) checks.push(disabled('sandbox'));
  else {
    const ws = checkWorkspace(task.workspace, ctx.allowedRoots, {
      realpath: ctx.realpath,
      home: ctx.home,
      configFile: ctx.configFile,
      globs: cfg.protected_globs,
    });
    workspace = ws.path ?? null;
    checks.push(result('sandbox', ws.verdict === 'allow' ? verdictFromHits('sandbox', promptProtected(prompt, ctx)) : ws));
    if (stop()) return done();
  }

  if (!cfg.network) checks.push(disabled('network'));
  else {
    // The endpoint is where the engine really connects: its denial wins over what the text asks for.
    const endpoint = task.endpoint ? checkEndpoint(task.endpoint, compiled.allow) : null;
    const text = scanTextForUrls(prompt, compiled.allow);
    checks.push(result('network', endpoint && endpoint.verdict !== 'allow' ? endpoint : text));
  }
  return done();
}
