/**
 * Pure checks behind the admin app's request guard (DESIGN §4): Host allow-list
 * against DNS rebinding, Origin match against CSRF and cross-site WebSocket
 * hijacking, loopback peer, and constant-time token comparison.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isLoopbackIp } from './cidr.js';

export function allowedAdminHosts(port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
}

export function allowedAdminOrigins(port: number): Set<string> {
  return new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://[::1]:${port}`]);
}

export function hostAllowed(host: string | undefined, port: number): boolean {
  return host !== undefined && allowedAdminHosts(port).has(host.toLowerCase());
}

/** An Origin must name exactly one of our own origins; 'null' (sandboxed frames, file://) never does. */
export function originAllowed(origin: string | undefined, allowed: ReadonlySet<string>): boolean {
  return origin !== undefined && allowed.has(origin.toLowerCase());
}

export function peerIsLoopback(remoteAddress: string | undefined): boolean {
  return remoteAddress !== undefined && isLoopbackIp(remoteAddress);
}

export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

/** The cookie holds a digest of the token, not the token, so a leaked cookie jar does not leak the CLI's credential. */
export function adminCookieValue(token: string): string {
  return createHash('sha256').update('colony-admin-cookie\n').update(token).digest('base64url');
}

export function bearerToken(authorization: string | undefined): string | null {
  if (!authorization) return null;
  const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  return m?.[1] ?? null;
}

export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);
