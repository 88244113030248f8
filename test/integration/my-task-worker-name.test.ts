/**
 * "My tasks" names the user's own worker a task ran on (or is queued for),
 * through GET /api/my-sessions, which the LAN app's task card shows ("on
 * ada-laptop"). Another user's worker is never named to a user: not when the
 * other user looks at their own tasks, and not even if an attempt of their
 * task were recorded against a worker that is not theirs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MessageOf } from '../../src/core/protocol.js';
import { generateKeyPair } from '../../src/remote/signing.js';
import { SYSTEM } from '../../src/store/store.js';
import { completedFor } from '../helpers/fake-host.js';
import { waitFor } from '../helpers/proc.js';
import {
  api,
  enrolBody,
  newSession,
  pairingCode,
  RawWorker,
  startRemoteHost,
  stateOf,
  submitTask,
  type RemoteTestHost,
  type Session,
} from '../helpers/remote-host.js';

let h: RemoteTestHost;
let w: RawWorker | null = null;
afterEach(async () => {
  w?.close();
  w = null;
  await h?.close();
});

interface MyTask {
  id: string;
  target: string;
  worker_name: string | null;
}

async function myTasks(s: Session): Promise<{ tasks: MyTask[]; raw: string }> {
  const r = await api(h, s, 'GET', '/api/my-sessions');
  expect(r.status).toBe(200);
  return { tasks: r.json['tasks'] as MyTask[], raw: JSON.stringify(r.json) };
}

/** Enrols a worker named `name` for `s` (what `colony worker` does with the pairing code). */
async function enrolNamed(s: Session, name: string): Promise<{ worker_id: string; keys: ReturnType<typeof generateKeyPair> }> {
  const keys = generateKeyPair();
  const r = await api(h, null, 'POST', '/api/workers/enroll', enrolBody(h, await pairingCode(h, s), keys, { name }));
  expect(r.status, JSON.stringify(r.json)).toBe(201);
  return { worker_id: String(r.json['worker_id']), keys };
}

describe('my tasks name my worker', () => {
  it("shows the name of the user's own worker, and never another user's", { timeout: 30_000 }, async () => {
    h = await startRemoteHost();
    const [ada, bob] = [await newSession(h, 'Ada'), await newSession(h, 'Bob')];
    const laptop = await enrolNamed(ada, 'ada-laptop');
    await enrolNamed(bob, 'bob-desktop');

    // Queued for a named worker of hers: named before it runs.
    const named = submitTask(h, ada.submitter, { prompt: 'true', target: laptop.worker_id, id: 'named' });
    // "Any of my workers": named once it ran on one.
    const any = submitTask(h, ada.submitter, { prompt: 'true', id: 'any' });
    expect((await myTasks(ada)).tasks.find((t) => t.id === named)).toMatchObject({ worker_name: 'ada-laptop' });
    expect((await myTasks(ada)).tasks.find((t) => t.id === any)).toMatchObject({ target: 'own-worker', worker_name: null });

    w = await RawWorker.open(h, laptop);
    for (let i = 0; i < 2; i++) {
      const m = (await w.next('TASK_ASSIGNED')) as MessageOf<'TASK_ASSIGNED'>;
      w.signed({ type: 'TASK_ACCEPTED' as const, task_id: m.task_id, attempt: m.attempt, nonce: m.nonce });
      w.signed(completedFor(m));
    }
    await waitFor(() => stateOf(h, any) === 'succeeded' && stateOf(h, named) === 'succeeded', 'both tasks done', 10_000);
    const mine = await myTasks(ada);
    expect(mine.tasks.find((t) => t.id === any)).toMatchObject({ target: 'own-worker', worker_name: 'ada-laptop' });

    // Bob's side: his own task names his own worker only, and nothing of Ada's worker appears.
    const his = submitTask(h, bob.submitter, { prompt: 'true', id: 'his' });
    // Even an attempt of his task recorded against Ada's worker (the store would allow it) is not named to him.
    h.host.store.startAttempt(his, { engine: 'exec', model: null, worker_id: laptop.worker_id, route_rule: 'test', route_explanation: 'test' }, [], SYSTEM);
    const theirs = await myTasks(bob);
    expect(theirs.tasks.find((t) => t.id === his)).toMatchObject({ worker_name: null });
    expect(theirs.raw).not.toContain('ada-laptop');
    expect(theirs.raw).not.toContain(laptop.worker_id);
  });
});
