/**
 * Issue 14, the slow-reader attack on the real CLI host: LAN clients open
 * `/events` asking for the whole history (Last-Event-ID: 0) and then never
 * read, while tasks print megabytes of output. Before the bounds, each such
 * client made the host buffer the full history and every live event for it
 * (~900 MiB and a 10 s `/healthz` with a few clients). Now the host's RSS stays
 * bounded, `/healthz` stays responsive, the non-readers are dropped, and a
 * client that does read keeps its stream.
 *
 * Generous bounds (this is a resource test, not a benchmark): peak RSS ≤ the
 * RSS before the attack + 96 MiB; every `/healthz` probe answers within 2 s.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertBuilt, startCli, type CliProcess } from '../helpers/cli.js';
import { killQuietly, makeTempDir, processGone, waitFor } from '../helpers/proc.js';
import { rssMiB } from '../reliability/helpers.js';

const tmp = makeTempDir('colony-slowread-');
const procs: CliProcess[] = [];
const sockets: Socket[] = [];
afterAll(() => {
  for (const s of sockets) s.destroy();
  for (const p of procs) killQuietly(p.child.pid);
  tmp.cleanup();
});

const NON_READERS = 8;
const TASKS_PER_WAVE = 32;
const RSS_SLACK_MIB = 96;
const HEALTHZ_BOUND_MS = 2000;
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'timed_out', 'upstream_failed', 'skipped']);

function call(
  port: number,
  method: string,
  path: string,
  o: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const body = o.body === undefined ? undefined : JSON.stringify(o.body);
    const r = httpRequest(
      { host: '127.0.0.1', port, method, path, agent: false, headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...o.headers } },
      (res) => {
        let text = '';
        res
          .setEncoding('utf8')
          .on('data', (d: string) => (text += d))
          .on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, ms: performance.now() - t0 }));
      },
    );
    r.on('error', reject);
    r.end(body);
  });
}

function wave(n: number, tag: string, paced: boolean): unknown {
  // ~1 MiB of output per task (the pool's per-attempt cap): at once, or paced over a few seconds.
  const line = `${tag}-0123456789abcdefghijklmnopqrstuvwxyz`;
  const prompt = paced ? `for i in $(seq 1 40); do yes ${line} | head -c 26000; sleep 0.05; done` : `yes ${line} | head -c 1100000`;
  return { name: `noise-${tag}`, tasks: Array.from({ length: n }, (_, i) => ({ id: `t${i}`, engine: 'exec', prompt })) };
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe('LAN clients that open /events and never read', () => {
  it('keep the host RSS bounded and /healthz responsive; they are dropped, a reading client is not', async () => {
    assertBuilt();
    const home = join(tmp.dir, 'home');
    const ws = join(tmp.dir, 'ws');
    mkdirSync(ws, { recursive: true });
    const configFile = join(tmp.dir, 'colony.config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        lan: { rate_limit_read_per_min: 100_000, rate_limit_submit_per_min: 10_000 },
        runner: { concurrency: 8 },
        safety: { allowed_roots: [tmp.dir] },
      }),
    );
    const host = startCli(
      [
        'serve',
        '--lan',
        '--insecure-http',
        '--host-ip',
        '127.0.0.1',
        '--user-port',
        '0',
        '--admin-port',
        '0',
        '--home',
        home,
        '--config',
        configFile,
        '--quiet',
      ],
      { cwd: ws, timeoutMs: 240_000 },
    );
    procs.push(host);
    const pid = host.child.pid as number;
    await waitFor(() => existsSync(join(home, 'host.json')) || host.child.exitCode !== null, 'host.json', 30_000);
    expect(host.child.exitCode).toBeNull();
    const info = JSON.parse(readFileSync(join(home, 'host.json'), 'utf8')) as { user_port: number; admin_port: number };
    const token = readFileSync(join(home, 'admin.token'), 'utf8').trim();
    const admin = (method: string, path: string, body?: unknown) =>
      call(info.admin_port, method, path, { body, headers: { authorization: `Bearer ${token}` } });
    const allDone = async (): Promise<boolean> => {
      const c = (JSON.parse((await admin('GET', '/api/status')).body) as { tasks: Record<string, number> }).tasks;
      return Object.entries(c).every(([state, n]) => n === 0 || TERMINAL.has(state));
    };

    // History first: megabytes of task.output events in the log.
    expect((await admin('POST', '/admin/execute', { graph: wave(TASKS_PER_WAVE, 'history', false) })).status).toBe(201);
    await until(allDone, 'the first wave');

    const cookies: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await call(info.user_port, 'POST', '/api/session', { body: { display_name: `slow-${i}` } });
      expect(r.status, r.body).toBe(201);
      cookies.push(`colony_session=${/colony_session=([^;]+)/.exec(String(r.headers['set-cookie']))?.[1] ?? ''}`);
      // view_all: these viewers receive every task's output, so each event is worth buffering for them.
      const id = (JSON.parse(r.body) as { session: { user_id: string } }).session.user_id;
      expect(
        (
          await call(info.admin_port, 'PATCH', `/admin/sessions/${id}`, {
            body: { permissions: ['view', 'view_all'] },
            headers: { authorization: `Bearer ${token}` },
          })
        ).status,
      ).toBe(200);
    }
    const rssBefore = rssMiB(pid);

    // The attack: non-readers asking for everything since event 0.
    const nonReaders = Array.from({ length: NON_READERS }, (_, i) => {
      const s = connect(info.user_port, '127.0.0.1');
      sockets.push(s);
      const st = { closed: false, socket: s };
      s.on('close', () => (st.closed = true));
      s.on('error', () => {});
      s.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1:${info.user_port}\r\nCookie: ${cookies[i % 3]}\r\nLast-Event-ID: 0\r\n\r\n`);
      s.pause(); // never read
      return st;
    });
    // A legitimate viewer that reads everything as it comes.
    const reader = connect(info.user_port, '127.0.0.1');
    sockets.push(reader);
    let readerText = '';
    let readerClosed = false;
    reader.setEncoding('utf8').on('data', (d: string) => (readerText = (readerText + d).slice(-200_000)));
    reader.on('close', () => (readerClosed = true));
    reader.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1:${info.user_port}\r\nCookie: ${cookies[0]}\r\n\r\n`);

    let peak = rssBefore;
    const latencies: number[] = [];
    let probing = true;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 100);
    const probe = (async () => {
      while (probing) {
        const r = await call(info.user_port, 'GET', '/healthz');
        expect(r.status).toBe(200);
        latencies.push(r.ms);
        await new Promise((res) => setTimeout(res, 100));
      }
    })();
    try {
      expect((await admin('POST', '/admin/execute', { graph: wave(TASKS_PER_WAVE, 'live', true) })).status).toBe(201);
      await until(allDone, 'the second wave');

      await new Promise((r) => setTimeout(r, 500));
    } finally {
      probing = false;
      await probe;
      clearInterval(sampler);
    }
    const summary = {
      rss_mib: { before: +rssBefore.toFixed(1), peak: +peak.toFixed(1), bound: rssBefore + RSS_SLACK_MIB },
      healthz_ms: { max: +Math.max(...latencies).toFixed(1), samples: latencies.length },
    };
    console.log(`slow readers: ${JSON.stringify(summary)}`);

    expect(peak).toBeLessThanOrEqual(rssBefore + RSS_SLACK_MIB);
    expect(latencies.length).toBeGreaterThan(20);
    expect(Math.max(...latencies)).toBeLessThanOrEqual(HEALTHZ_BOUND_MS);
    // The reader got live output and still has its stream.
    expect(readerText).toContain('event: task.output');
    expect(readerClosed).toBe(false);
    // The non-readers were dropped by the host: once they read, they find their streams closed.
    for (const n of nonReaders) n.socket.resume();
    await waitFor(() => nonReaders.every((n) => n.closed), 'the non-readers to find their streams closed', 15_000);

    process.kill(pid, 'SIGTERM');
    await host.result;
    await waitFor(() => processGone(pid), 'host exit');
  }, 180_000);
});
