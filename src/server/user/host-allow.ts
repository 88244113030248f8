/**
 * The user app's Host allow-list (issue 14, DNS rebinding): a page on an
 * attacker's domain whose name is rebound to this host's address reaches the
 * app with `Host: attacker.example`; only the host's own addresses, loopback
 * names, its own hostname and the names in `lan.host_names` are answered. `Origin` is checked
 * against the same list and the app's port — never against the request's own
 * Host, which the attacker chooses.
 */
import { hostname, networkInterfaces } from 'node:os';
import type { FastifyRequest } from 'fastify';

const REFRESH_MS = 5000;

/** The names a Host header may carry (lower case, IPv6 without brackets), refreshed as interfaces come and go. */
export function lanHostNames(configured: readonly string[]): () => ReadonlySet<string> {
  let cached: Set<string> | null = null;
  let at = 0;
  return () => {
    const now = Date.now();
    if (cached && now - at < REFRESH_MS) return cached;
    // The machine's own name (and its mDNS form) is the admin's, not an attacker's: allowed like its addresses.
    const own = hostname().toLowerCase();
    const names = new Set<string>(['localhost', '127.0.0.1', '::1', own, `${own}.local`, ...configured.map((n) => n.toLowerCase().replace(/\.$/, ''))]);
    for (const addrs of Object.values(networkInterfaces())) {
      for (const a of addrs ?? []) names.add(a.address.toLowerCase().replace(/%.*$/, ''));
    }
    cached = names;
    at = now;
    return names;
  };
}

/** The hostname part of a Host header ("name:port", "[v6]:port"), lower case, or null when malformed. */
export function hostnameOf(host: string | undefined): string | null {
  if (!host) return null;
  const h = host.trim().toLowerCase();
  const v6 = /^\[([0-9a-f:.]+)(%[^\]]*)?\](?::(\d{1,5}))?$/.exec(h);
  if (v6) return v6[1] ?? null;
  const m = /^([a-z0-9.-]+)(?::(\d{1,5}))?$/.exec(h);
  return m ? (m[1] ?? '').replace(/\.$/, '') : null;
}

export function hostAllowed(request: FastifyRequest, allowed: ReadonlySet<string>): boolean {
  const name = hostnameOf(request.headers.host);
  return name !== null && allowed.has(name);
}

/** A browser Origin must name an allowed host on this app's port; requests without Origin (CLI, workers) are not cross-site. */
export function originAllowedLan(request: FastifyRequest, allowed: ReadonlySet<string>): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return false; // includes "null" (sandboxed frames, file://)
  }
  if (u.protocol !== `${request.protocol}:`) return false; // https behind TLS (from the socket, not headers)
  const port = u.port === '' ? (u.protocol === 'https:' ? 443 : 80) : Number(u.port);
  const name = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  // The port the client really connected to; app.inject() has no socket port, so fall back to the (already allowed) Host's.
  const own = request.socket.localPort ?? portOf(request.headers.host);
  return allowed.has(name) && port === own;
}

function portOf(host: string | undefined): number | undefined {
  const m = /:(\d{1,5})$/.exec(host ?? '');
  return m ? Number(m[1]) : 80;
}
