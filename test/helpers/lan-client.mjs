#!/usr/bin/env node
/**
 * A tiny LAN client for tests, run inside a network namespace:
 *
 *   ip netns exec NS node test/helpers/lan-client.mjs '<json>'
 *
 * <json> is one step or {"steps": [...], "cookies": {name: value}}. Steps run in
 * order and share a cookie jar (Set-Cookie from one response is sent on the
 * next request), so a test can create a session and then use it. Each result is
 * printed as one JSON line on stdout. Exit code: 0 all steps ran, 2 a network
 * error or timeout (printed as {"kind":"error"}), 3 bad arguments or a
 * destination that is neither loopback nor 10.0.0.0/8 (the test namespaces):
 * this helper must never send traffic anywhere else.
 *
 * Steps:
 *   {"kind":"http", "url", "method"?, "headers"?, "body"? (string | JSON value), "timeoutMs"?}
 *     → {"kind":"http","status","headers","body","json"?}
 *   {"kind":"ws", "url", "headers"?, "origin"?, "send"?: [string | JSON value], "receive"?: n, "timeoutMs"?}
 *     → {"kind":"ws-open"} | {"kind":"ws-rejected","status","headers","body"},
 *       {"kind":"ws-message","data","json"?} × n, {"kind":"ws-close","code","reason"}
 *   {"kind":"sse", "url", "headers"?, "count": n, "timeoutMs"?}
 *     → {"kind":"sse-open","status","headers"}, {"kind":"sse","event","data","id"} × n, {"kind":"sse-end","received"}
 */
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { createRequire } from 'node:module';

// Resolve `ws` from this file's location (…/node_modules), not from the cwd of `ip netns exec`.
const require = createRequire(import.meta.url);
const WebSocket = require('ws');

const MAX_BODY = 1024 * 1024;
const out = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

class StepError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function allowedHost(hostname) {
  const h = hostname.replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1') return true;
  if (isIP(h) !== 4) return false;
  return h.startsWith('127.') || h.startsWith('10.');
}

function checkUrl(raw) {
  let u;
  try {
    u = new URL(raw);
  } catch {
    throw new StepError('EBADARGS', `not a URL: ${raw}`);
  }
  if (!allowedHost(u.hostname)) throw new StepError('EDESTINATION', `refusing to contact ${u.hostname}: only loopback and 10.0.0.0/8`);
  return u;
}

const jar = new Map(); // cookie name → value (tests talk to one server at a time)

function withCookies(headers) {
  const h = { ...(headers ?? {}) };
  const has = Object.keys(h).some((k) => k.toLowerCase() === 'cookie');
  if (!has && jar.size) h.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  return h;
}

function storeCookies(setCookie) {
  for (const line of [setCookie ?? []].flat()) {
    const [pair] = line.split(';');
    const i = pair.indexOf('=');
    if (i > 0) jar.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
  }
}

function tryJson(text) {
  try {
    return { json: JSON.parse(text) };
  } catch {
    return {};
  }
}

function readBody(res) {
  return new Promise((resolve) => {
    let size = 0;
    const parts = [];
    res.on('data', (c) => {
      size += c.length;
      if (size <= MAX_BODY) parts.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    res.on('error', () => resolve(Buffer.concat(parts).toString('utf8')));
  });
}

// A LAN visitor who accepted the host's self-signed certificate in the browser (workers pin it instead).
const TLS = { rejectUnauthorized: false };
const web = (u) => (u.protocol === 'https:' || u.protocol === 'wss:' ? https : http);

function httpStep(step) {
  const u = checkUrl(step.url);
  const headers = withCookies(step.headers);
  let body;
  if (step.body !== undefined) {
    body = typeof step.body === 'string' ? step.body : JSON.stringify(step.body);
    if (typeof step.body !== 'string' && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json';
    }
  }
  return new Promise((resolve, reject) => {
    const req = web(u).request(u, { method: step.method ?? 'GET', headers, agent: false, timeout: step.timeoutMs ?? 5000, ...TLS }, async (res) => {
      storeCookies(res.headers['set-cookie']);
      const text = await readBody(res);
      out({ kind: 'http', status: res.statusCode, headers: res.headers, body: text, ...tryJson(text) });
      resolve();
    });
    req.on('timeout', () => req.destroy(new StepError('ETIMEDOUT', `no response within ${step.timeoutMs ?? 5000} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

function wsStep(step) {
  const u = checkUrl(step.url);
  const want = step.receive ?? 0;
  const timeoutMs = step.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(u, { headers: withCookies(step.headers), origin: step.origin, handshakeTimeout: timeoutMs, maxPayload: 4 * MAX_BODY, ...TLS });
    let got = 0;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new StepError('ETIMEDOUT', `received ${got}/${want} messages within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      resolve();
    };
    ws.on('unexpected-response', async (_req, res) => {
      const text = await readBody(res);
      out({ kind: 'ws-rejected', status: res.statusCode, headers: res.headers, body: text, ...tryJson(text) });
      finish();
    });
    ws.on('upgrade', (res) => storeCookies(res.headers['set-cookie']));
    ws.on('open', () => {
      out({ kind: 'ws-open' });
      for (const m of step.send ?? []) ws.send(typeof m === 'string' ? m : JSON.stringify(m));
      if (want === 0) ws.close(1000, 'done');
    });
    ws.on('message', (data) => {
      const text = data.toString('utf8');
      out({ kind: 'ws-message', data: text, ...tryJson(text) });
      if (++got >= want) ws.close(1000, 'done');
    });
    ws.on('close', (code, reason) => {
      out({ kind: 'ws-close', code, reason: reason.toString('utf8') });
      finish();
    });
    ws.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

function sseStep(step) {
  const u = checkUrl(step.url);
  const count = step.count ?? 1;
  const timeoutMs = step.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    let received = 0;
    const req = web(u).get(u, { headers: { accept: 'text/event-stream', ...withCookies(step.headers) }, agent: false, ...TLS }, (res) => {
      storeCookies(res.headers['set-cookie']);
      out({ kind: 'sse-open', status: res.statusCode, headers: res.headers });
      if (res.statusCode !== 200) {
        readBody(res).then((body) => {
          out({ kind: 'sse-end', received, body });
          done();
        });
        return;
      }
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        buf += chunk.replace(/\r\n?/g, '\n');
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0 && received < count) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = { kind: 'sse', event: 'message', data: '', id: null };
          const data = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':') || line === '') continue;
            const c = line.indexOf(':');
            const field = c < 0 ? line : line.slice(0, c);
            const value = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
            if (field === 'data') data.push(value);
            else if (field === 'event') ev.event = value;
            else if (field === 'id') ev.id = value;
          }
          if (data.length === 0) continue; // comment-only or keep-alive block
          ev.data = data.join('\n');
          out({ ...ev, ...tryJson(ev.data) });
          received++;
        }
        if (received >= count) {
          out({ kind: 'sse-end', received });
          done();
        }
      });
      res.on('end', () => {
        out({ kind: 'sse-end', received });
        done();
      });
    });
    const timer = setTimeout(() => req.destroy(new StepError('ETIMEDOUT', `received ${received}/${count} events within ${timeoutMs} ms`)), timeoutMs);
    let settled = false;
    function done() {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve();
    }
    req.on('error', (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(e);
    });
  });
}

const STEPS = { http: httpStep, ws: wsStep, sse: sseStep };

async function main() {
  let spec;
  try {
    spec = JSON.parse(process.argv[2] ?? '');
  } catch {
    throw new StepError('EBADARGS', 'usage: lan-client.mjs \'{"kind":"http","url":"http://10.x.0.1:port/"}\'');
  }
  for (const [k, v] of Object.entries(spec.cookies ?? {})) jar.set(k, String(v));
  const steps = Array.isArray(spec.steps) ? spec.steps : [spec];
  for (const [i, step] of steps.entries()) {
    const run = STEPS[step?.kind];
    if (!run) throw new StepError('EBADARGS', `step ${i}: unknown kind ${JSON.stringify(step?.kind)}`);
    try {
      await run(step);
    } catch (e) {
      e.step = i;
      throw e;
    }
  }
}

let code = 0;
try {
  await main();
} catch (e) {
  code = e.code === 'EBADARGS' || e.code === 'EDESTINATION' ? 3 : 2;
  out({ kind: 'error', step: e.step ?? null, code: e.code ?? 'EUNKNOWN', message: e.message });
}
process.stdout.write('', () => process.exit(code));
