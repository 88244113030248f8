/**
 * Provider variables on a remote worker reach their own engine only, as on the host.
 *
 * A real `colony worker` (the CLI, in a network namespace reaching only the
 * host's subnet) runs the engines exec and claude, started with an Anthropic
 * key, an Anthropic base URL and an OpenAI key in its environment. An exec task
 * dumps its environment: none of those variables is in it (before the fix the
 * worker passed the union of every enabled engine's provider variables to every
 * engine). The legitimate side — claude's variables reach the claude engine — is
 * checked by the per-engine function the worker uses.
 *
 * Creating the namespace needs root; without it the suite fails (never skips).
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envForEngine } from '../../src/runner/routing.js';
import type { RunningHost } from '../../src/server/host-server.js';
import { testConfig, type TestHome } from '../helpers/admin-host.js';
import { closeBridgeHost, lanCall, startWorkerLan } from '../helpers/bridge-host.js';
import { spawnWorker, stopWorker } from '../helpers/colony-worker.js';
import { lanUser, type LanUser } from '../helpers/lan-user.js';
import type { NetnsHandle, NetnsNamespace } from '../helpers/netns.js';
import { waitFor } from '../helpers/proc.js';

const SECRETS = {
  ANTHROPIC_API_KEY: 'sk-ant-worker-secret-1234',
  ANTHROPIC_BASE_URL: 'http://gateway.invalid/anthropic',
  OPENAI_API_KEY: 'sk-openai-worker-secret-5678',
};

let net: NetnsHandle;
let ns: NetnsNamespace;
let home: TestHome;
let h: RunningHost;
let base: string;
let worker: ChildProcess | null = null;
let workerOut = '';
let root = '';
let whome = '';

beforeAll(async () => {
  ({ net, ns, home, h, base, root, whome } = await startWorkerLan('colony-worker-env-'));
}, 60_000);

afterAll(() => closeBridgeHost({ h, net, home }, () => stopWorker(worker)), 30_000);

const call = (user: LanUser, method: string, path: string, body?: unknown) => lanCall(user, base, method, path, body);

describe('colony worker: provider variables per engine', () => {
  it('an exec task on a worker that also runs claude sees no ANTHROPIC_* or OPENAI_* variable', async () => {
    const ada = await lanUser(net, ns, base, 'Ada on lan-a');
    const code = String((await call(ada, 'POST', '/api/pairing-codes')).json['code']);
    const vars = Object.entries(SECRETS).map(([k, v]) => `${k}=${v}`);
    worker = spawnWorker(
      net,
      ns,
      ['--workspace-root', root, '--home', whome, '--engines', 'exec,claude', '--host', base, '--code', code, '--name', 'ada-box'],
      (d) => (workerOut += d),
      vars,
    );
    await waitFor(() => /connected to .* as worker w-/.test(workerOut) || worker?.exitCode !== null, 'worker connected', 30_000);
    expect(workerOut).toMatch(/connected to .* as worker w-/);

    const submitted = await call(ada, 'POST', '/api/submit-task', { prompt: 'env > seen-env.txt', engine: 'exec' });
    expect(submitted.status, JSON.stringify(submitted.json)).toBe(201);
    const id = String(submitted.json['id']);
    await waitFor(() => ['succeeded', 'failed'].includes(h.host.store.getTask(id)?.state ?? ''), 'the exec task ended on the worker', 30_000);
    expect(h.host.store.getTask(id)?.state, workerOut).toBe('succeeded');
    const file = join(root, 'seen-env.txt');
    expect(existsSync(file)).toBe(true);
    const seen = readFileSync(file, 'utf8');
    expect(seen).toMatch(/^PATH=/m); // the dump is real
    for (const [k, v] of Object.entries(SECRETS)) {
      expect(seen, `${k} reached an exec task`).not.toContain(v);
      expect(seen).not.toMatch(new RegExp(`^${k}=`, 'm'));
    }
  }, 120_000);

  it("each engine's environment on the worker holds its own provider variables only", () => {
    const config = testConfig({ engines: { codex: { api_key_env: 'OPENAI_API_KEY', default_model: 'gpt-5' } } });
    const envOf = envForEngine(config, { PATH: '/usr/bin', ...SECRETS });
    expect(envOf('claude')['ANTHROPIC_API_KEY']).toBe(SECRETS.ANTHROPIC_API_KEY);
    expect(envOf('claude')['ANTHROPIC_BASE_URL']).toBe(SECRETS.ANTHROPIC_BASE_URL);
    expect(envOf('claude')['OPENAI_API_KEY']).toBeUndefined();
    expect(envOf('codex')['OPENAI_API_KEY']).toBe(SECRETS.OPENAI_API_KEY);
    expect(envOf('codex')['ANTHROPIC_API_KEY']).toBeUndefined();
    expect(envOf('codex')['ANTHROPIC_BASE_URL']).toBeUndefined();
    expect(envOf('exec')['ANTHROPIC_API_KEY']).toBeUndefined();
    expect(envOf('exec')['OPENAI_API_KEY']).toBeUndefined();
  });
});
