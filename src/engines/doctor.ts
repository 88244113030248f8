/**
 * `colony doctor`: for every engine, is its binary there (and which version),
 * are its credentials present (named, never printed), and does its endpoint
 * answer. Read-only: it runs `<bin> --version` and one HEAD request per endpoint.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ColonyConfig } from '../core/config.js';
import { AGENT_CLI_ENGINES, DEFAULT_ENDPOINTS, findBinary } from './agent-engines.js';

export interface EngineCheck {
  engine: string;
  kind: 'claude' | 'agent-cli' | 'openai' | 'exec';
  binary: { path: string | null; version: string | null; problem: string | null } | null; // null: no binary needed
  credentials: { present: boolean; source: string | null; problem: string | null };
  endpoint: { url: string | null; reachable: boolean | null; problem: string | null };
  ok: boolean;
}

export interface DoctorOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
}

function version(bin: string, timeoutMs: number): Promise<{ version: string | null; problem: string | null }> {
  const node = bin.endsWith('.js') || bin.endsWith('.mjs');
  return new Promise((resolve) => {
    execFile(
      node ? process.execPath : bin,
      [...(node ? [bin] : []), '--version'],
      { timeout: timeoutMs, env: { ...process.env, GEMINI_CLI_NO_RELAUNCH: 'true' } },
      (err, stdout) => {
        const line = String(stdout).trim().split('\n').filter(Boolean).at(-1) ?? null;
        if (err && !line) resolve({ version: null, problem: `\`${bin} --version\` failed: ${err.message.split('\n')[0]}` });
        else resolve({ version: line, problem: null });
      },
    );
  });
}

async function reachable(url: string, timeoutMs: number, f: typeof fetch): Promise<{ reachable: boolean; problem: string | null }> {
  try {
    await f(url, { method: 'HEAD', signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    return { reachable: true, problem: null }; // any HTTP answer (even 404/401) means the endpoint is there
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    return { reachable: false, problem: `${url}: ${cause ?? (e instanceof Error ? e.message : String(e))}` };
  }
}

/** The first of `names` set in env (the name, never the value). */
function firstSet(env: NodeJS.ProcessEnv, names: readonly string[]): string | null {
  return names.find((n) => (env[n] ?? '').trim() !== '') ?? null;
}

const CLAUDE_CREDENTIALS = [
  'ANTHROPIC_API_KEY',
  'ANTHROPIC_AUTH_TOKEN',
  'CLAUDE_CODE_OAUTH_TOKEN',
  'CLAUDE_CODE_USE_BEDROCK',
  'CLAUDE_CODE_USE_VERTEX',
  'CLAUDE_CODE_USE_FOUNDRY',
];

export async function runDoctor(config: ColonyConfig, o: DoctorOptions = {}): Promise<EngineCheck[]> {
  const env = o.env ?? process.env;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const f = o.fetchImpl ?? fetch;
  const checks: Promise<EngineCheck>[] = [];

  const binaryCheck = async (bin: string): Promise<EngineCheck['binary']> => {
    const path = findBinary(bin, env);
    if (!path) return { path: null, version: null, problem: `${bin} not found` };
    const v = await version(path, timeoutMs);
    return { path, ...v };
  };
  const endpointCheck = async (url: string | null): Promise<EngineCheck['endpoint']> =>
    url ? { url, ...(await reachable(url, timeoutMs, f)) } : { url: null, reachable: null, problem: null };
  const finish = (c: Omit<EngineCheck, 'ok'>): EngineCheck => ({ ...c, ok: !c.binary?.problem && c.credentials.present && c.endpoint.reachable !== false });

  checks.push(
    (async () => {
      const bin = config.engines.claude.bin ?? env.CLAUDE_BIN ?? 'claude';
      const source =
        firstSet(env, CLAUDE_CREDENTIALS) ??
        (existsSync(join(env.HOME ?? homedir(), '.claude', '.credentials.json')) ? '~/.claude/.credentials.json (claude login)' : null);
      return finish({
        engine: 'claude',
        kind: 'claude',
        binary: await binaryCheck(bin),
        credentials: {
          present: source !== null,
          source,
          problem: source ? null : `none of ${CLAUDE_CREDENTIALS.slice(0, 3).join(', ')} is set and there is no \`claude login\``,
        },
        endpoint: await endpointCheck(env.ANTHROPIC_BASE_URL?.trim() || DEFAULT_ENDPOINTS.claude),
      });
    })(),
  );

  for (const name of AGENT_CLI_ENGINES) {
    const c = config.engines[name];
    if (!c) continue;
    checks.push(
      (async () => {
        const source = firstSet(env, [c.api_key_env]);
        return finish({
          engine: name,
          kind: 'agent-cli',
          binary: await binaryCheck(c.bin ?? name),
          credentials: { present: source !== null, source, problem: source ? null : `${c.api_key_env} is not set` },
          endpoint: await endpointCheck(c.base_url ?? DEFAULT_ENDPOINTS[name]),
        });
      })(),
    );
  }

  for (const [name, p] of Object.entries(config.engines.providers)) {
    checks.push(
      (async () => {
        const source = p.api_key_env ? firstSet(env, [p.api_key_env]) : 'no key needed';
        return finish({
          engine: name,
          kind: 'openai',
          binary: null,
          credentials: { present: source !== null, source, problem: source ? null : `${p.api_key_env ?? ''} is not set` },
          endpoint: await endpointCheck(p.base_url),
        });
      })(),
    );
  }
  const all = await Promise.all(checks);
  all.push({
    engine: 'exec',
    kind: 'exec',
    binary: null,
    credentials: { present: true, source: 'none needed', problem: null },
    endpoint: { url: null, reachable: null, problem: null },
    ok: true,
  });
  return all;
}
