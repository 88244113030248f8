#!/usr/bin/env node
/**
 * A tiny load generator for LAN tests, run inside a network namespace:
 *
 *   ip netns exec NS node test/helpers/lan-load.mjs '<json>'
 *
 * <json>: {"url", "method"?, "headers"?, "body"? (JSON value), "count", "concurrency"?, "timeoutMs"?}
 * Sends `count` requests, `concurrency` at a time (default 1), each on a new
 * connection, and prints one JSON line:
 *   {"kind":"load","statuses":{"201":3,"429":97},"codes":{"E_RATE_LIMITED":97},
 *    "retry_after":["42",…],"latencies_ms":[…],"errors":[…]}
 * Like lan-client.mjs it only talks to loopback and 10.0.0.0/8 (exit 3 otherwise).
 */
import http from 'node:http';
import { isIP } from 'node:net';

function allowed(hostname) {
  const h = hostname.replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && (h.startsWith('127.') || h.startsWith('10.'));
}

function once(u, spec) {
  const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);
  const headers = { ...(spec.headers ?? {}), ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }) };
  const started = process.hrtime.bigint();
  return new Promise((resolve) => {
    const req = http.request(u, { method: spec.method ?? 'GET', headers, agent: false, timeout: spec.timeoutMs ?? 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text.length < 65536 ? (text += d) : null));
      res.on('end', () => {
        let code;
        try {
          code = JSON.parse(text).code;
        } catch {
          code = undefined;
        }
        resolve({ status: res.statusCode, code, retryAfter: res.headers['retry-after'], ms: Number(process.hrtime.bigint() - started) / 1e6 });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ error: e.code ?? e.message, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
    req.end(body);
  });
}

const spec = JSON.parse(process.argv[2] ?? '{}');
const u = new URL(spec.url);
if (!allowed(u.hostname)) {
  process.stdout.write(`${JSON.stringify({ kind: 'error', code: 'EDESTINATION', message: `refusing to contact ${u.hostname}` })}\n`);
  process.exit(3);
}
const out = { kind: 'load', statuses: {}, codes: {}, retry_after: [], latencies_ms: [], errors: [] };
let next = 0;
async function worker() {
  while (next < spec.count) {
    next++;
    const r = await once(u, spec);
    out.latencies_ms.push(Math.round(r.ms * 100) / 100);
    if (r.error) {
      out.errors.push(r.error);
      continue;
    }
    out.statuses[r.status] = (out.statuses[r.status] ?? 0) + 1;
    if (r.code) out.codes[r.code] = (out.codes[r.code] ?? 0) + 1;
    if (r.retryAfter !== undefined && out.retry_after.length < 5) out.retry_after.push(r.retryAfter);
  }
}
await Promise.all(Array.from({ length: spec.concurrency ?? 1 }, worker));
process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0));
