/**
 * The LAN app over TLS (the default with --lan) and pairing without trust on
 * first use, from the attacker's side: a man in the middle with its own
 * self-signed certificate answers the worker's enrolment, substitutes the
 * host key, relays unchanged, or answers by itself — and never ends up with a
 * worker enrolled for its key, nor with a worker that pinned it. Next to it the
 * legitimate pairing over https, the worker over wss with the pinned
 * certificate, Secure cookies, and the fingerprint in both apps' status.
 */
import { mkdirSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExecEngine } from '../../src/engines/exec.js';
import { hostRequest } from '../../src/remote/host-http.js';
import { exportPublicKeyRaw, fingerprint, generateKeyPair } from '../../src/remote/signing.js';
import { loadOrCreateHostCert, type HostCert } from '../../src/remote/tls.js';
import { WorkerAgent, type AgentEvent } from '../../src/remote/worker/worker-agent.js';
import { pairWorker } from '../../src/remote/worker/worker-identity.js';
import { TaskRunner } from '../../src/remote/worker/worker-runner.js';
import { createWorkerGate } from '../../src/remote/worker/worker-gate.js';
import { defaultConfig } from '../../src/core/config.js';
import type { RunningHost } from '../../src/server/host-server.js';
import { makeHome, type TestHome } from '../helpers/admin-host.js';
import { waitFor } from '../helpers/proc.js';
import { startTlsHost } from '../helpers/tls-host.js';

let home: TestHome;
let h: RunningHost;
let base: string;
let cookie: string;
let mitmCert: HostCert;

beforeAll(async () => {
  home = makeHome('colony-lan-tls-');
  h = await startTlsHost(home);
  base = (h.userUrl ?? '').replace(/\/$/, '');
  const r = await h.user?.inject({ method: 'POST', url: '/api/session', remoteAddress: '127.0.0.1', payload: { display_name: 'Ada' } });
  const c = r?.cookies.find((k) => k.name === 'colony_session');
  expect(c?.secure).toBe(true); // Secure: the browser never sends it over plain HTTP
  cookie = `colony_session=${c?.value}`;
  mitmCert = await loadOrCreateHostCert(join(home.dir, 'mitm'));
}, 30_000);

afterAll(async () => {
  await h?.close(200);
  home?.cleanup();
});

async function code(): Promise<{ code: string; command: string }> {
  const r = await h.user?.inject({ method: 'POST', url: '/api/pairing-codes', remoteAddress: '127.0.0.1', headers: { cookie } });
  expect(r?.statusCode).toBe(201);
  return r?.json() as { code: string; command: string };
}

type Mode = 'relay' | 'substitute-host-key' | 'answer-itself';

/** A TLS-terminating man in the middle on its own port with its own certificate, in front of the real host. */
async function mitm(mode: Mode): Promise<{ url: string; seen: unknown[]; close(): Promise<void> }> {
  const attacker = generateKeyPair();
  const seen: unknown[] = [];
  const server = https.createServer({ key: mitmCert.keyPem, cert: mitmCert.certPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown) : undefined;
        if (body !== undefined) seen.push(body);
        let status: number;
        let json: unknown;
        if (mode === 'answer-itself' && req.url === '/api/workers/enroll') {
          status = 201;
          json = {
            worker_id: 'w-evil',
            owner: 'session:evil',
            name: 'x',
            host_public_key: exportPublicKeyRaw(attacker.publicKey),
            host_fingerprint: fingerprint(attacker.publicKey),
            cert_fingerprint: mitmCert.fingerprint,
            worker_fingerprint: 'x',
            proof: 'A'.repeat(43),
          };
        } else {
          const up = await hostRequest(`${base}${req.url ?? '/'}`, { method: req.method === 'POST' ? 'POST' : 'GET', body, tls: 'capture' });
          status = up.status;
          json = up.json;
          if (mode !== 'relay' && req.url === '/api/workers/pairing-info') {
            json = {
              ...(json as object),
              host_public_key: exportPublicKeyRaw(attacker.publicKey),
              host_fingerprint: fingerprint(attacker.publicKey),
              cert_fingerprint: mitmCert.fingerprint,
            };
          }
        }
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, close: () => new Promise((r) => server.close(() => r())) };
}

const pairVia = (url: string, c: string, extra: { tlsFingerprint?: string } = {}) =>
  pairWorker({ home: join(home.dir, `w-${Math.random().toString(36).slice(2)}`), hostUrl: url, code: c, engines: ['exec'], openToAdmin: false, ...extra });

describe('pairing through a man in the middle', () => {
  it('a relay with its own certificate: the host refuses the proof (it covers the certificate the worker saw); the code never crosses', async () => {
    const m = await mitm('relay');
    try {
      const { code: c } = await code();
      await expect(pairVia(m.url, c)).rejects.toThrow(/pairing refused by the host: .*someone in between/);
      expect(JSON.stringify(m.seen)).not.toContain(c.replace('-', ''));
      expect(JSON.stringify(m.seen)).not.toContain(c);
      expect(h.host.store.listAudit({ action: 'worker.enrolled' })).toHaveLength(0);
      expect(h.host.store.listAudit({ action: 'worker.enroll_refused' }).length).toBeGreaterThan(0);
    } finally {
      await m.close();
    }
  });

  it('a substituted host key: refused by the host, nothing enrolled, nothing pinned', async () => {
    const m = await mitm('substitute-host-key');
    try {
      const { code: c } = await code();
      await expect(pairVia(m.url, c)).rejects.toThrow(/pairing refused/);
      expect(h.host.store.listAudit({ action: 'worker.enrolled' })).toHaveLength(0);
    } finally {
      await m.close();
    }
  });

  it('an attacker answering the enrolment itself: the worker refuses its answer (no proof of the code)', async () => {
    const m = await mitm('answer-itself');
    try {
      const { code: c } = await code();
      await expect(pairVia(m.url, c)).rejects.toThrow(/does not prove knowledge of the pairing code/);
    } finally {
      await m.close();
    }
  });

  it('with the fingerprint from the pairing command, the worker refuses the substituted certificate before sending anything', async () => {
    const m = await mitm('relay');
    try {
      const { code: c, command } = await code();
      const fp = /--tls-fingerprint (\S+)/.exec(command)?.[1];
      expect(fp).toBe(h.tlsFingerprint);
      await expect(pairVia(m.url, c, { tlsFingerprint: fp })).rejects.toThrow(/not .* from the pairing command/);
      expect(m.seen).toHaveLength(0);
    } finally {
      await m.close();
    }
  });
});

describe('the legitimate path over TLS', () => {
  it('pairs over https, pins the certificate, runs a task over wss; both apps show the fingerprint and the admin app stays HTTP', async () => {
    const { code: c, command } = await code();
    expect(command).toMatch(/^colony worker --host https:\/\/127\.0\.0\.1:\d+ /); // (the address inject() reports; the real one is checked in remote-netns)
    expect(command.endsWith(`--code ${c} --tls-fingerprint ${h.tlsFingerprint}`)).toBe(true);
    const identity = await pairVia(base, c, { tlsFingerprint: h.tlsFingerprint ?? undefined });
    expect(identity.host_cert_fingerprint).toBe(h.tlsFingerprint);
    const root = join(home.dir, 'worker-root');
    mkdirSync(root);
    const runner = new TaskRunner({
      engines: new Map([['exec', createExecEngine({ killGraceMs: 300 })]]),
      workspaceRoot: root,
      budgetCap: null,
      gate: createWorkerGate({ config: defaultConfig(), configFile: null, home: join(root, '..', 'worker-home'), workspaceRoot: root }),
      env: { PATH: process.env['PATH'] ?? '/bin' },
      flushMs: 5,
    });
    const agent = new WorkerAgent({ identity, runner, openToAdmin: false, heartbeatIntervalMs: 300 });
    const events: AgentEvent[] = [];
    agent.on((e) => events.push(e));
    agent.start();
    try {
      await waitFor(() => events.some((e) => e.type === 'connected'), 'worker connected over wss', 10_000);
      const r = await h.user?.inject({
        method: 'POST',
        url: '/api/submit-task',
        remoteAddress: '127.0.0.1',
        headers: { cookie },
        payload: { prompt: 'echo over-tls', engine: 'exec' },
      });
      expect(r?.statusCode, r?.body).toBe(201);
      const id = (r?.json() as { id: string }).id;
      await waitFor(() => ['succeeded', 'failed'].includes(h.host.store.getTask(id)?.state ?? ''), 'task ran on the worker', 15_000);
      expect(h.host.store.getTask(id)?.state, JSON.stringify(events)).toBe('succeeded');
      expect(
        h.host.store
          .outputOf(id)
          .map((o) => o.text)
          .join(''),
      ).toContain('over-tls');
    } finally {
      await agent.stop(500);
    }
    expect(h.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:/);
    const status = await fetch(`${h.adminUrl}api/status`, { headers: { authorization: `Bearer ${h.ctx.adminToken}` } });
    expect(((await status.json()) as { lan: unknown }).lan).toEqual({ tls_fingerprint: h.tlsFingerprint, insecure_http: false });
    const plain = await fetch(base.replace('https:', 'http:') + '/healthz').then(
      (x) => x.status,
      () => 'refused',
    );
    expect(plain).not.toBe(200); // no plain-HTTP fallback on the TLS port
  }, 40_000);
});
