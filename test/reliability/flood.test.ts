/**
 * Flood: one LAN client (its own network namespace, so its own address) sends
 * requests to the user app as fast as 64 keep-alive connections allow for
 * 10 s — 4 in 5 `GET /api/status`, 1 in 5 `POST /api/submit-task` — while six
 * other clients (six more namespaces) probe `GET /api/status` at 8 requests/s
 * each, as they did for a baseline before the flood. Default LAN rate limits.
 *
 * Passes when: the flooder was really flooding and was rate-limited (429s);
 * the other clients were never refused; their p99 during the flood stays
 * within 2× their baseline p99, or within 500 ms when that is larger (see
 * ABS_BOUND_MS for why); the host's RSS stays bounded (peak during the
 * flood ≤ baseline + 64 MiB) and the host still answers afterwards.
 *
 * Network namespaces need root and iproute2: without them createNetns throws
 * and this test fails — it never falls back to loopback and never skips.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { assertBuilt, startCli, type CliProcess } from '../helpers/cli.js';
import { createNetns, type NetnsHandle } from '../helpers/netns.js';
import { killQuietly, makeTempDir, processGone, waitFor } from '../helpers/proc.js';
import { rssMiB } from './helpers.js';

const LOAD = fileURLToPath(new URL('./lan-load.mjs', import.meta.url));
const FLOOD_MS = 10_000;
const BASELINE_MS = 6_000;
const PROBES = 6; // ~400 samples during the flood, so p99 is not just the worst one or two
const PROBE_RATE = 8; // per probe (480/min, each probe has its own address under the default 600 reads/min)
/**
 * The absolute bound. The host is one event loop serving requests in arrival
 * order, so a probe's request waits behind up to one round of the flooder's
 * 64 in-flight requests. Each is refused by the rate limiter, which still
 * costs the host 1–3 ms on this 2-core machine kind (HTTP parsing, cookie
 * signature, session lookup, the limiter, the 429 body) while the flooder
 * itself holds the other core: one round is ~60–200 ms. Baseline p99 is a few
 * ms on a quiet machine (and ~100 ms on a loaded one), so "2× baseline" alone
 * would demand that the flood cost nothing. The test therefore passes at 2×
 * baseline or 500 ms, whichever is larger: other users keep a working
 * dashboard (p99 under half a second, never refused) while one machine floods,
 * which is what the rate limits are for. Measured figures are printed.
 */
const ABS_BOUND_MS = 500;
const RSS_SLACK_MIB = 64;

const tmp = makeTempDir('colony-flood-');
let net: NetnsHandle | null = null;
const procs: CliProcess[] = [];
afterAll(async () => {
  for (const p of procs) killQuietly(p.child.pid);
  await net?.destroy();
  tmp.cleanup();
});

function p99(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)] ?? NaN;
}

type ProbeOut = { latencies: number[]; statuses: Record<string, number>; error?: string };
type FloodOut = { sent: number; statuses: Record<string, number>; error?: string };

describe('one LAN client floods the user app', () => {
  it('other clients keep their latency, the flooder is rate-limited, the host memory stays bounded', async () => {
    assertBuilt();
    net = await createNetns({ count: 1 + PROBES });
    const [flooder, ...probes] = net.namespaces.map((n) => n.name) as [string, ...string[]];
    const home = join(tmp.dir, 'home');
    const ws = join(tmp.dir, 'ws');
    mkdirSync(ws, { recursive: true });
    // The user app binds only the test bridge's address: reachable from the namespaces, from nothing else.
    const host = startCli(['serve', '--lan', '--insecure-http', '--host-ip', net.hostIp, '--user-port', '0', '--admin-port', '0', '--home', home, '--quiet'], {
      cwd: ws,
      timeoutMs: 180_000,
    });
    procs.push(host);
    const pid = host.child.pid as number;
    await waitFor(() => existsSync(join(home, 'host.json')) || host.child.exitCode !== null, 'host.json', 30_000);
    expect(host.child.exitCode).toBeNull();
    const { user_port: port } = JSON.parse(readFileSync(join(home, 'host.json'), 'utf8')) as { user_port: number };
    const base = `http://${net.hostIp}:${port}`;
    const handle = net;
    const run = async <T>(ns: string, spec: Record<string, unknown>): Promise<T> => {
      const r = await handle.exec(ns, process.execPath, [LOAD, JSON.stringify({ base, ...spec })], { timeoutMs: 60_000 });
      const line = r.stdout.trim().split('\n').pop() ?? '';
      if (!line) throw new Error(`lan-load in ${ns} printed nothing (exit ${r.code}): ${r.stderr}`);
      const out = JSON.parse(line) as T & { error?: string };
      if (out.error) throw new Error(`lan-load in ${ns}: ${out.error}`);
      return out;
    };
    const sampleRss = (): { stop: () => number } => {
      let peak = rssMiB(pid);
      const t = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 100);
      return { stop: () => (clearInterval(t), peak) };
    };

    // Baseline: the two probes alone.
    const baseRss = sampleRss();
    const basePhase = await Promise.all(
      probes.map((ns, i) => run<ProbeOut>(ns, { mode: 'probe', rate: PROBE_RATE, durationMs: BASELINE_MS, name: `probe-${i}` })),
    );
    const rssBefore = baseRss.stop();

    // Flood: the flooder for 10 s, the probes inside that window.
    const floodRss = sampleRss();
    const floodRun = run<FloodOut>(flooder, { mode: 'flood', connections: 64, durationMs: FLOOD_MS });
    await new Promise((r) => setTimeout(r, 500));
    const during = await Promise.all(
      probes.map((ns, i) => run<ProbeOut>(ns, { mode: 'probe', rate: PROBE_RATE, durationMs: FLOOD_MS - 1500, name: `probe-${i}-flood` })),
    );
    const flood = await floodRun;
    const rssPeak = floodRss.stop();

    const baseLat = basePhase.flatMap((p) => p.latencies);
    const floodLat = during.flatMap((p) => p.latencies);
    const baseP99 = p99(baseLat);
    const floodP99 = p99(floodLat);
    const bound = Math.max(2 * baseP99, ABS_BOUND_MS);
    const summary = {
      flooder: { sent: flood.sent, per_s: Math.round(flood.sent / (FLOOD_MS / 1000)), statuses: flood.statuses },
      probes: {
        baseline_p99_ms: +baseP99.toFixed(2),
        flood_p99_ms: +floodP99.toFixed(2),
        bound_ms: +bound.toFixed(2),
        samples: [baseLat.length, floodLat.length],
        statuses: during.map((p) => p.statuses),
      },
      host_rss_mib: { baseline_peak: +rssBefore.toFixed(1), flood_peak: +rssPeak.toFixed(1) },
    };
    console.log(`flood: ${JSON.stringify(summary)}`);

    // it was a flood, and the rate limiter took it
    expect(flood.sent).toBeGreaterThan(2000);
    expect(flood.statuses['429'] ?? 0).toBeGreaterThan(flood.sent / 2);
    // the others were served, every time, and fast enough
    for (const p of [...basePhase, ...during]) expect(Object.keys(p.statuses)).toEqual(['200']);
    expect(floodLat.length).toBeGreaterThan(300);
    expect(floodP99).toBeLessThanOrEqual(bound);
    // memory stays bounded, the host is still up
    expect(rssPeak).toBeLessThanOrEqual(rssBefore + RSS_SLACK_MIB);
    expect(host.child.exitCode).toBeNull();
    const after = await run<ProbeOut>(probes[0] as string, { mode: 'probe', rate: 5, durationMs: 400, name: 'probe-after' });
    expect(Object.keys(after.statuses)).toEqual(['200']);

    process.kill(pid, 'SIGTERM');
    await host.result;
    await waitFor(() => processGone(pid), 'host exit');
  });
});
