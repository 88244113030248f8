/**
 * Revoke means revoke (issue 14), from the revoked person's side: after the
 * admin revokes a session, its workers are revoked and cut off at once (what
 * they send is not acted on, their reconnection is refused), and depending on
 * the admin's choice the person cannot come back with a new session from the
 * same browser (device cookie) or address, nor pair again. Next to it: what
 * the admin did not ban still works.
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../src/remote/signing.js';
import { waitFor } from '../helpers/proc.js';
import {
  api,
  audits,
  enrolBody,
  enrolKey,
  pairingCode,
  RawWorker,
  startAgent,
  startRemoteHost,
  type RemoteTestHost,
  type Session,
  type TestAgent,
} from '../helpers/remote-host.js';

let h: RemoteTestHost;
const agents: TestAgent[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop();
  await h?.close();
});

interface Browser {
  ip: string;
  cookies: Record<string, string>;
}

const header = (b: Browser) =>
  Object.entries(b.cookies)
    .map(([k, v]) => `${k}=${v}`)
    .join('; ');

async function inject(b: Browser, method: 'GET' | 'POST', url: string, payload?: object): Promise<LightMyRequestResponse> {
  const r = await h.user.inject({ method, url, remoteAddress: b.ip, headers: { cookie: header(b) }, ...(payload ? { payload } : {}) });
  for (const c of r.cookies) b.cookies[c.name] = c.value;
  return r;
}

/** A browser at `ip` opens a session; returns it with the helpers' Session shape. */
async function visit(b: Browser, name: string): Promise<{ r: LightMyRequestResponse; session: Session | null }> {
  const r = await inject(b, 'POST', '/api/session', { display_name: name });
  if (r.statusCode !== 201 && r.statusCode !== 200) return { r, session: null };
  const userId = (r.json() as { session: { user_id: string } }).session.user_id;
  return { r, session: { cookie: `colony_session=${b.cookies['colony_session']}`, userId, submitter: `session:${userId}` } };
}

function revoke(userId: string, ban?: string[]): Promise<LightMyRequestResponse> {
  return h.admin.inject({
    method: 'POST',
    url: `/admin/sessions/${userId}/revoke`,
    remoteAddress: '127.0.0.1',
    headers: { host: '127.0.0.1:8080', authorization: `Bearer ${h.ctx.adminToken}` },
    ...(ban ? { payload: { ban } } : {}),
  });
}

describe('revoke, then return', () => {
  it('with every ban: workers cut off at once, and neither that browser nor that address gets a new session; pairing codes are void', async () => {
    h = await startRemoteHost();
    const laptop: Browser = { ip: '10.0.0.5', cookies: {} };
    const { session: ada } = await visit(laptop, 'Ada');
    if (!ada) throw new Error('no session');
    expect(laptop.cookies['colony_device']).toBeTruthy();
    const agent = await startAgent(h, ada);
    agents.push(agent);
    const rawId = await enrolKey(h, ada);
    const raw = await RawWorker.open(h, rawId);
    const unused = await pairingCode(h, ada);

    const r = await revoke(ada.userId, ['browser', 'address', 'pairing']);
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toMatchObject({ session: { revoked: true }, banned: ['device', 'address', 'pairing', 'pairing'] });
    expect((r.json() as { workers_revoked: string[] }).workers_revoked.sort()).toEqual([agent.identity.worker_id, rawId.worker_id].sort());

    // Cut off at once: the raw worker's socket closes with "revoked"; what it sends meanwhile changes nothing.
    raw.heartbeat([{ task_id: 'x', attempt: 1 }]);
    await raw.until(() => raw.closed, 'revoked socket closed', 3000);
    expect(raw.closed?.code).toBe(4003);
    expect(raw.inbox.some((m) => m.type === 'ERROR')).toBe(false);
    // The agent's reconnection is refused for good.
    await waitFor(() => agent.events.find((e) => e.type === 'fatal'), 'agent refused after revoke', 10_000);
    expect(agent.events.find((e) => e.type === 'fatal')).toMatchObject({ reason: expect.stringContaining('revoked') });
    await expect(RawWorker.open(h, rawId)).rejects.toThrow(/revoked/);

    // Return: the old session, the same browser elsewhere, another browser at the same address.
    expect((await inject(laptop, 'POST', '/api/session', { display_name: 'Ada' })).statusCode).toBe(403);
    const sameBrowserElsewhere: Browser = { ip: '10.0.0.77', cookies: { colony_device: laptop.cookies['colony_device'] as string } };
    const again = await visit(sameBrowserElsewhere, 'Ada2');
    expect(again.r.statusCode).toBe(403);
    expect(again.r.json()).toMatchObject({ code: 'E_FORBIDDEN', message: expect.stringContaining('banned') });
    expect((await visit({ ip: '10.0.0.5', cookies: {} }, 'Ada3')).r.statusCode).toBe(403);
    // The outstanding code died with the ban.
    expect((await api(h, null, 'POST', '/api/workers/enroll', enrolBody(h, unused, generateKeyPair()))).status).toBe(401);
    // Someone else, elsewhere, is not affected.
    expect((await visit({ ip: '10.0.0.99', cookies: {} }, 'Bob')).r.statusCode).toBe(201);
    expect(audits(h, 'session.banned')).toHaveLength(1);
    expect(audits(h, 'worker.revoked')).toHaveLength(2);
  }, 30_000);

  it('session only: the same browser may open a new session and pair again, but the revoked workers stay revoked', async () => {
    h = await startRemoteHost();
    const laptop: Browser = { ip: '10.0.0.6', cookies: {} };
    const { session: ada } = await visit(laptop, 'Ada');
    if (!ada) throw new Error('no session');
    const agent = await startAgent(h, ada);
    agents.push(agent);
    expect((await revoke(ada.userId)).json()).toMatchObject({ banned: [], workers_revoked: [agent.identity.worker_id] });
    await waitFor(() => agent.events.find((e) => e.type === 'fatal'), 'agent refused after revoke', 10_000);
    delete laptop.cookies['colony_session'];
    const back = await visit(laptop, 'Ada again');
    expect(back.r.statusCode).toBe(201);
    expect((await inject(laptop, 'POST', '/api/pairing-codes')).statusCode).toBe(201);
    expect(h.remote.workers.get(agent.identity.worker_id)?.revoked_at).not.toBeNull();
  }, 30_000);

  it('pairing ban only: a new session is allowed, but no pairing code and no enrolment from that browser or address', async () => {
    h = await startRemoteHost();
    const laptop: Browser = { ip: '10.0.0.7', cookies: {} };
    const { session: ada } = await visit(laptop, 'Ada');
    if (!ada) throw new Error('no session');
    expect((await revoke(ada.userId, ['pairing'])).statusCode).toBe(200);
    delete laptop.cookies['colony_session'];
    expect((await visit(laptop, 'Ada again')).r.statusCode).toBe(201);
    const code = await inject(laptop, 'POST', '/api/pairing-codes');
    expect(code.statusCode).toBe(403);
    expect(code.json()).toMatchObject({ message: expect.stringContaining('banned pairing') });
    // Another person's code, used from the banned address: refused too.
    const bob: Browser = { ip: '10.0.0.8', cookies: {} };
    const { session: bobS } = await visit(bob, 'Bob');
    if (!bobS) throw new Error('no session');
    const c = await pairingCode(h, bobS);
    const enrol = await h.user.inject({ method: 'POST', url: '/api/workers/enroll', remoteAddress: '10.0.0.7', payload: enrolBody(h, c, generateKeyPair()) });
    expect(enrol.statusCode).toBe(403);
    expect(
      (await h.user.inject({ method: 'POST', url: '/api/workers/enroll', remoteAddress: '10.0.0.8', payload: enrolBody(h, c, generateKeyPair()) })).statusCode,
    ).toBe(201);
  }, 30_000);
});
