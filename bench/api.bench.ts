/**
 * API throughput and latency (issue 10, benchmark 5): autocannon on loopback
 * against a real host (`node dist/cli/index.js serve --lan` on a temp home,
 * both apps on 127.0.0.1), each endpoint for a bounded duration:
 *
 *   admin  GET  /api/status        (bearer token)
 *   admin  POST /admin/execute     (bearer token; a one-task exec graph)
 *   user   GET  /api/status        (LAN session cookie)
 *   user   POST /api/submit-task   (LAN session cookie; queued for the user's own worker)
 *
 * The kill switch is paused first, so submitted tasks queue instead of
 * running (this measures the API and the store, not process spawning). The
 * config raises the LAN rate limits (defaults: 600 reads and 20 submissions
 * per minute per address and per session), otherwise a benchmark from one
 * address measures the limiter's 429s. No target is set for this benchmark.
 *
 * Each endpoint gets 1 s of unrecorded warm-up first.
 *
 * Run alone: npx tsx bench/api.bench.ts [--seconds 5] [--connections 16]
 */
import autocannon from 'autocannon';
import { httpJson, isMain, machine, round, startServe, writeResult } from './perf-kit.js';

export interface ApiOptions {
  seconds?: number;
  connections?: number;
}

export interface EndpointFigures {
  app: 'admin' | 'user';
  method: string;
  path: string;
  requests: number;
  req_per_s: number;
  latency_ms: { p50: number; p90: number; p99: number; max: number };
  status: Record<string, number>;
  errors: number;
  timeouts: number;
}

export async function runApiBench(o: ApiOptions = {}): Promise<Record<string, unknown>> {
  const seconds = o.seconds ?? 5;
  const connections = o.connections ?? 16;
  const host = await startServe({
    lan: true,
    config: { lan: { rate_limit_read_per_min: 100_000_000, rate_limit_submit_per_min: 100_000_000 } },
  });
  try {
    const admin = `http://127.0.0.1:${host.adminPort}`;
    const user = `http://127.0.0.1:${host.userPort}`;
    const auth = { authorization: `Bearer ${host.token}` };
    const paused = await httpJson(`${admin}/admin/pause`, { method: 'POST', headers: auth, body: {} });
    if (paused.status !== 200) throw new Error(`POST /admin/pause: ${paused.status}`);
    const s = await httpJson(`${user}/api/session`, { method: 'POST', body: { display_name: 'api-bench' } });
    const cookie = (s.headers.getSetCookie?.() ?? []).map((c) => c.split(';')[0]).join('; ');
    if (s.status !== 201 || !cookie) throw new Error(`POST /api/session: ${s.status}`);
    const json = { 'content-type': 'application/json' };
    const endpoints: { app: 'admin' | 'user'; method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body?: string }[] = [
      { app: 'admin', method: 'GET', path: '/api/status', headers: auth },
      {
        app: 'admin',
        method: 'POST',
        path: '/admin/execute',
        headers: { ...auth, ...json },
        body: JSON.stringify({ prompt: 'true', engine: 'exec', budget_usd: 0.01 }),
      },
      { app: 'user', method: 'GET', path: '/api/status', headers: { cookie } },
      {
        app: 'user',
        method: 'POST',
        path: '/api/submit-task',
        headers: { cookie, ...json },
        body: JSON.stringify({ prompt: 'echo hello', engine: 'exec', budget_usd: 0.01 }),
      },
    ];
    const figures: EndpointFigures[] = [];
    for (const e of endpoints) {
      // 1 s of warm-up (JIT, connection set-up), not recorded
      await autocannon({
        url: `${e.app === 'admin' ? admin : user}${e.path}`,
        method: e.method,
        headers: e.headers,
        body: e.body,
        connections,
        duration: 1,
        timeout: 10,
      });
      const r = await autocannon({
        url: `${e.app === 'admin' ? admin : user}${e.path}`,
        method: e.method,
        headers: e.headers,
        body: e.body,
        connections,
        duration: seconds,
        timeout: 10,
      });
      const status: Record<string, number> = {};
      for (const [code, v] of Object.entries(r.statusCodeStats ?? {})) status[code] = (v as { count: number }).count;
      figures.push({
        app: e.app,
        method: e.method,
        path: e.path,
        requests: r.requests.total,
        req_per_s: Math.round(r.requests.average),
        latency_ms: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
        status,
        errors: r.errors,
        timeouts: r.timeouts,
      });
    }
    const result = {
      benchmark: 'api',
      machine: machine(),
      seconds_per_endpoint: seconds,
      connections,
      note: 'kill switch paused (submissions queue, nothing runs); LAN rate limits raised by config for the benchmark',
      host_rss_mib_after: round(host.rssMiB()),
      endpoints: figures,
    };
    writeResult('api', result);
    return result;
  } finally {
    await host.stop();
  }
}

function arg(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(v) ? v : undefined;
}

if (isMain(import.meta.url)) {
  const r = await runApiBench({ seconds: arg('seconds'), connections: arg('connections') });
  for (const e of r['endpoints'] as EndpointFigures[]) {
    console.log(
      `${e.app.padEnd(5)} ${e.method.padEnd(4)} ${e.path.padEnd(18)} ${String(e.req_per_s).padStart(6)} req/s  p50 ${e.latency_ms.p50} ms  p99 ${e.latency_ms.p99} ms  ${JSON.stringify(e.status)}`,
    );
  }
}
