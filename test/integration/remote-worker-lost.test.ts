/**
 * A worker that restarts after a crash reports the attempts it lost
 * (TASK_FAILED, error_code E_LOST, answering the assignment's nonce),
 * and the host's fencing still holds afterwards: the attempt is closed as
 * lost (its cost so far kept), the task is offered again as the next attempt,
 * and any later result for the attempt the host gave up on is refused as
 * stale and changes nothing.
 * After a host restart, a task whose remote attempt was lost is not offered
 * to another worker while the first one may still be running it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageOf } from '../../src/core/protocol.js';
import { processGone, waitFor } from '../helpers/proc.js';
import {
  enrolKey,
  newSession,
  RawWorker,
  startAgent,
  startRemoteHost,
  stateOf,
  submitTask,
  type RemoteTestHost,
  type Session,
  type TestAgent,
} from '../helpers/remote-host.js';

let h: RemoteTestHost;
let ada: Session;
let w: RawWorker;

beforeAll(async () => {
  h = await startRemoteHost();
  ada = await newSession(h, 'Ada');
  w = await RawWorker.open(h, await enrolKey(h, ada));
});
afterAll(async () => {
  w?.close();
  await h?.close();
});

const ZERO = { input: 0, output: 0, cache_read: 0, cache_write: 0 };

describe('a restarted worker reports an attempt it lost', () => {
  it('the attempt is closed as lost (worker lost), the task runs again, and a late result for the lost attempt is refused', async () => {
    const id = submitTask(h, ada.submitter, { prompt: 'true', target: w.id.worker_id, id: 'lost1', max_attempts: 2 });
    const m = (await w.next((x) => x.type === 'TASK_ASSIGNED' && x.task_id === id)) as MessageOf<'TASK_ASSIGNED'>;
    w.signed({ type: 'TASK_ACCEPTED' as const, task_id: id, attempt: m.attempt, nonce: m.nonce });
    w.signed({
      type: 'TASK_PROGRESS' as const,
      task_id: id,
      attempt: m.attempt,
      seq: 0,
      status: 'running' as const,
      output: 'half way\n',
      cost: 0.02,
      engine_used: 'exec',
      model_used: null,
      tokens: ZERO,
      nonce: m.nonce,
    });
    await waitFor(() => stateOf(h, id) === 'running' && h.host.store.outputOf(id).length === 1, 'running with progress', 3000);

    // What `colony worker` sends after a restart (worker-messages.ts lostMessage).
    w.signed({
      type: 'TASK_FAILED' as const,
      task_id: id,
      attempt: m.attempt,
      cost: 0,
      engine_used: 'exec',
      model_used: null,
      tokens: ZERO,
      nonce: m.nonce,
      error: 'worker lost: the worker stopped (crash or kill) while this attempt ran; its processes were ended when it started again',
      error_code: 'E_LOST',
    });
    const again = (await w.next((x) => x.type === 'TASK_ASSIGNED' && x.task_id === id, 5000)) as MessageOf<'TASK_ASSIGNED'>;
    expect(again.attempt).toBe(m.attempt + 1); // lost: counted, and retried while attempts remain
    const first = h.host.store.attemptsOf(id)[0];
    expect(first).toMatchObject({ attempt: 1, state: 'lost', error_code: 'E_LOST', cost_usd: 0.02 });
    expect(first?.summary).toMatch(/^worker lost/);

    // The attempt the host gave up on can no longer complete, whatever it sends.
    const before = JSON.stringify(h.host.store.attemptsOf(id));
    w.signed({
      type: 'TASK_COMPLETED' as const,
      task_id: id,
      attempt: m.attempt,
      cost: 0,
      engine_used: 'exec',
      model_used: null,
      tokens: ZERO,
      nonce: m.nonce,
      summary: 'done after all',
    });
    expect(await w.error()).toMatchObject({ code: 'stale_attempt' });
    expect(JSON.stringify(h.host.store.attemptsOf(id))).toBe(before);
    expect(stateOf(h, id)).toBe('assigned');

    // The new attempt completes normally.
    w.signed({ type: 'TASK_ACCEPTED' as const, task_id: id, attempt: again.attempt, nonce: again.nonce });
    w.signed({
      type: 'TASK_COMPLETED' as const,
      task_id: id,
      attempt: again.attempt,
      cost: 0,
      engine_used: 'exec',
      model_used: null,
      tokens: ZERO,
      nonce: again.nonce,
      summary: 'ok',
    });
    await waitFor(() => stateOf(h, id) === 'succeeded', 'second attempt succeeded', 3000);
    expect(h.host.store.attemptsOf(id).map((a) => a.state)).toEqual(['lost', 'succeeded']);
  });
});

describe('a host restart while a remote attempt runs', () => {
  it('the task is not offered to another worker until the first worker has stopped the attempt the host gave up on', async () => {
    const h2 = await startRemoteHost(); // FAST: 3 s leases, 300 ms heartbeats
    const agents: TestAgent[] = [];
    try {
      const bea = await newSession(h2, 'Bea');
      // A reconnects slowly after the restart; B is connected the whole time.
      const a = await startAgent(h2, bea, { backoff: { initialMs: 2500, maxMs: 2500 }, name: 'slow-a' });
      agents.push(a);
      const log = join(h2.home.dir, 'runs.log');
      const id = submitTask(h2, bea.submitter, { prompt: `echo "start $$" >> ${log}; sleep 4; echo "end $$" >> ${log}`, max_attempts: 2 });
      await waitFor(() => existsSync(log), 'attempt 1 started on A', 10_000);
      const pid1 = Number(/start (\d+)/.exec(readFileSync(log, 'utf8'))?.[1]);
      await h2.restart();
      const b = await startAgent(h2, bea, { name: 'fast-b' });
      agents.push(b);
      // Attempt 2 starts only once attempt 1's shell is gone.
      await waitFor(
        () =>
          readFileSync(log, 'utf8')
            .split('\n')
            .filter((l) => l.startsWith('start')).length === 2,
        'attempt 2 started',
        20_000,
      );
      expect(processGone(pid1), 'attempt 1 still running when attempt 2 started').toBe(true);
      await waitFor(() => stateOf(h2, id) === 'succeeded', 'succeeded', 20_000);
      const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
      expect(lines.filter((l) => l.startsWith('end'))).toHaveLength(1); // attempt 1 never finished
      expect(h2.host.store.attemptsOf(id).map((x) => x.state)).toEqual(['lost', 'succeeded']);
    } finally {
      for (const x of agents) await x.stop();
      await h2.close();
    }
  }, 60_000);
});
