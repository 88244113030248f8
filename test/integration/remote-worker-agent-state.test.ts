/**
 * A remote worker keeps each task's agent state in its own folder, as the host
 * does: a real host, a real `colony worker` process (the CLI from source) with
 * the REAL Claude Code CLI (pinned, scripts/agent-clis.mjs) against a fake
 * Anthropic API on 127.0.0.1, in the worker's OS sandbox.
 *
 * Task A's session transcript lands in `<worker home>/agent-state/<A>-<hash>`
 * (0700, the host's naming), not in the user's ~/.claude. Task B, from inside
 * its sandbox, lists the worker's agent-state folder: it sees its own folder
 * only, never A's (the attacker's side). At start the worker prunes folders
 * untouched for a week and keeps recent ones. Today a remote task leaves no
 * pending change on the host, so "request changes" answers 404 for it.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentStateDirOf } from '../../src/remote/worker/agent-state.js';
import { ChangeService } from '../../src/runner/change-service.js';
import { requireAgentCli } from '../helpers/agent-clis.js';
import { stopWorker, workerArgv } from '../helpers/colony-worker.js';
import { startFakeAnthropic, type FakeModelServer } from '../helpers/fake-models.js';
import { waitFor } from '../helpers/proc.js';
import { newSession, pairingCode, startRemoteHost, stateOf, submitTask, type RemoteTestHost } from '../helpers/remote-host.js';

const BIN = requireAgentCli('claude');

let api: FakeModelServer;
let h: RemoteTestHost;
let worker: ChildProcess | null = null;
let out = '';
let whome = '';
let root = '';
let cliHome = '';
let submitter = '';

/** Claude Code's session transcripts under a config dir (`projects/<cwd>/<session>.jsonl`). */
const sessionFiles = (configDir: string): string[] =>
  existsSync(join(configDir, 'projects'))
    ? (readdirSync(join(configDir, 'projects'), { recursive: true }) as string[]).filter((f) => f.endsWith('.jsonl'))
    : [];

const WEEK_MS = 7 * 24 * 3600 * 1000;

beforeAll(async () => {
  api = await startFakeAnthropic();
  h = await startRemoteHost();
  const dir = h.home.dir;
  whome = join(dir, 'worker-home');
  root = join(dir, 'worker-root');
  cliHome = join(dir, 'user-home');
  for (const d of [whome, root, cliHome]) mkdirSync(d, { recursive: true });
  // Left by earlier runs: one stale (a month old), one recent.
  for (const [name, age] of [
    ['stale-000000000000', 30 * 24 * 3600 * 1000],
    ['recent-000000000000', 3600 * 1000],
  ] as const) {
    const d = join(whome, 'agent-state', name);
    mkdirSync(d, { recursive: true, mode: 0o700 });
    writeFileSync(join(d, 'x.json'), '{}');
    const t = (Date.now() - age) / 1000;
    utimesSync(join(d, 'x.json'), t, t);
    utimesSync(d, t, t);
  }
  const configFile = join(dir, 'worker.config.json');
  writeFileSync(
    configFile,
    JSON.stringify({ runner: { kill_grace_ms: 500 }, engines: { claude: { bin: BIN } }, safety: { allowed_roots: [dir], network_allow: ['127.0.0.1'] } }),
  );
  const s = await newSession(h, 'Ada');
  const code = await pairingCode(h, s);
  const args = ['--workspace-root', root, '--home', whome, '--engines', 'claude', '--host', h.url, '--code', code, '--name', 'ada-box', '--config', configFile];
  worker = spawn(process.execPath, workerArgv(args), {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cliHome, ANTHROPIC_BASE_URL: api.baseUrl, ANTHROPIC_API_KEY: 'sk-ant-fake' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  worker.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  worker.stderr?.setEncoding('utf8').on('data', (d: string) => (out += d));
  await waitFor(() => /connected to .* as worker w-/.test(out) || worker?.exitCode !== null, 'worker connected', 60_000);
  expect(out).toMatch(/connected to .* as worker w-/);
  submitter = s.submitter;
}, 90_000);

afterAll(async () => {
  await stopWorker(worker);
  await h?.close();
  await api?.close();
}, 30_000);

async function runOnWorker(id: string, prompt: string): Promise<void> {
  const taskId = submitTask(h, submitter, { id, prompt, engine: 'claude' });
  await waitFor(() => ['succeeded', 'failed', 'cancelled', 'timed_out'].includes(stateOf(h, taskId) ?? ''), `task ${id} ended on the worker`, 200_000);
  expect(stateOf(h, taskId), out).toBe('succeeded');
  ids.set(id, taskId);
}
const ids = new Map<string, string>();

describe('colony worker: per-task agent state', () => {
  it('prunes week-old folders at start, keeps recent ones', () => {
    expect(existsSync(join(whome, 'agent-state', 'stale-000000000000'))).toBe(false);
    expect(existsSync(join(whome, 'agent-state', 'recent-000000000000'))).toBe(true);
  });

  it("keeps a task's Claude session in its own 0700 folder under the worker home; another task cannot see it", async () => {
    api.enqueue(
      { kind: 'tool', name: 'Bash', input: { command: "printf 'hello\\n' > hello.txt", description: 'write the greeting' } },
      { kind: 'text', text: 'Created hello.txt.' },
    );
    await runOnWorker('a', 'Create hello.txt with a greeting');
    const stateA = agentStateDirOf(whome, ids.get('a') as string);
    expect(existsSync(stateA), out).toBe(true);
    expect(statSync(stateA).mode & 0o777).toBe(0o700);
    expect(sessionFiles(stateA).length).toBeGreaterThan(0);
    expect(sessionFiles(join(cliHome, '.claude'))).toEqual([]); // not in the user's own Claude home
    expect(readFileSync(join(root, 'hello.txt'), 'utf8')).toBe('hello\n');
    // A remote task's edits stay on the worker: the host holds no pending change for it, so no follow-up can be requested (yet).
    const changes = new ChangeService(h.host.service, h.home.paths.home); // what `colony serve` gives its admin routes
    expect(() => changes.requestChanges(ids.get('a') as string, 'also add a second line', { actor: 'admin', origin: 'local' })).toThrow(/no pending change/);

    // Task B looks for A's folder from inside its sandbox: only its own is there.
    api.enqueue(
      { kind: 'tool', name: 'Bash', input: { command: `ls -a ${join(whome, 'agent-state')} > seen.txt 2>&1; echo "rc=$?" >> seen.txt`, description: 'look' } },
      { kind: 'text', text: 'Looked.' },
    );
    await runOnWorker('b', 'List the agent state');
    const stateB = agentStateDirOf(whome, ids.get('b') as string);
    expect(stateB).not.toBe(stateA);
    expect(sessionFiles(stateB).length).toBeGreaterThan(0);
    const seen = readFileSync(join(root, 'seen.txt'), 'utf8');
    expect(seen).toContain(basename(stateB)); // the listing is real
    expect(seen).not.toContain(basename(stateA));
    expect(seen).not.toContain('recent-000000000000');
  }, 420_000);
});
