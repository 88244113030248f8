/**
 * Pure IP / CIDR maths for IPv4 and IPv6 (no node:net, so core stays I/O-free).
 * Used by the network allow-list (engine endpoints, URLs in task text) and the
 * LAN allow-list of the user app.
 *
 * Addresses are held as bigints so one comparison works for both families.
 * IPv4-mapped IPv6 (`::ffff:10.1.2.3`, which is what a dual-stack socket
 * reports for an IPv4 client) matches IPv4 ranges and vice versa, so an
 * allow-list never needs both spellings.
 *
 * Parsing is strict on purpose: dotted-quad decimal only, no leading zeros
 * (`010.0.0.1` is octal to some parsers and decimal to others), no shorthand
 * forms like `127.1`. WHATWG URL parsing already canonicalises such hosts
 * before they reach us; anything else that is ambiguous is rejected.
 */
import { ColonyError } from './errors.js';

export interface IpAddress {
  family: 4 | 6;
  value: bigint;
}

export interface Cidr {
  family: 4 | 6;
  network: bigint; // host bits cleared
  prefix: number;
  text: string; // as written, for error messages and audit
}

const V4_BITS = 32;
const V6_BITS = 128;
const MAPPED_PREFIX = 0xffffn << 32n; // ::ffff:0:0/96

function parseV4(text: string): bigint | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseV6(text: string): bigint | null {
  // A trailing dotted quad (`::ffff:1.2.3.4`) stands for the last two groups:
  // parse it separately and let the group parser see two zero groups.
  let t = text;
  let v4Tail = 0n;
  const lastColon = t.lastIndexOf(':');
  if (t.slice(lastColon + 1).includes('.')) {
    const v4 = parseV4(t.slice(lastColon + 1));
    if (v4 === null) return null;
    v4Tail = v4;
    t = `${t.slice(0, lastColon + 1)}0:0`;
  }
  const halves = t.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  if (![...head, ...tail].every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return null;
  const count = head.length + tail.length;
  let groups: string[];
  if (halves.length === 2) {
    if (count > 7) return null; // '::' must stand for at least one group
    groups = [...head, ...new Array<string>(8 - count).fill('0'), ...tail];
  } else {
    if (count !== 8) return null;
    groups = head;
  }
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n) | v4Tail;
}

/** Parses an IPv4 or IPv6 address; accepts `[::1]` brackets and drops a `%zone`. Null if not an address. */
export function parseIp(text: string): IpAddress | null {
  let t = text.trim();
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  if (t.includes(':')) {
    const zone = t.indexOf('%');
    if (zone >= 0) t = t.slice(0, zone);
    const v = parseV6(t);
    return v === null ? null : { family: 6, value: v };
  }
  const v = parseV4(t);
  return v === null ? null : { family: 4, value: v };
}

export function isIp(text: string): boolean {
  return parseIp(text) !== null;
}

/** `::ffff:a.b.c.d` → the IPv4 address; anything else unchanged. */
export function unmapIp(ip: IpAddress): IpAddress {
  if (ip.family === 6 && ip.value >> 32n === 0xffffn) return { family: 4, value: ip.value & 0xffffffffn };
  return ip;
}

function mask(family: 4 | 6, prefix: number): bigint {
  const bits = BigInt(family === 4 ? V4_BITS : V6_BITS);
  const p = BigInt(prefix);
  return ((1n << p) - 1n) << (bits - p);
}

/** Parses `addr/prefix` (or a bare address = a single host). Host bits are cleared. */
export function tryParseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const addrText = slash >= 0 ? text.slice(0, slash) : text;
  const ip = parseIp(addrText);
  if (!ip) return null;
  const max = ip.family === 4 ? V4_BITS : V6_BITS;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return null;
    prefix = Number(p);
    if (prefix > max) return null;
  }
  return { family: ip.family, network: ip.value & mask(ip.family, prefix), prefix, text };
}

/** Like tryParseCidr but throws E_BAD_INPUT naming the bad entry (config and API edges). */
export function parseCidr(text: string): Cidr {
  const c = tryParseCidr(text);
  if (!c) {
    throw new ColonyError('E_BAD_INPUT', `"${text}" is not a valid CIDR range (e.g. 192.168.0.0/16 or fd00::/8)`);
  }
  return c;
}

export function ipInCidr(ip: string | IpAddress, cidr: string | Cidr): boolean {
  const addr = typeof ip === 'string' ? parseIp(ip) : ip;
  const range = typeof cidr === 'string' ? tryParseCidr(cidr) : cidr;
  if (!addr || !range) return false;
  let a = addr;
  if (range.family === 4) {
    a = unmapIp(addr);
    if (a.family !== 4) return false;
  } else if (addr.family === 4) {
    a = { family: 6, value: MAPPED_PREFIX | addr.value }; // compare as ::ffff:a.b.c.d
  }
  return (a.value & mask(range.family, range.prefix)) === range.network;
}

export function ipInAnyCidr(ip: string | IpAddress, cidrs: readonly Cidr[]): boolean {
  const addr = typeof ip === 'string' ? parseIp(ip) : ip;
  return addr !== null && cidrs.some((c) => ipInCidr(addr, c));
}

export const LOOPBACK_CIDRS: readonly Cidr[] = Object.freeze([parseCidr('127.0.0.0/8'), parseCidr('::1/128')]);

/** Private, link-local and unique-local ranges (RFC 1918, 3927, 4193, 4291). */
export const PRIVATE_CIDRS: readonly Cidr[] = Object.freeze(
  ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', '100.64.0.0/10', 'fc00::/7', 'fe80::/10'].map(parseCidr),
);

export function isLoopbackIp(ip: string | IpAddress): boolean {
  return ipInAnyCidr(ip, LOOPBACK_CIDRS);
}

export function isPrivateIp(ip: string | IpAddress): boolean {
  return ipInAnyCidr(ip, PRIVATE_CIDRS);
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lowercase, longest zero run as `::`). */
export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 0xffn)).join('.');
  }
  const words = Array.from({ length: 8 }, (_, i) => Number((ip.value >> BigInt((7 - i) * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Rate-limit key for an address: IPv4 as is, IPv6 by its /64 (one machine can hold a whole /64). */
export function ipBucket(ip: string): string {
  const parsed = parseIp(ip);
  if (!parsed) return ip;
  const a = unmapIp(parsed);
  if (a.family === 4) return formatIp(a);
  return `${formatIp({ family: 6, value: a.value & ~((1n << 64n) - 1n) })}/64`;
}
