/**
 * What one attempt costs (issue 24), through the real `colony run`:
 * - a sandboxed attempt is spawned as bubblewrap itself (no setpriv, no
 *   attempt cgroup: `--die-with-parent` and its PID namespace contain it),
 *   and a daemon it leaves in a session of its own still does not outlive it;
 * - the unsandboxed path keeps the lifecycle wrapper;
 * - COLONY_TRACE_ATTEMPT=1 prints the per-phase table, one sample per attempt.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { attemptCgroupBase, endAttemptCgroup, makeAttemptCgroup, pooledAttemptCgroups, pruneEmptyAttemptCgroups } from '../../src/engines/attempt-cgroup.js';
import { boundSpawn, releaseBound } from '../../src/engines/lifecycle.js';
import { assertBuilt, runCli, startCli } from '../helpers/cli.js';
import { killQuietly, makeTempDir, processGone, readTaskPid, waitFor } from '../helpers/proc.js';

const tmp = makeTempDir('colony-attempt-cost-');
const strays: number[] = [];
afterAll(() => {
  for (const p of strays) killQuietly(p);
  tmp.cleanup();
});

let n = 0;
function setup(tasks: { id: string; engine: string; prompt: string }[], config?: unknown): { ws: string; home: string; graph: string; args: string[] } {
  const ws = join(tmp.dir, `ws${n++}`);
  mkdirSync(ws);
  const graph = join(ws, 'graph.json');
  writeFileSync(graph, JSON.stringify({ name: 'attempt-cost', tasks }));
  const args = ['run', graph, '--home', join(ws, 'home')];
  if (config) {
    writeFileSync(join(ws, 'colony.json'), JSON.stringify(config));
    args.push('--config', join(ws, 'colony.json'));
  }
  return { ws, home: join(ws, 'home'), graph, args };
}

describe('a sandboxed attempt without the lifecycle wrapper', () => {
  it('a setsid daemon left by a task that succeeded is gone once the attempt ended (the PID namespace ends it)', async () => {
    assertBuilt();
    const task = 'setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $! > daemon.pid; while [ ! -e go ]; do sleep 0.05; done; echo finished';
    const { ws, args } = setup([{ id: 'd', engine: 'exec', prompt: task }]);
    const run = startCli(args, { cwd: ws, timeoutMs: 60_000 });
    const daemon = await waitFor(() => readTaskPid(join(ws, 'daemon.pid')), 'the task wrote its daemon pid', 30_000);
    strays.push(daemon);
    expect(processGone(daemon)).toBe(false);
    writeFileSync(join(ws, 'go'), '');
    const r = await run.result;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await waitFor(() => processGone(daemon), 'the daemon ended with its attempt', 3000);
  }, 90_000);

  it('the wrapper stays for an unsandboxed spawn, and is left out only for a contained one', () => {
    const plain = boundSpawn('true', [], tmp.dir, { PATH: process.env['PATH'] ?? '/usr/bin:/bin' }, 'cost-test');
    const contained = boundSpawn('true', [], tmp.dir, { PATH: process.env['PATH'] ?? '/usr/bin:/bin' }, 'cost-test', true);
    if ('error' in plain || 'error' in contained) throw new Error('true not found');
    expect(contained.command).toMatch(/\/true$/);
    expect(contained.cgroup).toBeNull();
    expect(contained.env['COLONY_ATTEMPT_TAG']).toMatch(/^[0-9a-f]{24}$/);
    expect(plain.command).toMatch(/setpriv$/); // util-linux is installed on this project's machines
    releaseBound(plain, 'quick');
    releaseBound(contained, 'quick');
  });
});

describe('attempt cgroups (sandbox off)', () => {
  it('an emptied one is reused by the next attempt instead of a mkdir/rmdir per attempt', async () => {
    const first = makeAttemptCgroup('reuse-test');
    if (!attemptCgroupBase()) return expect(first).toBeNull(); // no cgroup v2 here: nothing is made
    const before = pooledAttemptCgroups();
    const p = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    strays.push(p.pid as number);
    writeFileSync(join(first as string, 'cgroup.procs'), String(p.pid));
    endAttemptCgroup(first); // kills what is in it, then pools it once empty
    await waitFor(() => pooledAttemptCgroups() === before + 1, 'the cgroup went back to the pool');
    expect(processGone(p.pid as number)).toBe(true);
    expect(makeAttemptCgroup('reuse-test-2')).toBe(first);
    endAttemptCgroup(first);
  });

  it("another live colony process's pooled cgroups are not pruned; a dead one's are", async () => {
    const base = attemptCgroupBase();
    if (!base) return expect(pruneEmptyAttemptCgroups()).toBe(0);
    const other = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    strays.push(other.pid as number);
    const dir = join(base, `p${other.pid}-1.prune-pool-test`);
    mkdirSync(dir);
    const mine = (name: string): boolean => name.includes('prune-pool-test');
    expect(pruneEmptyAttemptCgroups(60_000, Date.now() + 120_000, mine)).toBe(0);
    expect(existsSync(dir)).toBe(true);
    const reaped = new Promise((r) => other.once('exit', r));
    other.kill('SIGKILL');
    await reaped; // reaped, not only dead: a zombie still answers kill(pid, 0), so its pool would still count as live
    expect(pruneEmptyAttemptCgroups(60_000, Date.now() + 120_000, mine)).toBe(1);
    expect(existsSync(dir)).toBe(false);
  });
});

describe('COLONY_TRACE_ATTEMPT=1', () => {
  it('prints one sample per attempt for every phase, and nothing without it', async () => {
    assertBuilt();
    const tasks = [0, 1, 2].map((i) => ({ id: `t${i}`, engine: 'exec', prompt: 'true' }));
    const traced = setup(tasks, { safety: { sandbox: false } });
    const r = await runCli(traced.args, { cwd: traced.ws, env: { COLONY_TRACE_ATTEMPT: '1' }, timeoutMs: 60_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toContain('[colony attempt trace]');
    for (const phase of ['screen', 'prepare', 'start', 'wrap', 'spawn', 'run', 'collect', 'settle']) {
      expect(r.stderr, phase).toMatch(new RegExp(`^${phase} +3 `, 'm'));
    }
    const quiet = setup(tasks, { safety: { sandbox: false } });
    const q = await runCli(quiet.args, { cwd: quiet.ws, timeoutMs: 60_000 });
    expect(q.code).toBe(0);
    expect(q.stderr).not.toContain('attempt trace');
  }, 120_000);
});
