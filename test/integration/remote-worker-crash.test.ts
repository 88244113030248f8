/**
 * A paired `colony worker` (the real CLI, in a network namespace that reaches
 * only the host's subnet) SIGKILLed while its task runs
 *
 *   echo $$ > leader.pid; sleep 4 & echo $! > bg.pid; wait; echo done >> done.log
 *
 * Checked: nothing of the task is alive on the worker's machine 1 s later; the
 * killed attempt never writes `done`; the worker started again finds the
 * attempt in its home's in-flight record, makes sure its processes are gone,
 * and tells the host it lost it ("worker lost"); the host closes that attempt
 * as lost and runs the task again; `done` is written exactly once.
 *
 * Creating the namespace needs root; without it the suite fails (never skips).
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHost } from '../../src/server/host-server.js';
import type { TestHome } from '../helpers/admin-host.js';
import { closeBridgeHost, lanCall, startWorkerLan } from '../helpers/bridge-host.js';
import { spawnWorker, stopWorker } from '../helpers/colony-worker.js';
import { lanUser, type LanUser } from '../helpers/lan-user.js';
import type { NetnsHandle, NetnsNamespace } from '../helpers/netns.js';
import { killQuietly, processGone, readPid, readTaskPid, waitFor } from '../helpers/proc.js';

const TASK = 'echo $$ > leader.pid; sleep 4 & echo $! > bg.pid; wait; echo done >> done.log';

let net: NetnsHandle;
let ns: NetnsNamespace;
let home: TestHome;
let h: RunningHost;
let base: string;
let worker: ChildProcess | null = null;
let workerOut = '';
let root = '';
let whome = '';
const strays: number[] = [];

function startWorker(args: string[]): ChildProcess {
  workerOut = '';
  worker = spawnWorker(net, ns, ['--workspace-root', root, '--home', whome, ...args], (d) => (workerOut += d));
  return worker;
}

beforeAll(async () => {
  ({ net, ns, home, h, base, root, whome } = await startWorkerLan('colony-worker-crash-'));
}, 60_000);

afterAll(
  () =>
    closeBridgeHost({ h, net, home }, async () => {
      await stopWorker(worker);
      for (const p of strays) killQuietly(p);
    }),
  30_000,
);

const call = (user: LanUser, method: string, path: string, body?: unknown) => lanCall(user, base, method, path, body);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const doneLines = (): number => (existsSync(join(root, 'done.log')) ? readFileSync(join(root, 'done.log'), 'utf8').split('\n').filter(Boolean).length : 0);

describe('colony worker SIGKILLed while its task runs, then started again', () => {
  it('nothing of the task outlives the worker; the restarted worker reports the attempt lost; the effect happens exactly once', async () => {
    const ada = await lanUser(net, ns, base, 'Ada on lan-a');
    const code = String((await call(ada, 'POST', '/api/pairing-codes')).json['code']);
    const first = startWorker(['--host', base, '--code', code, '--name', 'ada-box']);
    await waitFor(() => /connected to .* as worker w-/.test(workerOut) || first.exitCode !== null, 'worker connected', 30_000);

    const submitted = await call(ada, 'POST', '/api/submit-task', { prompt: TASK, engine: 'exec', max_attempts: 2 });
    expect(submitted.status, JSON.stringify(submitted.json)).toBe(201);
    const id = String(submitted.json['id']);
    const pids = await waitFor(
      () => {
        // host pids: a sandboxed task writes the pids of its own PID namespace
        const l = readTaskPid(join(root, 'leader.pid'));
        const b = readTaskPid(join(root, 'bg.pid'));
        return l && b ? [l, b] : undefined;
      },
      'the task wrote its pids on the worker',
      30_000,
    );
    strays.push(...pids);
    expect(readdirSync(join(whome, 'inflight')).filter((f) => f.endsWith('.json'))).toHaveLength(1);
    await sleep(1500);
    first.kill('SIGKILL');
    await waitFor(() => first.exitCode !== null || first.signalCode !== null, 'worker exited');
    await sleep(1000);
    expect(
      pids.filter((p) => !processGone(p)),
      'task processes alive 1 s after the worker was killed',
    ).toEqual([]);
    await sleep(3000);
    expect(doneLines(), 'the killed attempt wrote its effect').toBe(0);

    const second = startWorker([]);
    await waitFor(() => /connected to .* as worker w-/.test(workerOut) || second.exitCode !== null, 'worker reconnected', 30_000);
    expect(workerOut).toMatch(/previous run stopped with 1 attempt\(s\) in flight/);
    await waitFor(() => h.host.store.getTask(id)?.state === 'succeeded' || second.exitCode !== null, 'task succeeded on the second run', 30_000);
    await sleep(500);
    expect(doneLines()).toBe(1);
    const attempts = h.host.store.attemptsOf(id);
    expect(attempts.map((a) => [a.attempt, a.state])).toEqual([
      [1, 'lost'],
      [2, 'succeeded'],
    ]);
    expect(attempts[0]?.summary).toMatch(/worker lost/);
    expect(attempts[0]?.error_code).toBe('E_LOST');
    expect(workerOut).toContain(`task ${id} attempt 1: reported lost`);
    expect(readdirSync(join(whome, 'inflight')).filter((f) => f.endsWith('.json'))).toEqual([]);
  }, 120_000);
});
