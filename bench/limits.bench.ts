/**
 * Physical limits of this machine for the hot paths (issue 17), measured alone:
 * Ed25519 signatures and verifications per second with node:crypto (one thread,
 * and on libuv's thread pool), the same for a protocol message (canonical JSON
 * included), and loopback TCP writes per second (one small write per syscall,
 * as one frame per event per client costs, vs the same bytes corked).
 *
 *   npx tsx bench/limits.bench.ts [--seconds 1]
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { signMessage, verifyMessage } from '../src/remote/signing.js';
import { isMain, machine, writeResult } from './perf-kit.js';

function rate(seconds: number, fn: () => void): number {
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < seconds * 1000) {
    for (let i = 0; i < 50; i++) fn();
    n += 50;
  }
  return Math.round(n / ((performance.now() - t0) / 1000));
}

async function poolRate(seconds: number, inflight: number, fn: (done: () => void) => void): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  await new Promise<void>((resolve) => {
    let live = 0;
    const more = (): void => {
      while (live < inflight && performance.now() - t0 < seconds * 1000) {
        live++;
        fn(() => {
          live--;
          n++;
          if (live === 0 && performance.now() - t0 >= seconds * 1000) resolve();
          else more();
        });
      }
    };
    more();
  });
  return Math.round(n / ((performance.now() - t0) / 1000));
}

/** Loopback writes/s of `size`-byte chunks: each its own write, or `perCork` writes corked together. */
async function socketRate(seconds: number, size: number, perCork: number): Promise<number> {
  const server = createServer((s) => s.resume());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const c: Socket = connect(port, '127.0.0.1');
  await new Promise<void>((r) => c.once('connect', () => r()));
  const chunk = 'x'.repeat(size);
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < seconds * 1000) {
    if (perCork > 1) c.cork();
    for (let i = 0; i < perCork; i++) c.write(chunk);
    if (perCork > 1) c.uncork();
    n += perCork;
    if (c.writableLength > 1 << 20) await new Promise((r) => c.once('drain', r));
  }
  await new Promise((r) => (c.writableLength === 0 ? r(null) : c.once('drain', r)));
  const out = Math.round(n / ((performance.now() - t0) / 1000));
  c.destroy();
  server.close();
  return out;
}

export async function runLimitsBench(seconds = 1): Promise<Record<string, unknown>> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const data = Buffer.alloc(400, 7);
  const sig = sign(null, data, privateKey);
  const msg = {
    type: 'TASK_ASSIGNED',
    worker_id: 'w-0123456789',
    session: 'abcdefghijklmnopqrstuv',
    task_id: 'bench-abcdef:t123',
    attempt: 1,
    task: { prompt: 'noop', title: 't123' },
    budget: 0,
    engine: 'noop',
    model: null,
    workspace: '.',
    nonce: 'abcdefghijklmnopqrstuv',
    expires_at: 1_800_000_000_000,
    lease_ms: 30_000,
  };
  const signedMsg = signMessage(msg, privateKey);
  const result = {
    benchmark: 'limits',
    machine: machine(),
    ed25519_per_s: {
      sign_one_thread: rate(seconds, () => sign(null, data, privateKey)),
      verify_one_thread: rate(seconds, () => verify(null, data, publicKey, sig)),
      sign_thread_pool: await poolRate(seconds, 64, (done) => sign(null, data, privateKey, () => done())),
      verify_thread_pool: await poolRate(seconds, 64, (done) => verify(null, data, publicKey, sig, () => done())),
      sign_protocol_message: rate(seconds, () => signMessage(msg, privateKey)),
      verify_protocol_message: rate(seconds, () => verifyMessage(signedMsg, publicKey)),
    },
    loopback_writes_per_s: {
      '400 B, one write each': await socketRate(seconds, 400, 1),
      '400 B, 16 corked': await socketRate(seconds, 400, 16),
    },
  };
  writeResult('limits', result);
  return result;
}

if (isMain(import.meta.url)) {
  const i = process.argv.indexOf('--seconds');
  const r = await runLimitsBench(i >= 0 ? Number(process.argv[i + 1]) : 1);
  console.log(JSON.stringify(r, null, 2));
}
