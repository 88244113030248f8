/**
 * TaskService + LocalPool on a real SQLite file with the exec engine: order
 * and concurrency, retries, run and wait timeouts, admin overrides while the
 * pool runs, and cancelling a running task (its process group dies with it).
 */
import Database from 'better-sqlite3';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/core/config.js';
import { isColonyError } from '../../src/core/errors.js';
import { parseGraph } from '../../src/core/graph-schema.js';
import { isTerminal, type TaskState } from '../../src/core/task.js';
import type { Engine, EngineEvent } from '../../src/core/engine.js';
import { createExecEngine } from '../../src/engines/exec.js';
import { LocalPool } from '../../src/runner/pool.js';
import { TaskService } from '../../src/runner/service.js';
import { Store, type Actor } from '../../src/store/store.js';
import { killQuietly, makeTempDir, processGone, readTaskPid as readPid, waitFor } from '../helpers/proc.js';
import { realpathSync } from 'node:fs';
import { createSandboxPlanner } from '../../src/safety/os-sandbox/index.js';

// The exec cases run twice: plain, and with every attempt in the OS sandbox (as a host with safety.sandbox on).
const planner = createSandboxPlanner({ safety: defaultConfig().safety, colonyHome: '/nonexistent-colony-home', configFile: null });
let sandboxed = false;

const ADMIN: Actor = { actor: 'admin', origin: 'local' };

interface Rig {
  dir: string;
  store: Store;
  service: TaskService;
  pool: LocalPool;
  /** local id → global id of the last submitted graph */
  id: (local: string) => string;
  submit: (tasks: unknown[]) => void;
  state: (local: string) => TaskState | undefined;
  waitState: (local: string, want: TaskState | ((s: TaskState) => boolean), timeoutMs?: number) => Promise<void>;
  waitAllEnded: (timeoutMs?: number) => Promise<void>;
}

let rig: Rig | null = null;
const strays: number[] = [];
let cleanupDir: (() => void) | null = null;

afterEach(async () => {
  if (rig) {
    rig.pool.cancelAll('test over');
    await rig.pool.stop();
    rig.store.close();
    rig = null;
  }
  while (strays.length) killQuietly(strays.pop());
  cleanupDir?.();
  cleanupDir = null;
});

function makeRig(concurrency: number, engine?: Engine): Rig {
  const tmp = makeTempDir('colony-pool-');
  cleanupDir = tmp.cleanup;
  const store = Store.open(join(tmp.dir, 'colony.db'));
  const service = new TaskService(store, defaultConfig());
  const exec = engine ?? createExecEngine({ killGraceMs: 300 });
  const pool = new LocalPool({
    service,
    concurrency,
    route: () => ({ engine: exec, model: null, rule: 'test', explanation: `${exec.name} for every task` }),
    sandboxFor: sandboxed
      ? (task, engine, ws) => planner.planFor({ taskId: task.id, engine, workspace: realpathSync(ws), env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } })
      : undefined,
    envFor: sandboxed ? () => ({ PATH: process.env['PATH'] ?? '/usr/bin:/bin' }) : undefined,
  });
  let graphId = '';
  const r: Rig = {
    dir: tmp.dir,
    store,
    service,
    pool,
    id: (local) => `${graphId}:${local}`,
    submit: (tasks) => {
      const res = service.submitGraph(parseGraph({ name: 'pool-test', tasks }), {
        submittedBy: 'admin',
        who: ADMIN,
        workspace: tmp.dir,
        defaultTarget: 'host',
        holdHostTasks: false,
      });
      graphId = res.graph_id;
    },
    state: (local) => service.stateOf(r.id(local)),
    waitState: async (local, want, timeoutMs = 20_000) => {
      const ok = typeof want === 'function' ? want : (s: TaskState) => s === want;
      await waitFor(
        () => {
          const s = r.state(local);
          return s !== undefined && ok(s);
        },
        `${local} to reach ${typeof want === 'function' ? 'the wanted state' : want} (now ${String(r.state(local))})`,
        timeoutMs,
      );
    },
    waitAllEnded: async (timeoutMs = 20_000) => {
      await waitFor(() => store.listTasks({ graph_id: graphId }).every((t) => isTerminal(t.state)) && pool.busy() === 0, 'every task to end', timeoutMs);
    },
  };
  rig = r;
  return r;
}

/** A shell command that records its start and end in log.txt around a short sleep. */
const logged = (name: string, secs: number): string => `echo "start ${name}" >> log.txt; sleep ${secs}; echo "end ${name}" >> log.txt`;
/** Blocks until the file `name` exists in the workspace. */
const blockUntil = (name: string): string => `while [ ! -f ${name} ]; do sleep 0.05; done`;

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return isColonyError(e) ? e.code : String(e);
  }
  return 'no error';
}

describe.each([
  ['plain', false],
  ['sandboxed', true],
] as const)('LocalPool with the exec engine (%s)', (_mode, inSandbox) => {
  beforeEach(() => {
    sandboxed = inSandbox;
  });

  it('runs a diamond in dependency order with at most 2 tasks at a time', async () => {
    const r = makeRig(2);
    r.submit([
      { id: 'a', engine: 'exec', prompt: logged('a', 0.2) },
      // Siblings sleep long enough that the two started together surely overlap, even on a busy box.
      { id: 'b', engine: 'exec', prompt: logged('b', 0.6), depends_on: ['a'] },
      { id: 'c', engine: 'exec', prompt: logged('c', 0.6), depends_on: ['a'] },
      { id: 'e', engine: 'exec', prompt: logged('e', 0.6), depends_on: ['a'] },
      { id: 'd', engine: 'exec', prompt: logged('d', 0.2), depends_on: ['b', 'c', 'e'] },
    ]);
    r.pool.start();
    await r.waitAllEnded();

    for (const t of ['a', 'b', 'c', 'd', 'e']) expect(r.state(t)).toBe('succeeded');
    const lines = readFileSync(join(r.dir, 'log.txt'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(10);
    const at = (line: string): number => lines.indexOf(line);
    for (const mid of ['b', 'c', 'e']) {
      expect(at(`start ${mid}`)).toBeGreaterThan(at('end a'));
      expect(at('start d')).toBeGreaterThan(at(`end ${mid}`));
    }
    let running = 0;
    let peak = 0;
    for (const l of lines) {
      running += l.startsWith('start') ? 1 : -1;
      peak = Math.max(peak, running);
    }
    expect(peak).toBe(2); // siblings overlapped, but never 3 at once
    expect(r.store.verifyAudit().ok).toBe(true);
  });

  it('retries a failing command up to max_attempts and records every attempt', async () => {
    const r = makeRig(2);
    // Fails on its first two runs, succeeds on the third (the counter file survives between attempts).
    const flaky = 'n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; echo "run $n"; [ $n -ge 3 ]';
    r.submit([{ id: 'flaky', engine: 'exec', prompt: flaky, max_attempts: 3 }]);
    r.pool.start();
    await r.waitAllEnded();

    const t = r.store.getTask(r.id('flaky'));
    expect(t).toMatchObject({ state: 'succeeded', attempt: 3 });
    expect(r.store.attemptsOf(r.id('flaky')).map((a) => [a.attempt, a.state, a.error_code])).toEqual([
      [1, 'failed', 'E_ENGINE'],
      [2, 'failed', 'E_ENGINE'],
      [3, 'succeeded', null],
    ]);
    expect(readFileSync(join(r.dir, 'count'), 'utf8').trim()).toBe('3');
    expect(
      r.store
        .outputOf(r.id('flaky'), { attempt: 2 })
        .map((o) => o.text)
        .join(''),
    ).toBe('run 2\n');
  });

  it('gives up after max_attempts and fails the task', async () => {
    const r = makeRig(1);
    r.submit([
      { id: 'bad', engine: 'exec', prompt: 'echo x >> tries; exit 7', max_attempts: 2 },
      { id: 'after', engine: 'exec', prompt: 'true', depends_on: ['bad'] },
    ]);
    r.pool.start();
    await r.waitAllEnded();
    expect(r.store.getTask(r.id('bad'))).toMatchObject({ state: 'failed', attempt: 2, state_reason: 'E_ENGINE: exit 7' });
    expect(r.state('after')).toBe('upstream_failed');
    expect(readFileSync(join(r.dir, 'tries'), 'utf8')).toBe('x\nx\n');
  });

  it('kills a task at run_timeout_s and marks it timed_out', async () => {
    const r = makeRig(1);
    r.submit([{ id: 'slow', engine: 'exec', prompt: 'sleep 30 & echo $! > slow.pid; wait', run_timeout_s: 0.5 }]);
    const t0 = Date.now();
    r.pool.start();
    const pid = await waitFor(() => readPid(join(r.dir, 'slow.pid')), 'slow.pid');
    strays.push(pid);
    await r.waitState('slow', 'timed_out');
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(r.store.getTask(r.id('slow'))?.state_reason).toMatch(/^E_TIMEOUT/);
    expect(r.store.attemptsOf(r.id('slow'))[0]).toMatchObject({ state: 'timed_out', error_code: 'E_TIMEOUT' });
    await waitFor(() => processGone(pid), `the timed-out process ${pid} to be gone`, 10_000);
  });

  it('fails a task whose dependency is still running at its wait_timeout_s', async () => {
    const r = makeRig(2);
    r.submit([
      { id: 'dep', engine: 'exec', prompt: blockUntil('release') },
      { id: 'w', engine: 'exec', prompt: 'echo ran > w.txt', depends_on: ['dep'], wait_timeout_s: 0.5 },
      { id: 'after', engine: 'exec', prompt: 'true', depends_on: ['w'] },
    ]);
    r.pool.start();
    await r.waitState('dep', 'running');
    await r.waitState('w', 'failed');
    expect(r.store.getTask(r.id('w'))).toMatchObject({ state: 'failed', state_reason: 'wait_timeout', attempt: 0 });
    expect(r.state('after')).toBe('upstream_failed');
    expect(r.state('dep')).toBe('running');

    writeFileSync(join(r.dir, 'release'), '');
    await r.waitAllEnded();
    expect(r.state('dep')).toBe('succeeded');
    expect(r.state('w')).toBe('failed'); // a late dependency does not revive it
    expect(() => readFileSync(join(r.dir, 'w.txt'))).toThrow();
  });

  it('cancels a running task through the pool and kills its process group', async () => {
    const r = makeRig(2);
    r.submit([
      { id: 'long', engine: 'exec', prompt: 'sleep 30 & echo $! > long.pid; wait' },
      { id: 'next', engine: 'exec', prompt: 'true', depends_on: ['long'] },
    ]);
    r.pool.start();
    const pid = await waitFor(() => readPid(join(r.dir, 'long.pid')), 'long.pid');
    strays.push(pid);
    await r.waitState('long', 'running');
    expect(r.pool.cancel(r.id('long'), 'cancelled by test')).toBe(true);
    await r.waitState('long', 'cancelled');
    expect(r.store.getTask(r.id('long'))?.state_reason).toBe('cancelled by test');
    expect(r.store.attemptsOf(r.id('long'))[0]).toMatchObject({ state: 'cancelled', error_code: 'E_CANCELLED' });
    expect(r.state('next')).toBe('upstream_failed');
    await waitFor(() => processGone(pid), `the cancelled process ${pid} to be gone`, 10_000);
    expect(r.pool.cancel(r.id('long'), 'again')).toBe(false); // no longer running
  });
});

describe('admin overrides through TaskService while the pool runs', () => {
  it('force-runs a task whose dependency has not finished', async () => {
    const r = makeRig(2);
    r.submit([
      { id: 'gate', engine: 'exec', prompt: blockUntil('go') },
      { id: 'forced', engine: 'exec', prompt: 'echo forced >> log.txt', depends_on: ['gate'] },
    ]);
    r.pool.start();
    await r.waitState('gate', 'running');
    expect(r.state('forced')).toBe('waiting');
    const trs = r.service.forceRun(r.id('forced'), ADMIN);
    expect(trs.map((t) => t.to)).toEqual(['ready']);
    await r.waitState('forced', 'succeeded');
    expect(r.state('gate')).toBe('running'); // it really ran before its dependency ended
    expect(r.store.listAudit({ target: r.id('forced'), action: 'task.transition' }).some((a) => a.actor === 'admin')).toBe(true);
    writeFileSync(join(r.dir, 'go'), '');
    await r.waitAllEnded();
    expect(readFileSync(join(r.dir, 'log.txt'), 'utf8')).toBe('forced\n'); // ran once, not again after gate
  });

  it('skips a waiting task and lets its dependents run', async () => {
    const r = makeRig(2);
    r.submit([
      { id: 'gate', engine: 'exec', prompt: blockUntil('go') },
      { id: 'skipme', engine: 'exec', prompt: 'echo skipme >> log.txt', depends_on: ['gate'] },
      { id: 'after', engine: 'exec', prompt: 'echo after >> log.txt', depends_on: ['skipme'] },
    ]);
    r.pool.start();
    await r.waitState('gate', 'running');
    expect(r.service.skip(r.id('skipme'), ADMIN).map((t) => `${t.id.split(':')[1]}:${t.to}`)).toEqual(['skipme:skipped', 'after:ready']);
    await r.waitState('after', 'succeeded');
    writeFileSync(join(r.dir, 'go'), '');
    await r.waitAllEnded();
    expect(r.state('skipme')).toBe('skipped');
    expect(readFileSync(join(r.dir, 'log.txt'), 'utf8')).toBe('after\n');
  });

  it('drops an edge so a task no longer waits for that dependency', async () => {
    const r = makeRig(2);
    r.submit([
      { id: 'gate', engine: 'exec', prompt: blockUntil('go') },
      { id: 'quick', engine: 'exec', prompt: 'true' },
      { id: 'both', engine: 'exec', prompt: 'echo both >> log.txt', depends_on: ['gate', 'quick'] },
    ]);
    r.pool.start();
    await r.waitState('quick', 'succeeded');
    await r.waitState('gate', 'running');
    expect(r.state('both')).toBe('waiting');
    r.service.dropEdge(r.id('both'), r.id('gate'), ADMIN);
    await r.waitState('both', 'succeeded');
    expect(r.state('gate')).toBe('running');
    expect(r.store.getTask(r.id('both'))?.depends_on).toEqual([r.id('quick')]);
    expect(r.store.listAudit({ action: 'task.drop_edge' })[0]).toMatchObject({ actor: 'admin', target: r.id('both'), detail: { depends_on: r.id('gate') } });
    writeFileSync(join(r.dir, 'go'), '');
    await r.waitAllEnded();
  });

  it('retries a failed task and re-opens its upstream_failed dependents', async () => {
    const r = makeRig(2);
    r.submit([
      { id: 'check', engine: 'exec', prompt: 'test -f fixed' },
      { id: 'mid', engine: 'exec', prompt: 'echo mid >> log.txt', depends_on: ['check'] },
      { id: 'last', engine: 'exec', prompt: 'echo last >> log.txt', depends_on: ['mid'] },
    ]);
    r.pool.start();
    await r.waitAllEnded();
    expect([r.state('check'), r.state('mid'), r.state('last')]).toEqual(['failed', 'upstream_failed', 'upstream_failed']);
    expect(codeOf(() => r.service.retry(r.id('mid'), ADMIN))).toBe('E_INVALID_TRANSITION'); // only failed/timed_out/cancelled

    writeFileSync(join(r.dir, 'fixed'), '');
    const trs = r.service.retry(r.id('check'), ADMIN);
    expect(
      trs
        .filter((t) => t.to === 'waiting')
        .map((t) => t.id.split(':')[1])
        .sort(),
    ).toEqual(['check', 'last', 'mid']);
    await r.waitState('last', 'succeeded');
    await r.waitAllEnded();
    expect(r.store.getTask(r.id('check'))).toMatchObject({ state: 'succeeded', attempt: 2 });
    expect(readFileSync(join(r.dir, 'log.txt'), 'utf8')).toBe('mid\nlast\n');
  });

  it('cancels a pending task, failing its dependents upstream, and refuses to cancel an ended one', async () => {
    const r = makeRig(2);
    r.submit([
      { id: 'gate', engine: 'exec', prompt: blockUntil('go') },
      { id: 'victim', engine: 'exec', prompt: 'echo victim >> log.txt', depends_on: ['gate'] },
      { id: 'child', engine: 'exec', prompt: 'echo child >> log.txt', depends_on: ['victim'] },
      { id: 'sibling', engine: 'exec', prompt: 'echo sibling >> log.txt', depends_on: ['gate'] },
    ]);
    r.pool.start();
    await r.waitState('gate', 'running');
    expect(r.service.cancelPending(r.id('victim'), ADMIN).map((t) => `${t.id.split(':')[1]}:${t.to}`)).toEqual(['victim:cancelled', 'child:upstream_failed']);
    expect(codeOf(() => r.service.cancelPending(r.id('victim'), ADMIN))).toBe('E_INVALID_TRANSITION');
    writeFileSync(join(r.dir, 'go'), '');
    await r.waitAllEnded();
    expect([r.state('gate'), r.state('victim'), r.state('child'), r.state('sibling')]).toEqual(['succeeded', 'cancelled', 'upstream_failed', 'succeeded']);
    expect(readFileSync(join(r.dir, 'log.txt'), 'utf8')).toBe('sibling\n');
    expect(r.store.getTask(r.id('victim'))?.state_reason).toBe('cancelled by admin');
  });

  it('writes a refused result once the store takes writes again, after a resync, and one stuck result does not hold back the others', async () => {
    const r = makeRig(2);
    r.submit([
      { id: 'first', engine: 'exec', prompt: 'echo first > first.txt', max_attempts: 1 },
      { id: 'second', engine: 'exec', prompt: 'sleep 0.3; echo second > second.txt', max_attempts: 1 },
    ]);
    // A second connection refuses closing the attempts of these two tasks (a real SQLite error → E_STORE).
    const side = new Database(join(r.dir, 'colony.db'));
    const refuse = (local: string): void => {
      side.exec(
        `CREATE TRIGGER refuse_${local} BEFORE UPDATE OF finished_at ON attempts WHEN NEW.task_id = '${r.id(local)}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`,
      );
    };
    refuse('first');
    refuse('second');
    try {
      r.pool.start();
      // Both commands ran and both slots are free again: their results were refused and kept for later.
      await waitFor(() => existsSync(join(r.dir, 'first.txt')) && existsSync(join(r.dir, 'second.txt')) && r.pool.busy() === 0, 'both commands to run');
      expect(r.store.getTask(r.id('first'))?.state).toBe('running');
      r.service.resync(); // e.g. another write failed meanwhile: the scheduler is rebuilt from the store
      side.exec('DROP TRIGGER refuse_second'); // 'first' is still refused, and was refused first
      await waitFor(() => r.store.getTask(r.id('second'))?.state === 'succeeded', 'second to be recorded although first is still refused', 5_000);
      expect(r.store.getTask(r.id('first'))?.state).toBe('running');
      side.exec('DROP TRIGGER refuse_first');
      await waitFor(() => r.store.getTask(r.id('first'))?.state === 'succeeded', 'first to be recorded once writes go through', 5_000);
      expect(r.store.attemptsOf(r.id('first'))).toMatchObject([{ attempt: 1, state: 'succeeded' }]);
    } finally {
      side.close();
    }
  });

  it('stops an attempt that spends anything of a zero budget, and of what earlier attempts left (one budget for all attempts)', async () => {
    let stopped = 0;
    const paid: Engine = {
      name: 'paid',
      async *run(req): AsyncGenerator<EngineEvent> {
        for (let i = 1; i <= 100; i++) {
          if (req.signal.aborted) {
            stopped++;
            yield { type: 'done', ok: false, summary: 'aborted', error_code: 'E_CANCELLED' };
            return;
          }
          yield { type: 'cost', usd: i * 0.01, source: 'reported' };
          await new Promise((r) => setTimeout(r, 5));
        }
        yield { type: 'done', ok: false, summary: 'spent $1 and failed', error_code: 'E_ENGINE' };
      },
    };
    const r = makeRig(2, paid);
    r.submit([
      { id: 'zero', engine: 'exec', prompt: 'x', budget_usd: 0 },
      { id: 'shared', engine: 'exec', prompt: 'x', budget_usd: 0.05, max_attempts: 3 },
    ]);
    r.pool.start();
    await r.waitAllEnded();
    expect(r.store.getTask(r.id('zero'))).toMatchObject({ state: 'failed', attempt: 1, state_reason: expect.stringContaining('budget') });
    expect(r.store.attemptsOf(r.id('zero'))[0]).toMatchObject({ error_code: 'E_BUDGET', cost_usd: 0.01 });
    // The first attempt spends the task's whole budget: it is stopped and not retried, although max_attempts is 3.
    expect(r.store.getTask(r.id('shared'))).toMatchObject({ state: 'failed', attempt: 1 });
    expect(r.store.getTask(r.id('shared'))?.cost_usd).toBeCloseTo(0.05, 6);
    expect(stopped).toBe(2);
  });
});
