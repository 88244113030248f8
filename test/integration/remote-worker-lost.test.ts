/**
 * A worker that restarts after a crash reports the attempts it lost
 * (TASK_FAILED, error_code E_WORKER_LOST, answering the assignment's nonce),
 * and the host's fencing still holds afterwards: the attempt is closed as
 * lost (its cost so far kept), the task is offered again as the next attempt,
 * and any later result for the attempt the host gave up on is refused as
 * stale and changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageOf } from '../../src/core/protocol.js';
import { waitFor } from '../helpers/proc.js';
import { enrolKey, newSession, RawWorker, startRemoteHost, stateOf, submitTask, type RemoteTestHost, type Session } from '../helpers/remote-host.js';

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
    const id = submitTask(h, ada.submitter, { prompt: 'true', target: w.id.worker_id, id: 'lost1', max_attempts: 1 });
    const m = (await w.next((x) => x.type === 'TASK_ASSIGNED' && x.task_id === id)) as MessageOf<'TASK_ASSIGNED'>;
    w.signed({ type: 'TASK_ACCEPTED' as const, task_id: id, attempt: m.attempt, nonce: m.nonce });
    w.signed({ type: 'TASK_PROGRESS' as const, task_id: id, attempt: m.attempt, seq: 0, status: 'running' as const, output: 'half way\n', cost: 0.02, engine_used: 'exec', model_used: null, tokens: ZERO, nonce: m.nonce });
    await waitFor(() => stateOf(h, id) === 'running' && h.host.store.outputOf(id).length === 1, 'running with progress', 3000);

    // What `colony worker` sends after a restart (worker-messages.ts lostMessage).
    w.signed({
      type: 'TASK_FAILED' as const, task_id: id, attempt: m.attempt, cost: 0, engine_used: 'exec', model_used: null, tokens: ZERO, nonce: m.nonce,
      error: 'worker lost: the worker stopped (crash or kill) while this attempt ran; its processes were ended when it started again', error_code: 'E_WORKER_LOST',
    });
    const again = (await w.next((x) => x.type === 'TASK_ASSIGNED' && x.task_id === id, 5000)) as MessageOf<'TASK_ASSIGNED'>;
    expect(again.attempt).toBe(m.attempt + 1); // lost: not the task's fault, retried although max_attempts is 1
    const first = h.host.store.attemptsOf(id)[0];
    expect(first).toMatchObject({ attempt: 1, state: 'lost', error_code: 'E_WORKER_LOST', cost_usd: 0.02 });
    expect(first?.summary).toMatch(/^worker lost/);

    // The attempt the host gave up on can no longer complete, whatever it sends.
    const before = JSON.stringify(h.host.store.attemptsOf(id));
    w.signed({ type: 'TASK_COMPLETED' as const, task_id: id, attempt: m.attempt, cost: 0, engine_used: 'exec', model_used: null, tokens: ZERO, nonce: m.nonce, summary: 'done after all' });
    expect(await w.error()).toMatchObject({ code: 'stale_attempt' });
    expect(JSON.stringify(h.host.store.attemptsOf(id))).toBe(before);
    expect(stateOf(h, id)).toBe('assigned');

    // The new attempt completes normally.
    w.signed({ type: 'TASK_ACCEPTED' as const, task_id: id, attempt: again.attempt, nonce: again.nonce });
    w.signed({ type: 'TASK_COMPLETED' as const, task_id: id, attempt: again.attempt, cost: 0, engine_used: 'exec', model_used: null, tokens: ZERO, nonce: again.nonce, summary: 'ok' });
    await waitFor(() => stateOf(h, id) === 'succeeded', 'second attempt succeeded', 3000);
    expect(h.host.store.attemptsOf(id).map((a) => a.state)).toEqual(['lost', 'succeeded']);
  });
});
