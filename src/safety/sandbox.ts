/**
 * Sandbox checks for where a task runs and what it inherits:
 * - checkWorkspace: the workspace, after resolving every symlink and `..`,
 *   must lie inside an allowed root and must not be a protected location.
 *   The caller must run the task in the returned real path (the path that was
 *   checked), not in the string it passed in.
 * - scrubEnv: child processes get an allow-listed environment plus only the
 *   API key of the engine that needs it.
 * - protected paths and the filesystem guard live in protected.ts / guard.ts
 *   and are re-exported here.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { isInside, protectedReason } from './protected.js';
import type { Verdict } from './verdict.js';

export { globToRegExp, isInside, isProtectedPath, matchesGlob, protectedReason, type ProtectedOptions } from './protected.js';
export { snapshotProtected, verifyProtected, type GuardOptions, type ProtectedSnapshot, type TouchedFile } from './guard.js';

export type RealpathFn = (p: string) => string;

export interface WorkspaceOptions {
  realpath?: RealpathFn; // injectable so unit tests need no disk; default fs.realpathSync.native
  home?: string | null;
  configFile?: string | null;
  globs?: readonly string[];
}

export type WorkspaceVerdict = Verdict & { path?: string };

function deny(rule: string, reason: string): WorkspaceVerdict {
  return { verdict: 'deny', rule, reason, hits: [{ rule, severity: 'high', description: reason, excerpt: '' }] };
}

export function checkWorkspace(workspace: string, allowedRoots: readonly string[], opts: WorkspaceOptions = {}): WorkspaceVerdict {
  const real = opts.realpath ?? realpathSync.native;
  if (!path.isAbsolute(workspace)) {
    return deny('sandbox.relative', `workspace "${workspace}" must be an absolute path`);
  }
  let ws: string;
  try {
    ws = real(workspace);
  } catch {
    return deny('sandbox.missing', `workspace ${workspace} does not exist or cannot be resolved`);
  }
  const roots: string[] = [];
  for (const r of allowedRoots) {
    if (!path.isAbsolute(r)) continue;
    try {
      const rr = real(r);
      if (rr !== path.parse(rr).root) roots.push(rr); // "/" as a root would allow everything
    } catch {
      // a root that does not exist allows nothing
    }
  }
  if (roots.length === 0) {
    return deny('sandbox.no-roots', 'no usable allowed roots are configured (safety.allowed_roots); nothing may run');
  }
  const via = ws === path.resolve(workspace) ? '' : ` (resolves to ${ws})`;
  if (!roots.some((r) => isInside(r, ws))) {
    return deny('sandbox.outside-roots', `workspace ${workspace}${via} is outside the allowed roots: ${roots.join(', ')}`);
  }
  const home = opts.home ? safeReal(real, opts.home) : null;
  const why = protectedReason(ws, { home, configFile: opts.configFile, globs: opts.globs });
  if (why) return deny('sandbox.protected', `workspace ${workspace}${via} is a protected location: ${why}`);
  return { verdict: 'allow', hits: [], path: ws };
}

function safeReal(real: RealpathFn, p: string): string {
  try {
    return real(p);
  } catch {
    return path.resolve(p);
  }
}

/**
 * Environment passed to task processes by default. NODE_OPTIONS is left out on
 * purpose: it can preload code (`--require`) or open an inspector port.
 */
export const BASE_ENV_ALLOW: readonly string[] = Object.freeze([
  'PATH',
  'HOME',
  'LANG',
  'LANGUAGE',
  'LC_*',
  'TERM',
  'USER',
  'LOGNAME',
  'SHELL',
  'TMPDIR',
  'TZ',
  'NODE_ENV',
  'NODE_EXTRA_CA_CERTS',
]);

const SECRET_LOOKING = /KEY|TOKEN|SECRET|PASS(?:WORD|WD)?|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE/i;

/**
 * Returns only allow-listed variables. Exact names (built-in, configured in
 * safety.env_allow, or `engineKeys`) always pass; wildcard entries (`LC_*`,
 * `MYAPP_*`) never pass a secret-looking name, so `AWS_*` cannot leak
 * AWS_SECRET_ACCESS_KEY by accident. `engineKeys` are the provider variables
 * of the engine this task uses (e.g. ['GROQ_API_KEY'], or claude's base URL,
 * token and Bedrock/Vertex/Foundry settings: engines/engine-env.ts), nothing else.
 */
export function scrubEnv(
  env: Readonly<Record<string, string | undefined>>,
  opts: { allow?: readonly string[]; engineKeys?: readonly string[] } = {},
): Record<string, string> {
  const patterns = [...BASE_ENV_ALLOW, ...(opts.allow ?? [])];
  const engineKeys = opts.engineKeys ?? [];
  const exact = new Set([...patterns.filter((p) => !p.endsWith('*')), ...engineKeys.filter((k) => !k.endsWith('*'))]);
  const prefixes = patterns.filter((p) => p.endsWith('*') && p.length > 1).map((p) => p.slice(0, -1));
  // An engine's own prefixes (VERTEX_REGION_CLAUDE_*) are named by colony, not the user: no secret filter.
  const enginePrefixes = engineKeys.filter((k) => k.endsWith('*') && k.length > 1).map((k) => k.slice(0, -1));
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    const ok = exact.has(name) || enginePrefixes.some((p) => name.startsWith(p)) || (prefixes.some((p) => name.startsWith(p)) && !SECRET_LOOKING.test(name));
    if (ok) out[name] = value;
  }
  return out;
}
