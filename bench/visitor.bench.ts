/**
 * A LAN visitor's first task (issue 22): time from opening the URL the host
 * printed to the first task's output on the page, with the pairing done as
 * fast as a script can (test/helpers/visitor-flow.ts: the same steps as the
 * e2e test, Chromium and a node-only shell in a network namespace).
 * Split into colony's own part — page loads and sign-in, pasted command to
 * the machine's card (download, sha256 check, pairing, connect), submit to
 * output (dispatch, sandbox, stream) — and the rest (the script's clicks).
 * Peer in the same run: Chromium loading /healthz from the same namespace.
 * Targets: total < 20 s, colony's part < 5 s. Needs root, chromium and `npm run build`.
 *
 *   npm run bench -- visitor
 */
import { createNetns, type NetnsNamespace } from '../test/helpers/netns.js';
import { firstTask } from '../test/helpers/visitor-flow.js';
import { startVisitorHost, visitorMachine } from '../test/helpers/visitor-machine.js';
import { machine, percentile, round, writeResult } from './perf-kit.js';

const RUNS = 5;

export async function runVisitorBench(): Promise<unknown> {
  const net = await createNetns({ count: 1 });
  const { h, home } = await startVisitorHost(net);
  const runs: Array<Record<string, number>> = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const m = await visitorMachine(net, net.namespaces[0] as NetnsNamespace); // a fresh HOME and browser: a new visitor each time
      try {
        const ctx = await m.browser.newContext({ ignoreHTTPSErrors: true });
        const peerPage = await ctx.newPage();
        const p0 = Date.now();
        await peerPage.goto(new URL('/healthz', String(h.userUrl)).toString());
        const peer = Date.now() - p0;
        await peerPage.close();
        const page = await ctx.newPage();
        const r = await firstTask(page, m, {
          url: String(h.userUrl),
          accessCode: String(h.lanCode),
          name: `Visitor ${i}`,
          prompt: `echo "bench-output-${i}"`,
          expect: `bench-output-${i}`,
        });
        const pages = r.at.signedIn;
        const pairing = r.at.paired - r.at.command;
        const dispatch = r.at.output - r.at.submitted;
        runs.push({
          total_ms: r.at.output,
          colony_ms: pages + pairing + dispatch,
          pages_ms: pages,
          pairing_ms: pairing,
          dispatch_ms: dispatch,
          peer_healthz_ms: peer,
        });
      } finally {
        await m.close();
      }
    }
  } finally {
    await h.close(500);
    await net.destroy();
    home.cleanup();
  }
  const p50 = (k: string): number =>
    percentile(
      runs.map((r) => r[k] as number),
      50,
    );
  const figures = {
    machine: machine(),
    runs,
    p50: Object.fromEntries(Object.keys(runs[0] ?? {}).map((k) => [k, round(p50(k))])),
    max_total_ms: Math.max(...runs.map((r) => r['total_ms'] as number)),
    pass: { total_under_20s: p50('total_ms') < 20_000, colony_under_5s: p50('colony_ms') < 5_000 },
  };
  const file = writeResult('visitor', figures);
  console.log(JSON.stringify(figures.p50), figures.pass, file);
  return figures;
}

if (import.meta.url === `file://${process.argv[1]}`) await runVisitorBench();
