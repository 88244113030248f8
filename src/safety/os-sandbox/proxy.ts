/**
 * The host-side network proxy of one attempt: the sandbox has no network
 * of its own, only a Unix socket bound into it, and this proxy behind that
 * socket connects where `safety.network_allow` (plus the agent's own API
 * endpoint) allows. HTTP CONNECT (https, any TCP) and plain absolute-form
 * HTTP requests are understood; everything else is refused.
 *
 * The host's loopback is never reached through a name: a name is resolved
 * here and a loopback answer is refused unless that exact host:port was
 * allowed (the agent's endpoint on 127.0.0.1 in local set-ups). Every
 * refusal goes to `onDenied` (audit + the task's output).
 */
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { ipInAnyCidr, LOOPBACK_CIDRS, parseIp } from '../../core/cidr.js';
import { isHostAllowed, normaliseHost, type AllowList } from '../network.js';

export interface ProxyPolicy {
  allow: AllowList; // built without implicit loopback
  exact: ReadonlySet<string>; // "host:port" always allowed (the agent's endpoint)
}

export type ProxyDecision = { ok: true } | { ok: false; reason: string };

/** Policy on the name or IP as the task wrote it (before any DNS). */
export function decideTarget(host: string, port: number, policy: ProxyPolicy): ProxyDecision {
  const h = normaliseHost(host);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return { ok: false, reason: `bad port ${port}` };
  if (policy.exact.has(`${h}:${port}`)) return { ok: true };
  if (isHostAllowed(h, policy.allow)) return { ok: true };
  return { ok: false, reason: `${h}:${port} is not in safety.network_allow` };
}

/** After DNS: a permitted name that points at the host's loopback is refused (rebinding to the admin app). */
export function decideResolved(host: string, port: number, ip: string, policy: ProxyPolicy): ProxyDecision {
  const h = normaliseHost(host);
  const addr = parseIp(ip);
  if (addr && ipInAnyCidr(addr, LOOPBACK_CIDRS) && !policy.exact.has(`${h}:${port}`) && !(parseIp(h) && isHostAllowed(h, policy.allow))) {
    return { ok: false, reason: `${h} resolves to the host's loopback (${ip}); not reachable from a task` };
  }
  return { ok: true };
}

export interface AttemptProxy {
  close(): void;
}

const MAX_HEAD = 16 * 1024;

function parseTarget(head: string): { host: string; port: number; forward: string | null } | null {
  const line = head.slice(0, head.indexOf('\r\n'));
  const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(line);
  if (!m) return null;
  const [, method, target] = m as unknown as [string, string, string];
  if (method === 'CONNECT') {
    const hp = /^\[?([^\]]+?)\]?:(\d+)$/.exec(target);
    return hp ? { host: hp[1] as string, port: Number(hp[2]), forward: null } : null;
  }
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:') return null;
  // Origin-form request line, one request per connection: a second request on a kept-alive socket cannot go elsewhere.
  const rest = head
    .slice(head.indexOf('\r\n') + 2)
    .split('\r\n')
    .filter((l) => l && !/^(proxy-connection|proxy-authorization|connection):/i.test(l));
  const forward = [`${method} ${url.pathname}${url.search} HTTP/1.1`, ...rest, 'Connection: close', '', ''].join('\r\n');
  return { host: url.hostname, port: Number(url.port || 80), forward };
}

interface Attempt {
  policy: ProxyPolicy;
  onDenied: (target: string, reason: string) => void;
}

/** A proxy server; `attemptOf` says whose request a connection's head is (null: refused). */
function proxyServer(attemptOf: (head: string) => Attempt | null): { server: net.Server; sockets: Set<net.Socket> } {
  const sockets = new Set<net.Socket>();
  const refuse = (client: net.Socket, a: Attempt | null, target: string, reason: string): void => {
    a?.onDenied(target, reason);
    client.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\ncolony sandbox: connection to ${target} denied: ${reason}\n`);
  };
  async function handle(client: net.Socket, head: string, rest: Buffer): Promise<void> {
    const a = attemptOf(head);
    const t = parseTarget(head);
    if (!a) return refuse(client, null, t ? `${t.host}:${t.port}` : 'unknown', 'not a request of a running task');
    if (!t) return refuse(client, a, 'unknown', 'not an HTTP proxy request (CONNECT or absolute http:// URL)');
    const target = `${normaliseHost(t.host)}:${t.port}`;
    const d = decideTarget(t.host, t.port, a.policy);
    if (!d.ok) return refuse(client, a, target, d.reason);
    let ip: string;
    try {
      ip = parseIp(normaliseHost(t.host)) ? normaliseHost(t.host) : (await lookup(t.host)).address;
    } catch {
      return refuse(client, a, target, 'name does not resolve');
    }
    const r = decideResolved(t.host, t.port, ip, a.policy);
    if (!r.ok) return refuse(client, a, target, r.reason);
    const up = net.connect({ host: ip, port: t.port });
    sockets.add(up);
    up.on('close', () => sockets.delete(up));
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
    up.once('connect', () => {
      if (t.forward === null) client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      else up.write(t.forward);
      if (rest.length) up.write(rest);
      client.pipe(up);
      up.pipe(client);
      client.resume();
    });
  }
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > MAX_HEAD) client.destroy();
        return;
      }
      client.off('data', onData);
      client.pause();
      void handle(client, buf.subarray(0, end + 4).toString('latin1'), buf.subarray(end + 4));
    };
    client.on('data', onData);
  });
  server.on('error', () => undefined);
  return { server, sockets };
}

/** Linux: one proxy per attempt behind a Unix socket that only that attempt's sandbox has. */
export function startAttemptProxy(socketPath: string, policy: ProxyPolicy, onDenied: (target: string, reason: string) => void): AttemptProxy {
  const { server, sockets } = proxyServer(() => ({ policy, onDenied }));
  try {
    unlinkSync(socketPath);
  } catch {
    /* none left over */
  }
  server.listen(socketPath); // binds synchronously: the socket file exists before bwrap binds it in
  return {
    close() {
      server.close();
      for (const s of sockets) s.destroy();
      try {
        unlinkSync(socketPath);
      } catch {
        /* already gone */
      }
    },
  };
}

/**
 * macOS: no socket can be bound into a Seatbelt sandbox, so one proxy on
 * 127.0.0.1 serves every attempt, and an attempt is known by the secret in
 * its proxy URL (`http://colony:SECRET@127.0.0.1:PORT`, sent by clients as
 * Proxy-Authorization). A request without a live secret is refused.
 */
export class SharedProxy {
  private readonly attempts = new Map<string, Attempt>();
  private readonly server: net.Server;
  constructor() {
    const { server } = proxyServer((head) => {
      const m = /^proxy-authorization:\s*basic\s+(\S+)\s*$/im.exec(head);
      const [, token] = /^colony:(.+)$/.exec(Buffer.from(m?.[1] ?? '', 'base64').toString('utf8')) ?? [];
      return token ? (this.attempts.get(token) ?? null) : null;
    });
    this.server = server;
    server.listen(0, '127.0.0.1');
    server.unref();
  }
  /** The proxy URL for one attempt, or null while the listener is not up yet. */
  register(policy: ProxyPolicy, onDenied: (target: string, reason: string) => void): { url: string | null; close(): void } {
    const addr = this.server.address();
    if (!addr || typeof addr !== 'object') return { url: null, close: () => undefined };
    const token = randomBytes(18).toString('base64url');
    this.attempts.set(token, { policy, onDenied });
    return { url: `http://colony:${token}@127.0.0.1:${addr.port}`, close: () => void this.attempts.delete(token) };
  }
  port(): number | null {
    const addr = this.server.address();
    return addr && typeof addr === 'object' ? addr.port : null;
  }
}
