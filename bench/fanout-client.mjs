#!/usr/bin/env node
/**
 * Load client for bench/fanout.bench.ts: opens N event-stream connections to
 * a colony host on loopback (SSE or WebSocket), then records, for every event
 * received, `Date.now() - event.at` into a 1-ms histogram.
 *
 *   node bench/fanout-client.mjs '{"kind":"sse"|"ws","url":"http://127.0.0.1:P/events","headers":{},"count":250,"maxMs":60000}'
 *
 * stdout, one JSON line each: {"ready":true,"open":n,"failed":k} once every
 * connection is open (or failed); then, after "stop\n" on stdin (or maxMs),
 * {"done":true, hist:[...], per_client:[...], ...} and exit. Refuses any
 * destination that is not loopback: this is a load generator.
 */
import http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const WebSocket = require('ws');

const spec = JSON.parse(process.argv[2] ?? '{}');
const url = new URL(spec.url);
const host = url.hostname.replace(/^\[|\]$/g, '');
if (!(host.startsWith('127.') || host === 'localhost' || host === '::1')) {
  process.stderr.write(`refusing ${url.hostname}: loopback only\n`);
  process.exit(3);
}
const count = Math.min(Number(spec.count ?? 1), 2000);
const maxMs = Math.min(Number(spec.maxMs ?? 60_000), 300_000);
const HIST = 10_001; // 0..10000 ms, last bucket = overflow
const hist = new Array(HIST).fill(0);
const perClient = Array.from({ length: count }, () => ({ n: 0, first: -1, last: -1 }));
let open = 0;
let failed = 0;
let readySent = false;
const closers = [];

function record(i, text) {
  let e;
  try {
    e = JSON.parse(text);
  } catch {
    return;
  }
  // SSE data is the event JSON; WS frames are {event, id, data: <event JSON>}.
  const body = e && typeof e.data === 'object' && e.data !== null ? e.data : e;
  if (typeof body.at !== 'number') return;
  const lat = Math.max(0, Date.now() - body.at);
  hist[Math.min(HIST - 1, lat)]++;
  const c = perClient[i];
  c.n++;
  const id = typeof e.id === 'number' ? e.id : body.id;
  if (c.first < 0) c.first = id;
  c.last = id;
}

function maybeReady() {
  if (!readySent && open + failed === count) {
    readySent = true;
    process.stdout.write(JSON.stringify({ ready: true, open, failed }) + '\n');
  }
}

function openSse(i) {
  const req = http.request(url, { method: 'GET', headers: { accept: 'text/event-stream', ...spec.headers }, agent: false });
  req.setTimeout(maxMs + 10_000);
  req.on('response', (res) => {
    if (res.statusCode !== 200) {
      failed++;
      res.resume();
      maybeReady();
      return;
    }
    open++;
    maybeReady();
    res.setEncoding('utf8');
    let buf = '';
    res.on('data', (chunk) => {
      buf += chunk;
      let k;
      while ((k = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, k);
        buf = buf.slice(k + 2);
        for (const line of block.split('\n')) if (line.startsWith('data: ')) record(i, line.slice(6));
      }
    });
    res.on('error', () => undefined);
  });
  req.on('error', () => {
    if (!readySent) {
      failed++;
      maybeReady();
    }
  });
  req.end();
  closers.push(() => req.destroy());
}

function openWs(i) {
  const ws = new WebSocket(url, { headers: spec.headers ?? {}, perMessageDeflate: false });
  let counted = false;
  ws.on('open', () => {
    counted = true;
    open++;
    maybeReady();
  });
  ws.on('message', (data) => record(i, data.toString()));
  ws.on('error', () => {
    if (!counted) {
      counted = true;
      failed++;
      maybeReady();
    }
  });
  ws.on('unexpected-response', (_req, res) => {
    if (!counted) {
      counted = true;
      failed++;
      maybeReady();
    }
    res.resume();
  });
  closers.push(() => ws.terminate());
}

// Open in waves of 50 so the listen backlog is never the bottleneck.
async function openAll() {
  for (let i = 0; i < count; i += 50) {
    for (let k = i; k < Math.min(count, i + 50); k++) (spec.kind === 'ws' ? openWs : openSse)(k);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let finished = false;
function finish() {
  if (finished) return;
  finished = true;
  for (const c of closers) c();
  process.stdout.write(
    JSON.stringify({
      done: true,
      open,
      failed,
      hist,
      per_client: perClient.map((c) => c.n),
      first_ids: perClient.map((c) => c.first),
      last_ids: perClient.map((c) => c.last),
    }) + '\n',
    () => process.exit(0),
  );
}

const timer = setTimeout(finish, maxMs);
timer.unref();
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  if (d.includes('stop')) finish();
});
process.stdin.on('end', finish);
void openAll();
