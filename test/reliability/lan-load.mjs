#!/usr/bin/env node
/**
 * Load and probe client for flood.test.ts, run inside a test network namespace:
 *
 *   ip netns exec NS node test/reliability/lan-load.mjs '<json>'
 *
 * {"mode":"probe","base":URL,"rate":8,"durationMs":10000}
 *   creates its own LAN session, then GETs /api/status at a fixed rate
 *   (open loop: request i is due at start + i/rate) and prints
 *   {"latencies":[ms...],"statuses":{code:n}}.
 * {"mode":"flood","base":URL,"connections":64,"durationMs":10000,"maxRequests":2000000}
 *   one client (one address, one session) sending as fast as it can on
 *   keep-alive connections: 4 in 5 are GET /api/status, 1 in 5 POST
 *   /api/submit-task; prints {"sent":n,"statuses":{code:n},"errors":n}.
 * Bounded in time and count; refuses any destination outside 127.0.0.0/8 and
 * 10.0.0.0/8 (the test namespaces).
 */
import http from 'node:http';

const spec = JSON.parse(process.argv[2] ?? '{}');
const base = new URL(spec.base);
if (!(base.hostname.startsWith('10.') || base.hostname.startsWith('127.'))) {
  process.stderr.write(`refusing ${base.hostname}: only loopback and the test namespaces\n`);
  process.exit(3);
}
const durationMs = Math.min(Number(spec.durationMs ?? 10_000), 60_000);

function request(agent, method, path, { cookie, body } = {}) {
  return new Promise((resolve) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      new URL(path, base),
      {
        method,
        agent,
        headers: { ...(cookie ? { cookie } : {}), ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) },
        timeout: 10_000,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on('error', () => resolve({ status: 0 }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0 }));
    req.end(payload);
  });
}

async function session(agent, name) {
  const r = await request(agent, 'POST', '/api/session', { body: { display_name: name } });
  const set = r.headers?.['set-cookie'] ?? [];
  const cookie = set.map((c) => c.split(';')[0]).join('; ');
  if (r.status !== 201 || !cookie) throw new Error(`POST /api/session: ${r.status} ${r.body}`);
  return cookie;
}

const count = (m, k) => m.set(k, (m.get(k) ?? 0) + 1);

async function probe() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const cookie = await session(agent, spec.name ?? 'probe');
  const rate = Math.min(Number(spec.rate ?? 8), 50);
  const latencies = [];
  const statuses = new Map();
  const start = performance.now();
  for (let i = 0; ; i++) {
    const due = start + (i * 1000) / rate;
    if (due - start > durationMs) break;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    const r = await request(agent, 'GET', '/api/status', { cookie });
    latencies.push(performance.now() - t0);
    count(statuses, r.status);
  }
  agent.destroy();
  return { latencies, statuses: Object.fromEntries(statuses) };
}

async function flood() {
  const connections = Math.min(Number(spec.connections ?? 64), 256);
  const maxRequests = Math.min(Number(spec.maxRequests ?? 2_000_000), 5_000_000);
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const cookie = await session(agent, 'flooder');
  const statuses = new Map();
  let sent = 0;
  const end = performance.now() + durationMs;
  const loop = async (k) => {
    for (let i = 0; performance.now() < end && sent < maxRequests; i++) {
      sent++;
      const r =
        (i + k) % 5 === 0
          ? await request(agent, 'POST', '/api/submit-task', { cookie, body: { prompt: `flood ${sent}`, budget_usd: 0.01 } })
          : await request(agent, 'GET', '/api/status', { cookie });
      count(statuses, r.status);
    }
  };
  await Promise.all(Array.from({ length: connections }, (_, k) => loop(k)));
  agent.destroy();
  return { sent, statuses: Object.fromEntries(statuses) };
}

try {
  const out = spec.mode === 'flood' ? await flood() : await probe();
  process.stdout.write(JSON.stringify(out) + '\n');
} catch (e) {
  process.stdout.write(JSON.stringify({ error: String(e?.message ?? e) }) + '\n');
  process.exit(2);
}
