/**
 * HTTP fuzzing: 10,000 seeded, mutated requests (methods, paths and queries,
 * headers, framing, bodies — see fuzz-mutate.ts) sent as raw bytes to a real
 * host's admin app and user app (`colony serve --lan` on 127.0.0.1), 16 at a
 * time. The host is paused first (kill switch), so nothing an accepted
 * submission queues can run.
 *
 * Passes when: the host never crashes and still answers both apps at the end;
 * no response is a 5xx; nothing changed except what accepted requests
 * account for (one new graph per 2xx submission, one session per 201 on
 * POST /api/session, one pairing code per 2xx on /api/pairing-codes; the
 * seeded tasks keep their state, the kill switch stays paused); the audit
 * chain verifies and `PRAGMA integrity_check` is ok.
 *
 * Replay with RELIABILITY_SEED; FUZZ_REQUESTS changes the count (default 10000).
 */
import { connect } from 'node:net';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertBuilt, runCli, startCli, type CliProcess } from '../helpers/cli.js';
import { killQuietly, makeTempDir, processGone, waitFor } from '../helpers/proc.js';
import { ADMIN_CONTROL_SEEDS, ADMIN_SEEDS, mutate, USER_SEEDS, type Creds, type RawRequest } from './fuzz-mutate.js';
import { rng, seedFromEnv, withDb } from './helpers.js';

const REQUESTS = Number(process.env['FUZZ_REQUESTS'] ?? 10_000);
const SEED = seedFromEnv(7_331);
const IN_FLIGHT = 16;
const RESPONSE_TIMEOUT_MS = 5000;
/** A request whose body is shorter than announced may rightly get no answer: wait less for it. */
const TRUNCATED_TIMEOUT_MS = 500;

const tmp = makeTempDir('colony-fuzz-');
const procs: CliProcess[] = [];
afterAll(() => {
  for (const p of procs) killQuietly(p.child.pid);
  tmp.cleanup();
});

type Outcome = { kind: 'status'; status: number } | { kind: 'timeout' | 'reset' | 'closed' };

/**
 * Sends raw bytes and reads the first line of the answer. 'reset': the server
 * answered early (e.g. 413, 403) and closed with request bytes unread, so the
 * kernel sent RST and may have dropped the answer; 'closed': FIN without an
 * answer; 'timeout': nothing at all within timeoutMs (the only outcome that
 * can mean a hang).
 */
function send(port: number, bytes: Buffer, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    let buf = '';
    let done = false;
    const finish = (o: Outcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout' }), timeoutMs);
    sock.on('connect', () => sock.end(bytes));
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf);
      if (m) finish({ kind: 'status', status: Number(m[1]) });
      else if (buf.length > 64 || buf.includes('\r\n')) finish({ kind: 'status', status: -1 }); // not HTTP at all
    });
    sock.on('error', (e: NodeJS.ErrnoException) => finish({ kind: e.code === 'ECONNRESET' || e.code === 'EPIPE' ? 'reset' : 'closed' }));
    sock.on('close', () => finish({ kind: 'closed' }));
  });
}

interface Snapshot {
  tasks: number;
  graphs: number;
  sessions: number;
  pairing: number;
  seeded: Record<string, string>;
}

function snapshot(db: string, seededGraph: string): Snapshot {
  return withDb(db, (d) => {
    const n = (sql: string): number => (d.prepare(sql).get() as { n: number }).n;
    const tables = new Set((d.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
    return {
      tasks: n('SELECT COUNT(*) AS n FROM tasks'),
      graphs: n('SELECT COUNT(*) AS n FROM graphs'),
      sessions: tables.has('sessions') ? n('SELECT COUNT(*) AS n FROM sessions') : 0,
      pairing: tables.has('pairing_codes') ? n('SELECT COUNT(*) AS n FROM pairing_codes') : 0,
      seeded: Object.fromEntries(
        (d.prepare('SELECT id, state FROM tasks WHERE graph_id = ?').all(seededGraph) as { id: string; state: string }[]).map((r) => [r.id, r.state]),
      ),
    };
  });
}

describe('HTTP fuzzing of the admin and user apps', () => {
  it(`survives ${REQUESTS} mutated requests: no crash, no 5xx, no unaccounted state change (seed ${SEED})`, async () => {
    assertBuilt();
    const home = join(tmp.dir, 'home');
    const ws = join(tmp.dir, 'ws');
    mkdirSync(ws, { recursive: true });
    const config = join(tmp.dir, 'colony.config.json');
    // One fuzzing address would exhaust the LAN rate limits in a second: raise them so inputs reach the handlers.
    writeFileSync(config, JSON.stringify({ lan: { rate_limit_read_per_min: 10_000_000, rate_limit_submit_per_min: 10_000_000 } }));
    const host = startCli(
      ['serve', '--lan', '--insecure-http', '--host-ip', '127.0.0.1', '--admin-port', '0', '--user-port', '0', '--home', home, '--config', config, '--quiet'],
      { cwd: ws, timeoutMs: 600_000 },
    );
    procs.push(host);
    const pid = host.child.pid as number;
    await waitFor(() => existsSync(join(home, 'host.json')) || host.child.exitCode !== null, 'host.json', 30_000);
    expect(host.child.exitCode).toBeNull();
    const info = JSON.parse(readFileSync(join(home, 'host.json'), 'utf8')) as { admin_port: number; user_port: number };
    const token = readFileSync(join(home, 'admin.token'), 'utf8').trim();
    const admin = `http://127.0.0.1:${info.admin_port}`;
    const user = `http://127.0.0.1:${info.user_port}`;
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

    const paused = await fetch(`${admin}/admin/pause`, { method: 'POST', headers: auth, body: '{}' });
    expect(paused.status).toBe(200);
    const seeded = (await (
      await fetch(`${admin}/admin/execute`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ graph: { name: 'seeded', tasks: [1, 2, 3, 4, 5].map((i) => ({ id: `s${i}`, engine: 'exec', prompt: 'true' })) } }),
      })
    ).json()) as { graph_id: string };
    const session = await fetch(`${user}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ display_name: 'fuzz-victim' }),
    });
    expect(session.status).toBe(201);
    const cookie = (session.headers.getSetCookie()[0] ?? '').split(';')[0] ?? '';
    const creds: Creds = { adminHost: `127.0.0.1:${info.admin_port}`, userHost: `127.0.0.1:${info.user_port}`, token, cookie };
    const db = join(home, 'colony.db');
    const before = snapshot(db, seeded.graph_id);
    expect(Object.values(before.seeded)).toEqual(['ready', 'ready', 'ready', 'ready', 'ready']);

    const rand = rng(SEED);
    const requests: RawRequest[] = Array.from({ length: REQUESTS }, () => {
      const roll = rand();
      if (roll < 0.05) return mutate(rand, ADMIN_CONTROL_SEEDS[Math.floor(rand() * ADMIN_CONTROL_SEEDS.length)]!, creds, { allowAuth: false });
      if (roll < 0.5) return mutate(rand, ADMIN_SEEDS[Math.floor(rand() * ADMIN_SEEDS.length)]!, creds, { allowAuth: true });
      return mutate(rand, USER_SEEDS[Math.floor(rand() * USER_SEEDS.length)]!, creds, { allowAuth: true });
    });

    const statuses = new Map<number, number>();
    const serverErrors: string[] = [];
    const unexpectedWrites: string[] = [];
    const hangs: string[] = [];
    const outcomes = { timeout: 0, reset: 0, closed: 0 };
    const accepted = { task: 0, session: 0, pairing: 0 };
    let next = 0;
    const started = Date.now();
    const deadline = started + 240_000;
    const worker = async (): Promise<void> => {
      while (next < requests.length && Date.now() < deadline) {
        const req = requests[next++] as RawRequest;
        const o = await send(req.app === 'admin' ? info.admin_port : info.user_port, req.bytes, req.truncatedBody ? TRUNCATED_TIMEOUT_MS : RESPONSE_TIMEOUT_MS);
        const what = `${req.app} ${JSON.stringify(req.method).slice(0, 24)} ${req.path.slice(0, 80)} [${req.mutations.join(', ')}]`;
        if (o.kind !== 'status') {
          outcomes[o.kind]++;
          // Explained: a body shorter than announced (the server waits for the rest); CONNECT, which Node's
          // HTTP server closes without an answer when nothing handles tunnels; a stream that stays open.
          if (o.kind === 'timeout' && !req.truncatedBody && req.method !== 'CONNECT' && !/events|ws\/progress/.test(req.path)) hangs.push(what);
          continue;
        }
        const status = o.status;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status >= 500) serverErrors.push(`${status} ${what}`);
        if (status >= 200 && status < 300 && req.method !== 'GET' && req.method !== 'HEAD') {
          if (req.accountable === 'task') accepted.task++;
          else if (req.accountable === 'session') accepted.session += status === 201 ? 1 : 0;
          else if (req.accountable === 'pairing') accepted.pairing++;
          else if (!(req.app === 'user' && req.path.startsWith('/api/session'))) unexpectedWrites.push(`${status} ${what}`);
        }
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    const sent = next;
    const seconds = (Date.now() - started) / 1000;

    expect(sent, 'the fuzzing run hit its time bound').toBe(REQUESTS);
    expect(serverErrors.slice(0, 20)).toEqual([]);
    expect(unexpectedWrites.slice(0, 20)).toEqual([]);
    // still alive and answering on both apps
    expect(host.child.exitCode).toBeNull();
    const status = await fetch(`${admin}/api/status`, { headers: auth });
    expect(status.status).toBe(200);
    expect(((await status.json()) as { killswitch: string }).killswitch).toBe('paused');
    expect((await fetch(`${user}/healthz`)).status).toBe(200);
    expect(hangs, 'requests with complete framing that got nothing back within 5 s').toEqual([]);

    const after = snapshot(db, seeded.graph_id);
    expect(after.seeded).toEqual(before.seeded);
    expect(after.graphs - before.graphs).toBe(accepted.task);
    expect(after.sessions - before.sessions).toBe(accepted.session);
    expect(after.pairing - before.pairing).toBe(accepted.pairing);

    process.kill(pid, 'SIGTERM');
    await host.result;
    await waitFor(() => processGone(pid), 'host exit');
    expect(withDb(db, (d) => d.pragma('integrity_check', { simple: true }))).toBe('ok');
    const verify = await runCli(['audit', 'verify', '--home', home], { cwd: ws });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    console.log(
      `fuzz-http seed ${SEED}: ${sent} requests in ${seconds.toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))} ` +
        `no answer ${JSON.stringify(outcomes)}; accepted ${JSON.stringify(accepted)}; audit ${verify.stdout.trim()}`,
    );
  });
});
