/**
 * Colony's overhead per agent engine: time from the start of an attempt
 * (`engine.run()` called) to the CLI's first model request at a fake server,
 * against running the same CLI directly (spawn → first request, its config
 * written beforehand, untimed). Runs alternate (direct, colony, colony, direct, …)
 * so load changes on this shared machine hit both alike.
 * Target: colony p50 ≤ direct p50 + 300 ms.
 *
 *   npx tsx bench/agents.bench.ts [claude codex gemini opencode]   (or npm run bench -- agents)
 * Needs the pinned CLIs: node scripts/agent-clis.mjs install
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from '../src/core/engine.js';
import type { EngineRequest } from '../src/core/engine.js';
import { buildClaudeArgs, createClaudeEngine, type ClaudeEngineOptions } from '../src/engines/claude-cli.js';
import { userMessageLine } from '../src/engines/claude-permissions.js';
import { codexConfigToml, createCodexEngine } from '../src/engines/codex-cli.js';
import { createGeminiEngine, geminiSettings } from '../src/engines/gemini-cli.js';
import { createOpencodeEngine, opencodeConfig, opencodeModel } from '../src/engines/opencode-cli.js';
import { loadPricingFile } from '../src/engines/pricing-file.js';
import { stateRootOf } from '../src/engines/agent-engines.js';
import type { AgentCliConfig } from '../src/core/config.js';
import { agentCliPath, type AgentCli } from '../test/helpers/agent-clis.js';
import { startFakeAnthropic, startFakeChat, startFakeGemini, startFakeResponses, type FakeModelServer } from '../test/helpers/fake-models.js';
import { machine, percentile, RESULTS_DIR, round, writeResult } from './perf-kit.js';
import { defaultConfig } from '../src/core/config.js';
import { createSandboxPlanner } from '../src/safety/os-sandbox/index.js';

/** The default safety settings with the fake model server (127.0.0.1) allowed through the proxy. */
function benchSafety(): ReturnType<typeof defaultConfig>['safety'] {
  const c = defaultConfig();
  return { ...c.safety, network_allow: ['127.0.0.1'] };
}

/** One planner for every sandboxed run, as a host has (its own home standing in for the user's). */
let planner: ReturnType<typeof createSandboxPlanner> | null = null;
function sandboxPlanner(): ReturnType<typeof createSandboxPlanner> {
  if (!planner) {
    const home = mkdtempSync(join(tmpdir(), 'colony-bench-sbx-home-'));
    process.once('exit', () => rmSync(home, { recursive: true, force: true }));
    planner = createSandboxPlanner({ safety: benchSafety(), colonyHome: join(home, 'colony'), configFile: null, realHome: home });
  }
  return planner;
}

/** Median and spread of colony − direct over runs made back to back (each pair shares the machine's load at that moment). */
function paired(
  colony: readonly number[],
  direct: readonly number[],
): { median: number; p25: number; p75: number; min: number; max: number; slower_share: number } {
  const d = colony.map((c, i) => c - (direct[i] ?? 0));
  return {
    median: percentile(d, 50),
    p25: percentile(d, 25),
    p75: percentile(d, 75),
    min: Math.min(...d),
    max: Math.max(...d),
    slower_share: round(d.filter((x) => x > 0).length / d.length, 2),
  };
}

const pricing = loadPricingFile();
const SCALE = Math.max(1, Number(process.env['AGENT_BENCH_SCALE'] ?? 2));
const SAMPLES: Record<AgentCli, number> = { claude: 10 * SCALE, codex: 10 * SCALE, gemini: 6 * SCALE, opencode: 4 * SCALE };
const load1 = (): number => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

interface Setup {
  start(): Promise<FakeModelServer>;
  engine(server: FakeModelServer, bin: string): Engine;
  /** The direct run: argv/env as colony would use, config files written into `state` first. */
  direct(server: FakeModelServer, bin: string, ws: string, state: string): { command: string; args: string[]; env: Record<string, string>; stdin?: string };
  env(server: FakeModelServer, home: string): Record<string, string>;
}

const base = (home: string): Record<string, string> => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8' });
const PROMPT = 'Say done.';
const freshDir = (dir: string): string => (mkdirSync(dir, { recursive: true }), dir);

const claudeOpts = (bin: string): ClaudeEngineOptions => ({
  bin,
  defaultModel: 'sonnet',
  permissionMode: 'default',
  allowedTools: [],
  extraArgs: [],
  pricing,
  killGraceMs: 500,
  toolGate: true,
});
const cli = (over: Partial<AgentCliConfig> & { default_model: string; api_key_env: string }): AgentCliConfig => ({ models: [], extra_args: [], ...over });
/** What every CLI engine is built with here: its config, the pricing, a short kill grace. */
const engineOpts = (over: Parameters<typeof cli>[0]) => ({ config: cli(over), pricing, killGraceMs: 500 });

const SETUPS: Record<AgentCli, Setup> = {
  claude: {
    start: startFakeAnthropic,
    engine: (_s, bin) => createClaudeEngine(claudeOpts(bin)),
    env: (s, home) => ({ ...base(home), ANTHROPIC_BASE_URL: s.baseUrl, ANTHROPIC_API_KEY: 'sk-fake', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' }),
    direct: (s, bin, _ws, state) => ({
      command: bin,
      args: buildClaudeArgs(claudeOpts(bin), 'sonnet', null, { budgetUsd: 1, debugFile: join(state, 'debug.log') }),
      // HOME apart from the debug log's folder, as colony runs it (a fresh HOME, the log in the engine's state folder).
      env: {
        ...base(freshDir(join(state, 'home'))),
        ANTHROPIC_BASE_URL: s.baseUrl,
        ANTHROPIC_API_KEY: 'sk-fake',
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      },
      stdin: userMessageLine(PROMPT),
    }),
  },
  codex: {
    start: startFakeResponses,
    engine: (s, bin) => createCodexEngine(engineOpts({ bin, default_model: 'gpt-5-codex', base_url: `${s.baseUrl}/v1`, api_key_env: 'OPENAI_API_KEY' })),
    env: (_s, home) => ({ ...base(home), OPENAI_API_KEY: 'sk-fake' }),
    direct: (s, bin, _ws, state) => {
      writeFileSync(
        join(state, 'config.toml'),
        codexConfigToml(cli({ default_model: 'gpt-5-codex', base_url: `${s.baseUrl}/v1`, api_key_env: 'OPENAI_API_KEY' }), 'gpt-5-codex'),
      );
      return {
        command: bin,
        args: ['exec', '--json', '--dangerously-bypass-approvals-and-sandbox', '--skip-git-repo-check', '-m', 'gpt-5-codex', '--', PROMPT],
        env: { ...base(state), OPENAI_API_KEY: 'sk-fake', CODEX_HOME: state },
      };
    },
  },
  gemini: {
    start: startFakeGemini,
    engine: (s, bin) => createGeminiEngine(engineOpts({ bin, default_model: 'gemini-2.5-flash', base_url: s.baseUrl, api_key_env: 'GEMINI_API_KEY' })),
    env: (_s, home) => ({ ...base(home), GEMINI_API_KEY: 'fake' }),
    direct: (s, bin, _ws, state) => {
      mkdirSync(join(state, '.gemini'));
      writeFileSync(
        join(state, '.gemini', 'settings.json'),
        JSON.stringify(geminiSettings(cli({ default_model: 'gemini-2.5-flash', api_key_env: 'GEMINI_API_KEY' }))),
      );
      return {
        command: process.execPath,
        args: [bin, '-p', PROMPT, '--output-format', 'stream-json', '-m', 'gemini-2.5-flash', '--approval-mode', 'yolo', '--skip-trust'],
        env: {
          ...base(state),
          GEMINI_API_KEY: 'fake',
          GOOGLE_GEMINI_BASE_URL: s.baseUrl,
          GEMINI_CLI_HOME: state,
          GEMINI_CLI_NO_RELAUNCH: 'true',
          GEMINI_CLI_TRUST_WORKSPACE: 'true',
        },
      };
    },
  },
  opencode: {
    start: startFakeChat,
    engine: (s, bin) => createOpencodeEngine(engineOpts({ bin, default_model: 'fake-model', base_url: `${s.baseUrl}/v1`, api_key_env: 'GATEWAY_KEY' })),
    env: (_s, home) => ({ ...base(home), GATEWAY_KEY: 'fake' }),
    direct: (s, bin, _ws, state) => {
      const c = cli({ default_model: 'fake-model', base_url: `${s.baseUrl}/v1`, api_key_env: 'GATEWAY_KEY' });
      writeFileSync(join(state, 'opencode.json'), JSON.stringify(opencodeConfig(c, 'fake-model', pricing)));
      return {
        command: bin,
        args: ['run', '--format', 'json', '--print-logs', '--log-level', 'WARN', '-m', opencodeModel(c, 'fake-model'), '--', PROMPT],
        env: {
          ...base(state),
          GATEWAY_KEY: 'fake',
          OPENCODE_CONFIG: join(state, 'opencode.json'),
          XDG_CONFIG_HOME: join(state, 'config'),
          XDG_DATA_HOME: join(state, 'data'),
          XDG_STATE_HOME: join(state, 'state'),
          XDG_CACHE_HOME: join(state, 'cache'),
          OPENCODE_DISABLE_MODELS_FETCH: '1',
          OPENCODE_DISABLE_AUTOUPDATE: '1',
          OPENCODE_DISABLE_LSP_DOWNLOAD: '1',
          OPENCODE_DISABLE_DEFAULT_PLUGINS: '1',
          OPENCODE_DISABLE_SHARE: '1',
        },
      };
    },
  },
};

/** Milliseconds from `t0` to the first model request, then lets the run end. */
async function firstRequest(server: FakeModelServer, t0: number, done: Promise<unknown>): Promise<number> {
  for (;;) {
    const at = server.firstModelRequestAt();
    if (at !== null) {
      await done;
      return at - t0;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function directOnce(name: AgentCli, bin: string): Promise<number> {
  const s = SETUPS[name];
  const server = await s.start();
  const ws = mkdtempSync(join(tmpdir(), 'colony-bench-ws-'));
  // The same place as the engine's own state folder (codex behaves differently under a temp dir).
  const root = stateRootOf(name);
  mkdirSync(root, { recursive: true });
  const state = mkdtempSync(join(root, 'colony-bench-state-'));
  try {
    const d = s.direct(server, bin, ws, state);
    const t0 = Date.now();
    // detached as colony's engines spawn (child.ts): with the kernel's autogroup scheduling a new session gets
    // its own CPU share, so on a loaded machine a non-detached CLI starts much slower and flatters colony.
    const child = spawn(d.command, d.args, { cwd: ws, env: d.env, detached: true, stdio: [d.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    child.stdout?.on('data', (b: Buffer) => {
      if (d.stdin !== undefined && b.includes('"type":"result"')) child.stdin?.end();
    });
    child.stderr?.resume();
    if (d.stdin !== undefined) child.stdin?.write(d.stdin);
    const done = new Promise((r) => child.on('close', r));
    return await firstRequest(server, t0, done);
  } finally {
    await server.close();
    rmSync(ws, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  }
}

/** The run() input of one bench attempt: the bench prompt, attempt 1, no model, a $1 budget, no silence timeout. */
function benchAttempt(workspace: string, env: Record<string, string>, runTimeoutMs: number): EngineRequest {
  return {
    task_id: 'bench',
    attempt: 1,
    prompt: PROMPT,
    model: null,
    workspace,
    budget_usd: 1,
    env,
    run_timeout_ms: runTimeoutMs,
    silence_timeout_ms: null,
    signal: new AbortController().signal,
  };
}

async function colonyOnce(name: AgentCli, bin: string, sandboxed = false): Promise<number> {
  const s = SETUPS[name];
  const server = await s.start();
  const ws = mkdtempSync(join(tmpdir(), 'colony-bench-ws-'));
  const home = mkdtempSync(join(tmpdir(), 'colony-bench-home-'));
  try {
    const engine = s.engine(server, bin);
    const env = s.env(server, home);
    const t0 = Date.now();
    // The attempt as the host runs it: in the OS sandbox (bwrap, network through colony's proxy to the allowed fake server).
    const sandbox = sandboxed ? sandboxPlanner().planFor({ taskId: 'bench', engine: name, workspace: realpathSync(ws), env }) : null;
    const events = engine.run({ sandbox, ...benchAttempt(ws, env, 180_000), tool_gate: async () => ({ behavior: 'allow' }) });
    const done = (async () => {
      for await (const _e of events) {
        /* drain */
      }
    })();
    return await firstRequest(server, t0, done);
  } finally {
    await server.close();
    rmSync(ws, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  }
}

/**
 * Colony's own share, without the CLI's start-up noise: run() → the engine's
 * process starting, with a tiny script in place of the CLI that stamps the time.
 */
async function spawnOverhead(name: AgentCli, samples = 20): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'colony-bench-stamp-'));
  const script = join(dir, 'stamp.sh');
  writeFileSync(script, '#!/bin/sh\ndate +%s%3N > "$STAMP_FILE"\n', { mode: 0o755 });
  const s = SETUPS[name];
  const server = await s.start();
  const out: number[] = [];
  try {
    for (let i = 0; i < samples; i += 1) {
      const ws = mkdtempSync(join(dir, 'ws-'));
      const stamp = join(dir, `stamp-${i}`);
      const t0 = Date.now();
      const events = s.engine(server, script).run(benchAttempt(ws, { ...s.env(server, dir), STAMP_FILE: stamp }, 10_000));
      for await (const _e of events) {
        /* drain */
      }
      out.push(Number(readFileSync(stamp, 'utf8')) - t0);
    }
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

export async function runAgentsBench(only: string[] = []): Promise<unknown> {
  const names = (Object.keys(SETUPS) as AgentCli[]).filter((n) => only.length === 0 || only.includes(n));
  const results: Record<string, unknown> = {};
  const pass: Record<string, boolean> = {};
  for (const name of names) {
    const bin = agentCliPath(name);
    if (!bin) {
      results[name] = { skipped: `not installed: node scripts/agent-clis.mjs install ${name}` };
      continue;
    }
    await directOnce(name, bin); // warm the page cache for both sides
    const sandboxable = name === 'claude'; // the bench's sandbox setup knows claude's needs (its endpoint through the proxy)
    if (sandboxable) await colonyOnce(name, bin, true);
    const direct: number[] = [];
    const colony: number[] = [];
    const boxed: number[] = [];
    const loadBefore = load1();
    for (let i = 0; i < SAMPLES[name]; i += 1) {
      // Rotate which goes first: whatever the previous run leaves behind (caches, exiting processes) hits every side alike.
      const runs: Array<() => Promise<void>> = [
        async () => void direct.push(await directOnce(name, bin)),
        async () => void colony.push(await colonyOnce(name, bin)),
        ...(sandboxable ? [async () => void boxed.push(await colonyOnce(name, bin, true))] : []),
      ];
      for (let k = 0; k < runs.length; k += 1) await (runs[(i + k) % runs.length] as () => Promise<void>)();
    }
    const loadAfter = load1();
    const pre = await spawnOverhead(name);
    const d50 = percentile(direct, 50);
    const c50 = percentile(colony, 50);
    const pairedDiff = paired(colony, direct);
    const boxedDiff = boxed.length ? paired(boxed, direct) : null;
    const figures = {
      samples: direct.length,
      load1: { before: loadBefore, after: loadAfter },
      direct_ms: { p50: d50, p99: percentile(direct, 99), all: direct },
      colony_ms: { p50: c50, p99: percentile(colony, 99), all: colony },
      ...(boxed.length ? { colony_sandboxed_ms: { p50: percentile(boxed, 50), p99: percentile(boxed, 99), all: boxed } } : {}),
      colony_prespawn_ms: {
        p50: percentile(pre, 50),
        p99: percentile(pre, 99),
        note: 'run() until the engine process starts (a stamp script in place of the CLI)',
      },
      overhead_p50_ms: round(c50 - d50, 0),
      overhead_p99_ms: round(percentile(colony, 99) - percentile(direct, 99), 0),
      overhead_paired_ms: pairedDiff,
      ...(boxedDiff ? { overhead_sandboxed_paired_ms: boxedDiff } : {}),
      target_overhead_ms: 300,
    };
    results[name] = figures;
    pass[`${name} paired overhead median < 300 ms`] = pairedDiff.median < 300;
    if (boxedDiff) pass[`${name} sandboxed paired overhead median < 300 ms`] = boxedDiff.median < 300;
    pass[`${name} pre-spawn p99 < 300 ms`] = figures.colony_prespawn_ms.p99 < 300;
    console.log(
      `${name} (${direct.length} runs each, load ${loadBefore}→${loadAfter}): direct p50 ${d50} p99 ${figures.direct_ms.p99} ms · colony p50 ${c50} p99 ${figures.colony_ms.p99} ms · paired colony−direct median ${pairedDiff.median} ms [p25 ${pairedDiff.p25}, p75 ${pairedDiff.p75}] slower in ${pairedDiff.slower_share}` +
        (boxedDiff ? ` · sandboxed p50 ${percentile(boxed, 50)} ms, paired median ${boxedDiff.median} ms [${boxedDiff.p25}, ${boxedDiff.p75}]` : '') +
        ` · pre-spawn p50 ${figures.colony_prespawn_ms.p50} p99 ${figures.colony_prespawn_ms.p99} ms`,
    );
  }
  // A run of some engines keeps the other engines' last figures (each with the machine state of its own run).
  const file = join(RESULTS_DIR, 'agents.json');
  const prev =
    only.length && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { results?: Record<string, unknown>; pass?: Record<string, boolean> }) : {};
  const stamp = machine();
  for (const k of Object.keys(results)) (results[k] as Record<string, unknown>).machine = stamp;
  const out = { machine: stamp, results: { ...prev.results, ...results }, pass: { ...prev.pass, ...pass } };
  writeResult('agents', out);
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runAgentsBench(process.argv.slice(2)).catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
