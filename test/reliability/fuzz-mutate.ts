/**
 * Seeded HTTP request mutator for fuzz-http.test.ts: starts from a corpus of
 * valid-looking requests to the admin and user apps and mutates the method,
 * path and query, headers (Host, Origin, auth, cookies, content type and
 * length, framing) and body (JSON type confusion, prototype keys, deep
 * nesting, truncation, oversize, raw bytes). Requests are raw bytes so framing
 * that Node's own client refuses to send (bad methods, broken Content-Length,
 * invalid chunking, control characters) can be sent too. Pure: no I/O.
 */
export interface Seed {
  app: 'admin' | 'user';
  method: string;
  path: string;
  body?: unknown;
  /** State-changing requests that a valid caller may legitimately make (accounted for, not forbidden). */
  accountable?: 'task' | 'session' | 'pairing';
}

export interface RawRequest {
  app: 'admin' | 'user';
  method: string;
  path: string;
  bytes: Buffer;
  /** What was mutated, for failure messages. */
  mutations: string[];
  /** The body is shorter than Content-Length says: the server may rightly wait for the rest. */
  truncatedBody: boolean;
  /** True when the request carried the real credentials (admin bearer / user session cookie). */
  authed: boolean;
  accountable: Seed['accountable'];
}

export interface Creds {
  adminHost: string; // 127.0.0.1:PORT
  userHost: string;
  token: string;
  cookie: string; // colony_session=...
}

type Rand = () => number;

const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
const chance = (r: Rand, p: number): boolean => r() < p;

export const ADMIN_SEEDS: Seed[] = [
  { app: 'admin', method: 'GET', path: '/api/status' },
  { app: 'admin', method: 'POST', path: '/admin/execute', body: { prompt: 'echo fuzz', engine: 'exec', budget_usd: 0.01 }, accountable: 'task' },
  {
    app: 'admin',
    method: 'POST',
    path: '/admin/execute',
    body: {
      graph: {
        name: 'fz',
        tasks: [
          { id: 'a', prompt: 'true', engine: 'exec' },
          { id: 'b', prompt: 'true', depends_on: ['a'] },
        ],
      },
    },
    accountable: 'task',
  },
  { app: 'admin', method: 'GET', path: '/admin/tasks?state=ready&limit=10&offset=0&q=x' },
  { app: 'admin', method: 'GET', path: '/admin/tasks/unknown-task' },
  { app: 'admin', method: 'POST', path: '/admin/tasks/unknown-task/skip' },
  { app: 'admin', method: 'POST', path: '/admin/tasks/unknown-task/retry' },
  { app: 'admin', method: 'POST', path: '/admin/tasks/unknown-task/cancel' },
  { app: 'admin', method: 'POST', path: '/admin/tasks/unknown-task/force-run' },
  { app: 'admin', method: 'POST', path: '/admin/tasks/unknown-task/drop-edge', body: { depends_on: 'x' } },
  { app: 'admin', method: 'POST', path: '/admin/approve/unknown-task' },
  { app: 'admin', method: 'POST', path: '/admin/reject/unknown-task' },
  { app: 'admin', method: 'GET', path: '/admin/audit?limit=5&action=task.*' },
  { app: 'admin', method: 'GET', path: '/admin/graphs' },
  { app: 'admin', method: 'GET', path: '/admin/graphs/unknown-graph' },
  { app: 'admin', method: 'GET', path: '/admin/workers' },
  { app: 'admin', method: 'GET', path: '/admin/costs' },
  { app: 'admin', method: 'GET', path: '/admin/pending' },
  { app: 'admin', method: 'GET', path: '/admin/sessions' },
  { app: 'admin', method: 'PATCH', path: '/admin/sessions/unknown-session', body: { permissions: ['view_all'] } },
  { app: 'admin', method: 'POST', path: '/admin/sessions/unknown-session/revoke' },
  { app: 'admin', method: 'GET', path: '/admin/pending-changes' },
  { app: 'admin', method: 'GET', path: '/admin/remote-workers' },
  { app: 'admin', method: 'POST', path: '/admin/workers/unknown-worker/revoke' },
  { app: 'admin', method: 'GET', path: '/events' },
  { app: 'admin', method: 'GET', path: '/?token=wrong' },
  { app: 'admin', method: 'GET', path: '/assets/../../../../etc/passwd' },
];

/** Control endpoints: fuzzed only without valid credentials (a valid call would legitimately halt or resume the host). */
export const ADMIN_CONTROL_SEEDS: Seed[] = [
  { app: 'admin', method: 'POST', path: '/admin/kill' },
  { app: 'admin', method: 'POST', path: '/admin/pause' },
  { app: 'admin', method: 'POST', path: '/admin/resume' },
];

export const USER_SEEDS: Seed[] = [
  { app: 'user', method: 'GET', path: '/healthz' },
  { app: 'user', method: 'GET', path: '/dashboard' },
  { app: 'user', method: 'GET', path: '/api/status' },
  { app: 'user', method: 'GET', path: '/api/workers' },
  { app: 'user', method: 'POST', path: '/api/session', body: { display_name: 'fuzzer' }, accountable: 'session' },
  { app: 'user', method: 'GET', path: '/api/session' },
  { app: 'user', method: 'PATCH', path: '/api/session', body: { display_name: 'fuzzer' } },
  { app: 'user', method: 'POST', path: '/api/submit-task', body: { prompt: 'echo hi', engine: 'exec', budget_usd: 0.01 }, accountable: 'task' },
  {
    app: 'user',
    method: 'POST',
    path: '/api/submit-task',
    body: { graph: { name: 'g', tasks: [{ id: 'a', prompt: 'x', target: 'host' }] } },
    accountable: 'task',
  },
  { app: 'user', method: 'GET', path: '/api/my-sessions' },
  { app: 'user', method: 'GET', path: '/api/tasks/unknown-task' },
  { app: 'user', method: 'POST', path: '/api/pairing-codes', body: {}, accountable: 'pairing' },
  { app: 'user', method: 'POST', path: '/api/workers/enroll', body: { proof: 'A'.repeat(43), public_key: 'x', name: 'w' } },
  { app: 'user', method: 'GET', path: '/api/my-workers' },
  { app: 'user', method: 'POST', path: '/api/my-workers/unknown/revoke' },
  { app: 'user', method: 'GET', path: '/events' },
  { app: 'user', method: 'GET', path: '/ws/progress' },
  { app: 'user', method: 'GET', path: '/admin/execute' },
  { app: 'user', method: 'POST', path: '/admin/kill' },
];

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'TRACE', 'CONNECT', 'FOO', 'get', 'G\tET', 'POST\u0000', 'P'.repeat(300), ''];
const PATH_JUNK = [
  '/%',
  '/%zz',
  '/%00',
  '/%2e%2e/%2e%2e/etc/passwd',
  '//',
  '/./',
  '/..',
  '/;a=b',
  '/\u00e9\u4e2d',
  '/%F0%9F%92%A9',
  '/' + 'a'.repeat(9000),
  '/*',
  '?',
  '#frag',
  '/%u0000',
];
const QUERY_JUNK = [
  'limit=-1',
  'limit=1e309',
  'limit=abc',
  'offset=-5',
  'state=__proto__',
  'q=%FF%FE',
  'limit=1&limit=2',
  'before_id=0',
  'action=%',
  'lastEventId=-1',
  'token=' + 'x'.repeat(5000),
  '__proto__[admin]=1',
  'constructor.prototype.x=1',
  'a[]=1&a[]=2',
  'graph_id=' + '%00'.repeat(50),
];
const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-16',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json, text/plain',
  'application/xml',
  '',
  'application/json; charset=latin1',
  'APPLICATION/JSON',
  'application/jsonp',
];
const JSON_VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  1e308,
  -1e308,
  2 ** 53 + 1,
  '',
  'x'.repeat(70_000),
  [],
  {},
  [[[[]]]],
  JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}') as unknown,
  'NaN',
  '\u0000',
  '\ud800',
  '<script>',
];

function mutateJson(r: Rand, v: unknown, depth = 0, out: string[] = []): unknown {
  if (depth > 4) return v;
  if (Array.isArray(v)) {
    if (chance(r, 0.2)) return (out.push('array→value'), pick(r, JSON_VALUES));
    return v.map((x) => mutateJson(r, x, depth + 1, out));
  }
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (chance(r, 0.1)) {
        out.push(`drop ${k}`);
        continue;
      }
      o[k] = chance(r, 0.3) ? (out.push(`${k}→junk`), pick(r, JSON_VALUES)) : mutateJson(r, x, depth + 1, out);
    }
    if (chance(r, 0.2)) o[pick(r, ['__proto__', 'constructor', 'extra', 'prototype', 'toString', ''])] = pick(r, JSON_VALUES);
    return o;
  }
  return chance(r, 0.3) ? (out.push('scalar→junk'), pick(r, JSON_VALUES)) : v;
}

function bodyBytes(r: Rand, seed: Seed, muts: string[]): Buffer | null {
  const roll = r();
  if (seed.body === undefined && roll < 0.7) return null;
  if (roll < 0.45) return Buffer.from(JSON.stringify(mutateJson(r, seed.body ?? {}, 0, muts)) ?? 'null');
  muts.push('raw body');
  const json = JSON.stringify(seed.body ?? { a: 1 });
  return pick(r, [
    () => Buffer.from(json.slice(0, Math.floor(r() * json.length))), // truncated JSON
    () => Buffer.from(json + ','),
    () => Buffer.from('{"a":NaN,"b":undefined}'),
    () => Buffer.from('['.repeat(5000) + ']'.repeat(5000)),
    () => Buffer.from('{"a":' + '{"a":'.repeat(3000) + '1' + '}'.repeat(3001)),
    () => Buffer.from(Array.from({ length: 256 }, () => Math.floor(r() * 256))),
    () => Buffer.from('{"prompt":"' + 'A'.repeat(3 * 1024 * 1024) + '"}'), // over both body limits
    () => Buffer.from('\ufeff' + json),
    () => Buffer.from('{"prompt":"a","prompt":{"x":1}}'),
    () => Buffer.from('display_name=x&prompt=y'),
  ])();
}

export function mutate(r: Rand, seed: Seed, creds: Creds, o: { allowAuth: boolean }): RawRequest {
  const muts: string[] = [];
  const host = seed.app === 'admin' ? creds.adminHost : creds.userHost;
  let method = seed.method;
  if (chance(r, 0.15)) ((method = pick(r, METHODS)), muts.push(`method ${JSON.stringify(method).slice(0, 20)}`));
  let path = seed.path;
  if (chance(r, 0.25)) ((path += pick(r, PATH_JUNK)), muts.push('path junk'));
  if (chance(r, 0.25)) ((path += (path.includes('?') ? '&' : '?') + pick(r, QUERY_JUNK)), muts.push('query junk'));
  // Other request-target forms of the same route (absolute-form is routed by its path: keep the seed's route).
  if (chance(r, 0.05)) ((path = pick(r, ['*', `http://evil.example${path}`, path.slice(1), `/..${path}`, `/./${path.slice(1)}`])), muts.push('request-target'));

  const headers: [string, string][] = [];
  const hostRoll = r();
  if (hostRoll < 0.8) headers.push(['Host', host]);
  else if (hostRoll < 0.85) muts.push('no Host');
  else
    (headers.push(['Host', pick(r, ['evil.example', 'localhost:1', `${host}.evil.example`, '[::1]', 'x'.repeat(2000), host + ', evil.example'])]),
      muts.push('bad Host'));

  let authed = false;
  if (seed.app === 'admin') {
    const a = r();
    if (o.allowAuth && a < 0.6) (headers.push(['Authorization', `Bearer ${creds.token}`]), (authed = true));
    else if (a < 0.75)
      (headers.push([
        'Authorization',
        pick(r, [
          `Bearer ${creds.token}x`,
          'Bearer ',
          `Basic ${Buffer.from('admin:admin').toString('base64')}`,
          `bearer ${creds.token.slice(1)}`,
          'Bearer ' + 'A'.repeat(10_000),
        ]),
      ]),
        muts.push('bad auth'));
    else if (a < 0.85)
      (headers.push(['Cookie', pick(r, ['colony_admin=forged', 'colony_admin=', 'colony_admin=' + 'x'.repeat(4096), '=;=;'])]), muts.push('bad cookie'));
  } else {
    const a = r();
    if (o.allowAuth && a < 0.6) (headers.push(['Cookie', creds.cookie]), (authed = true));
    else if (a < 0.8)
      (headers.push([
        'Cookie',
        pick(r, [
          creds.cookie + 'x',
          'colony_session=forged.sig',
          'colony_session=',
          creds.cookie.replace(/=.{4}/, '=AAAA'),
          'colony_session=' + '%'.repeat(3000),
        ]),
      ]),
        muts.push('bad session cookie'));
  }
  if (chance(r, 0.2))
    (headers.push(['Origin', pick(r, ['null', 'http://evil.example', `http://${host}`, 'file://', 'http://127.0.0.1:1'])]), muts.push('origin'));
  if (chance(r, 0.1)) (headers.push(['X-Forwarded-For', pick(r, ['10.0.0.1', '1.2.3.4, 127.0.0.1', 'garbage'])]), muts.push('xff'));
  if (chance(r, 0.05)) (headers.push(['Last-Event-ID', pick(r, ['-1', '1e99', 'abc', '999999999999'])]), muts.push('last-event-id'));
  if (chance(r, 0.08)) {
    headers.push(['Upgrade', 'websocket'], ['Connection', 'Upgrade']);
    if (chance(r, 0.5))
      headers.push(['Sec-WebSocket-Key', pick(r, ['dGhlIHNhbXBsZSBub25jZQ==', 'short', ''])], ['Sec-WebSocket-Version', pick(r, ['13', '8', 'x'])]);
    muts.push('upgrade');
  }
  if (chance(r, 0.05)) (headers.push(['X-Big', 'y'.repeat(20_000)]), muts.push('huge header'));
  if (chance(r, 0.03)) (headers.push(['Bad Header', 'x'], ['X-Ctl', 'a\u0001b']), muts.push('invalid header'));

  const body = bodyBytes(r, seed, muts);
  if (body !== null || chance(r, 0.1)) {
    const ct = chance(r, 0.75) ? 'application/json' : pick(r, CONTENT_TYPES);
    if (ct) headers.push(['Content-Type', ct]);
    if (ct !== 'application/json') muts.push(`content-type ${ct}`);
  }
  let truncatedBody = false;
  const len = body?.length ?? 0;
  const framing = r();
  let payload = body ?? Buffer.alloc(0);
  if (framing < 0.8) {
    if (body !== null) headers.push(['Content-Length', String(len)]);
  } else if (framing < 0.85) {
    headers.push(['Content-Length', String(len + 10)]); // promises more than it sends
    truncatedBody = true;
    muts.push('content-length too big');
  } else if (framing < 0.88) {
    headers.push(['Content-Length', pick(r, ['-1', 'abc', '1e3', `${len}, ${len + 1}`])]);
    muts.push('content-length junk');
  } else if (framing < 0.93) {
    headers.push(['Transfer-Encoding', 'chunked']);
    const chunked = chance(r, 0.5)
      ? Buffer.concat([Buffer.from(`${len.toString(16)}\r\n`), payload, Buffer.from('\r\n0\r\n\r\n')])
      : Buffer.concat([Buffer.from(pick(r, ['zz\r\n', 'ffffffffff\r\n', '5\r\nab\r\n', '-1\r\n'])), payload]);
    payload = chunked;
    truncatedBody = true;
    muts.push('chunked');
  } else {
    headers.push(['Content-Length', String(len)], ['Transfer-Encoding', 'chunked']); // smuggling-shaped
    muts.push('CL+TE');
  }
  headers.push(['Connection', 'close']);
  const head = `${method} ${path} HTTP/1.1\r\n${headers.map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
  return {
    app: seed.app,
    method,
    path,
    bytes: Buffer.concat([Buffer.from(head, 'latin1'), payload]),
    mutations: muts,
    truncatedBody,
    authed,
    accountable: seed.accountable,
  };
}
