/**
 * Network from inside the OS sandbox (real bwrap, real network namespaces as
 * other machines): none by default; with `safety.network_allow` an allowed
 * machine is reached only through the host-side proxy (HTTP and CONNECT),
 * a machine not on the list is refused, audited and named in the task's
 * output, and a direct connection that bypasses the proxy has no route.
 * An agent CLI's own endpoint on the host's loopback is reachable for that
 * task (forwarded through the proxy), other host loopback ports are not.
 */
import { createServer, type Server } from 'node:http';
import { mkdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type ColonyConfig } from '../../src/core/config.js';
import type { EngineEvent } from '../../src/core/engine.js';
import { createExecEngine } from '../../src/engines/exec.js';
import { createSandboxPlanner } from '../../src/safety/os-sandbox/index.js';
import { resolveHome } from '../../src/runner/home.js';
import type { RunningHost } from '../../src/server/host-server.js';
import { adminApi, portOf, startTestHost, testConfig } from '../helpers/admin-host.js';
import { createNetns, type NetnsHandle } from '../helpers/netns.js';
import { makeTempDir, waitFor } from '../helpers/proc.js';

const PORT = 8000;
let net: NetnsHandle;
let allowedIp = '';
let deniedIp = '';
let h: RunningHost;
let api: ReturnType<typeof adminApi>;
const tmp = makeTempDir('colony-sbx-net-');
const workspace = join(realpathSync(tmp.dir), 'ws');

// Server code run with the host's node inside each namespace.
const SERVER = `require('http').createServer((q,r)=>r.end('hello-from-'+process.argv[1])).listen(${PORT},'0.0.0.0')`;
/** "a.b.c.d" spelled so no screen could see it as an address. */
const spelled = (ip: string): string =>
  `'.'.join([${ip
    .split('.')
    .map((p) => `'${p}'`)
    .join(',')}])`;

beforeAll(async () => {
  mkdirSync(workspace);
  net = await createNetns({ count: 2 });
  const [a, b] = net.namespaces as [{ name: string; ip: string }, { name: string; ip: string }];
  allowedIp = a.ip;
  deniedIp = b.ip;
  net.spawn(a.name, process.execPath, ['-e', SERVER, 'a']);
  net.spawn(b.name, process.execPath, ['-e', SERVER, 'b']);
  for (const [ip, want] of [
    [allowedIp, 'hello-from-a'],
    [deniedIp, 'hello-from-b'],
  ] as const) {
    let got = '';
    for (let i = 0; i < 100 && got !== want; i++) {
      if (i) await new Promise((r) => setTimeout(r, 100));
      got = await fetch(`http://${ip}:${PORT}/`)
        .then((r) => r.text())
        .catch(() => '');
    }
    expect(got, `server on ${ip}`).toBe(want);
  }
  const home = { dir: tmp.dir, paths: resolveHome(join(tmp.dir, 'home')), workspace, cleanup: () => undefined };
  h = await startTestHost(home, {
    config: testConfig({ safety: { allowed_roots: [realpathSync(tmp.dir)], network_allow: [allowedIp], intent: false, network: false } }),
  });
  api = adminApi(portOf(h), h.ctx.adminToken);
});

afterAll(async () => {
  await h?.close(500);
  await net?.destroy();
  tmp.cleanup();
});

async function runTask(prompt: string): Promise<{ id: string; state: string; out: string }> {
  const r = await api('POST', '/admin/execute', { prompt, engine: 'exec', workspace });
  expect(r.status, r.body).toBe(201);
  const id = (r.json['task_ids'] as string[])[0] as string;
  const state = await waitFor(
    () => {
      const s = h.host.store.getTask(id)?.state;
      return s === 'succeeded' || s === 'failed' ? s : undefined;
    },
    `task ${id} to end`,
    20_000,
  );
  return {
    id,
    state,
    out: h.host.store
      .outputOf(id, { limit: 10_000 })
      .map((o) => o.text)
      .join(''),
  };
}

describe('network through the proxy', () => {
  it('reaches an allowed machine through the proxy, by plain HTTP and by CONNECT', async () => {
    const r = await runTask(
      [
        `python3 -c "import urllib.request as u; print(u.urlopen('http://' + ${spelled(allowedIp)} + ':${PORT}/').read().decode())"`,
        `curl -s -m 5 --proxytunnel "http://$(python3 -c "print(${spelled(allowedIp)})"):${PORT}/"; echo`,
      ].join('\n'),
    );
    expect(r.state, r.out).toBe('succeeded');
    expect(r.out).toBe('hello-from-a\nhello-from-a\n');
  });

  it('refuses a machine not on the allow-list, audits it and names it in the task output', async () => {
    const r = await runTask(`python3 -c "
import urllib.request as u
try: u.urlopen('http://' + ${spelled(deniedIp)} + ':${PORT}/'); print('REACHED')
except Exception as e: print('refused', e)"`);
    expect(r.out).not.toContain('REACHED');
    expect(r.out).not.toContain('hello-from-b');
    expect(r.out).toContain(`[colony sandbox: connection to ${deniedIp}:${PORT} denied: ${deniedIp}:${PORT} is not in safety.network_allow]`);
    const audit = h.host.store.listAudit({ action: 'sandbox.network_denied', limit: 10 });
    expect(audit.some((a) => a.target === r.id && JSON.stringify(a.detail).includes(`${deniedIp}:${PORT}`))).toBe(true);
  });

  it('has no route for a direct connection that ignores the proxy, even to an allowed machine', async () => {
    const r = await runTask(`python3 -c "
import socket
try: socket.create_connection((${spelled(allowedIp)}, ${PORT}), 3); print('CONNECTED')
except Exception as e: print('no route:', e)"`);
    expect(r.out).toContain('no route:');
    expect(r.out).not.toContain('CONNECTED');
  });

  it("does not reach the host's loopback through the proxy (the admin app)", async () => {
    const r = await runTask(
      `curl -s -m 5 --noproxy '' -o /dev/null -w '%{http_code}\\n' "http://$(python3 -c "print('127.0.'+'0.1')"):${portOf(h)}/api/status"; curl -s -m 5 --noproxy '*' "http://127.0.0.1:${portOf(h)}/api/status" || echo direct-failed`,
    );
    expect(r.out).toMatch(/^403$/m); // the proxy's refusal, not the admin app's answer
    expect(r.out).toContain('direct-failed');
    expect(r.out).toContain(`connection to 127.0.0.1:${portOf(h)} denied`);
  });
});

describe('network with the default config, and an agent endpoint', () => {
  const cfg = (raw: Record<string, unknown> = {}): ColonyConfig => {
    const c = parseConfig(raw);
    if (!c.ok) throw new Error(c.problems.join('; '));
    return c.config;
  };
  async function runPlanned(prompt: string, engine: string, env: Record<string, string>, config = cfg()): Promise<string> {
    const planner = createSandboxPlanner({ safety: config.safety, colonyHome: join(tmp.dir, 'home'), configFile: null });
    const fullEnv = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: '/root', ...env };
    const sandbox = planner.planFor({ taskId: 't', engine, workspace, env: fullEnv });
    let out = '';
    for await (const ev of createExecEngine().run({
      task_id: 't',
      attempt: 1,
      prompt,
      model: null,
      workspace,
      budget_usd: 0,
      env: fullEnv,
      run_timeout_ms: 20_000,
      silence_timeout_ms: null,
      signal: new AbortController().signal,
      sandbox,
    }) as AsyncIterable<EngineEvent>) {
      if (ev.type === 'output') out += ev.text;
    }
    return out;
  }

  it('has no network at all by default: not even the allowed-looking machine, and no proxy variables', async () => {
    const out = await runPlanned(
      `env | grep -ci _proxy; python3 -c "
import urllib.request as u
try: u.urlopen('http://' + ${spelled(allowedIp)} + ':${PORT}/', timeout=3); print('REACHED')
except Exception as e: print('no network:', e)"`,
      'exec',
      {},
    );
    expect(out).toMatch(/^0\n/);
    expect(out).toContain('no network:');
    expect(out).not.toContain('REACHED');
  });

  let api2: Server;
  let other: Server;
  beforeAll(async () => {
    api2 = createServer((_q, r) => r.end('fake-anthropic-api'));
    other = createServer((_q, r) => r.end('OTHER-LOOPBACK-SERVICE'));
    await new Promise<void>((r) => api2.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  });
  afterAll(() => {
    api2?.close();
    other?.close();
  });

  it("lets an agent reach its own endpoint on the host's loopback, and nothing else there", async () => {
    const apiPort = (api2.address() as { port: number }).port;
    const otherPort = (other.address() as { port: number }).port;
    const out = await runPlanned(
      `curl -s -m 5 http://127.0.0.1:${apiPort}/v1/messages; echo; curl -s -m 5 http://127.0.0.1:${otherPort}/ || echo other-unreachable; curl -s -m 5 --noproxy '' http://127.0.0.1:${otherPort}/; echo`,
      'claude',
      { ANTHROPIC_BASE_URL: `http://127.0.0.1:${apiPort}` },
    );
    expect(out).toContain('fake-anthropic-api');
    expect(out).toContain('other-unreachable');
    expect(out).not.toContain('OTHER-LOOPBACK-SERVICE');
    expect(out).toContain(`connection to 127.0.0.1:${otherPort} denied`);
  });
});
