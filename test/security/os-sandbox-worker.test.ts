/**
 * Remote workers run every assignment in the OS sandbox too (the same engines,
 * the plan built from the worker's own config, as `colony worker` does):
 * PID 1 inside is bubblewrap, the worker's home (its private key) is hidden
 * even inside the workspace root, and the host's loopback is unreachable.
 */
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/core/config.js';
import type { MessageOf } from '../../src/core/protocol.js';
import { createExecEngine } from '../../src/engines/exec.js';
import { createClaudeEngine } from '../../src/engines/claude-cli.js';
import { fileURLToPath } from 'node:url';
import { readdirSync, readFileSync } from 'node:fs';
import { TaskRunner } from '../../src/remote/worker/worker-runner.js';
import { createSandboxPlanner } from '../../src/safety/os-sandbox/index.js';
import { makeTempDir } from '../helpers/proc.js';

const tmp = makeTempDir('colony-sbx-worker-');
const root = join(realpathSync(tmp.dir), 'work');
const workerHome = join(root, '.colony-worker'); // careless set-up: the worker home inside its workspace root
let listener: Server;
let port = 0;
let hits = 0;

beforeAll(async () => {
  mkdirSync(join(root, 'job'), { recursive: true });
  mkdirSync(workerHome);
  writeFileSync(join(workerHome, 'worker.key'), 'CANARY-WORKER-KEY\n');
  listener = createServer((s) => (hits++, s.end('CANARY-HOST-LOOPBACK\n')));
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  port = (listener.address() as { port: number }).port;
});
afterAll(() => {
  listener?.close();
  tmp.cleanup();
});

describe('worker runner in the sandbox', () => {
  it('runs the assignment sandboxed', async () => {
    const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: '/root' };
    const planner = createSandboxPlanner({ safety: defaultConfig().safety, colonyHome: workerHome, configFile: null });
    const runner = new TaskRunner({
      engines: new Map([['exec', createExecEngine({ killGraceMs: 300 })]]),
      workspaceRoot: root,
      budgetCap: null,
      // The screens would refuse these prompts; let them through so the sandbox alone is tested.
      gate: (t) => ({ allow: true, prompt: t.prompt, workspace: t.workspace }),
      env,
      flushMs: 5,
      sandboxFor: (t) => planner.planFor({ taskId: t.task_id, engine: t.engine, workspace: t.workspace, env }),
    });
    const prompt = `tr '\\0' ' ' < /proc/1/cmdline | cut -c1-14; echo; cat ${workerHome}/worker.key ../.colony-worker/worker.key; python3 -c "
import socket
try: socket.create_connection(('127.0.0.1', ${port}), 2); print('REACHED')
except Exception as e: print('unreachable')"`;
    const msg = {
      type: 'TASK_ASSIGNED',
      task_id: 't-w',
      attempt: 1,
      task: { prompt, title: 't' },
      budget: 1,
      engine: 'exec',
      model: null,
      workspace: 'job',
      nonce: 'n',
      expires_at: Date.now() + 30_000,
      lease_ms: 30_000,
      sig: 'x',
    } as unknown as MessageOf<'TASK_ASSIGNED'>;
    const prep = await runner.prepare(msg);
    if (!prep.ok) throw new Error(prep.reason);
    let out = '';
    const final = await runner.run(prep.prepared, { signal: new AbortController().signal, stopReason: () => null }, (p) => (out += p.output));
    expect(out).toMatch(/^\/usr\/bin\/bwrap/);
    expect(out).not.toContain('CANARY-WORKER-KEY');
    expect(out).toContain('unreachable');
    expect(out).not.toContain('REACHED');
    expect(hits).toBe(0);
    expect(final.ok).toBe(true);
  });

  it('runs an agent CLI (the claude engine, here its stand-in) through its sandbox plan: the CLI outside the workspace is visible read-only and works', async () => {
    const ws = join(root, 'job');
    const argvFile = join(ws, 'argv.json');
    const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: '/root', FAKE_CLAUDE_SCENARIO: 'success', FAKE_CLAUDE_ARGV_FILE: argvFile };
    const planner = createSandboxPlanner({ safety: defaultConfig().safety, colonyHome: workerHome, configFile: null, realHome: join(root, 'user-home') });
    const engine = createClaudeEngine({
      bin: fileURLToPath(new URL('../fixtures/fake-claude.mjs', import.meta.url)),
      defaultModel: 'sonnet',
      permissionMode: 'acceptEdits',
      allowedTools: [],
      extraArgs: [],
      pricing: { models: {}, aliases: {} } as never,
    });
    const sandbox = planner.planFor({ taskId: 't-c', engine: 'claude', workspace: ws, env });
    let done: { ok: boolean; summary: string } | null = null;
    for await (const ev of engine.run({
      task_id: 't-c',
      attempt: 1,
      prompt: 'hello',
      model: null,
      workspace: ws,
      budget_usd: 5,
      env,
      run_timeout_ms: 30_000,
      silence_timeout_ms: null,
      signal: new AbortController().signal,
      sandbox,
    })) {
      if (ev.type === 'done') done = ev;
    }
    expect(done?.ok, done?.summary).toBe(true);
    expect((JSON.parse(readFileSync(argvFile, 'utf8')) as { cwd: string }).cwd).toBe(ws);
    expect(readdirSync(join(root, 'user-home', '.claude'))).toEqual([]); // made on the host for the CLI's state, bound into its HOME
  });
});

describe('git worktrees in the sandbox', () => {
  it('git read commands work in a worktree; the main repository stays read-only', async () => {
    const { execFileSync } = await import('node:child_process');
    const repo = join(root, 'repo');
    const wt = join(root, 'wt');
    mkdirSync(repo);
    const git = (cwd: string, ...a: string[]): string => execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...a], { cwd, encoding: 'utf8' });
    git(repo, 'init', '-q');
    git(repo, 'commit', '-q', '--allow-empty', '-m', 'base');
    git(repo, 'worktree', 'add', '-q', wt, '-b', 'colony/t1');
    const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: '/root' };
    const planner = createSandboxPlanner({ safety: defaultConfig().safety, colonyHome: workerHome, configFile: null });
    let out = '';
    for await (const ev of createExecEngine().run({
      task_id: 't-g',
      attempt: 1,
      prompt:
        'git status --short --branch; git log --format=%s; echo x > f; git add f 2>/dev/null || echo add-refused; git update-ref refs/heads/main HEAD 2>/dev/null || echo ref-refused',
      model: null,
      workspace: realpathSync(wt),
      budget_usd: 0,
      env,
      run_timeout_ms: 20_000,
      silence_timeout_ms: null,
      signal: new AbortController().signal,
      sandbox: planner.planFor({ taskId: 't-g', engine: 'exec', workspace: realpathSync(wt), env }),
    })) {
      if (ev.type === 'output') out += ev.text;
    }
    expect(out).toBe('## colony/t1\nbase\nadd-refused\nref-refused\n');
  });
});
