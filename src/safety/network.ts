/**
 * Network allow-list: where engines may connect (their endpoints) and which
 * hosts a task may ask an engine to reach. Pure: hosts are compared as
 * written (after WHATWG URL canonicalisation), never resolved, so the answer
 * does not depend on DNS. Default allow-list: loopback only (127.0.0.0/8, ::1,
 * `localhost`) plus what the config adds (provider hosts, `network_allow`).
 *
 * Entry forms: `api.groq.com` (exact host), `*.example.com` (any subdomain,
 * not the apex), an IP, a CIDR, or a URL (its host is used).
 *
 * Severity of hosts found in task text (scanTextForUrls) — decided here:
 *   high (deny)   — a non-allowed host that the text asks to *send* data to
 *                   (send/upload/post/forward/leak ... to URL, curl -d/-F/-T,
 *                   `nc host < file`), or a non-allowed *public raw IP* that
 *                   the text asks to reach (IP literals dodge name-based review);
 *   medium (ask)  — a non-allowed host the text asks to fetch/connect/clone/
 *                   open, or the target of nc/ssh/scp/telnet/ping;
 *   allow         — a plain mention (a docs link, an IP in a config example):
 *                   reported in `hosts` for the audit record, not blocked.
 */
import { ipInAnyCidr, isPrivateIp, LOOPBACK_CIDRS, parseIp, tryParseCidr, unmapIp, type Cidr } from '../core/cidr.js';
import { excerptOf, verdictFromHits, type RuleHit, type Verdict } from './verdict.js';

export interface AllowList {
  hosts: ReadonlySet<string>; // exact host names, lowercase, no trailing dot
  suffixes: readonly string[]; // from `*.example.com`: '.example.com'
  cidrs: readonly Cidr[];
}

export function normaliseHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/** Builds the allow-list; bad entries are listed as problems (config start-up reports them all). */
export function buildAllowList(entries: readonly string[], opts: { loopback?: boolean } = {}): { allow: AllowList; problems: string[] } {
  const hosts = new Set<string>();
  const suffixes: string[] = [];
  const cidrs: Cidr[] = [];
  const problems: string[] = [];
  if (opts.loopback ?? true) {
    hosts.add('localhost');
    cidrs.push(...LOOPBACK_CIDRS);
  }
  for (const raw of entries) {
    const entry = raw.trim();
    if (entry.startsWith('*.')) {
      const suffix = normaliseHost(entry.slice(1));
      if (/^(\.[a-z0-9-]+)+$/.test(suffix) && suffix.split('.').length > 2) suffixes.push(suffix);
      else problems.push(`network_allow: "${raw}" is not a valid wildcard (use *.example.com)`);
      continue;
    }
    const cidr = tryParseCidr(entry);
    if (cidr) {
      cidrs.push(cidr);
      continue;
    }
    const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(entry);
    const host = isUrl ? hostOfUrl(entry) : entry.includes('/') ? null : hostOfUrl(`http://${entry}`); // "x/y" without a scheme is a bad CIDR
    if (host && !host.includes('*')) {
      const ip = parseIp(host);
      if (ip) cidrs.push(tryParseCidr(host) as Cidr);
      else hosts.add(host);
    } else problems.push(`network_allow: "${raw}" is not a host name, IP, CIDR or URL`);
  }
  return { allow: { hosts, suffixes, cidrs }, problems };
}

function hostOfUrl(url: string): string | null {
  try {
    const h = normaliseHost(new URL(url).hostname);
    return h === '' ? null : h;
  } catch {
    return null;
  }
}

export function isHostAllowed(host: string, allow: AllowList): boolean {
  const h = normaliseHost(host);
  const ip = parseIp(h);
  if (ip) return ipInAnyCidr(ip, allow.cidrs);
  return allow.hosts.has(h) || allow.suffixes.some((s) => h.endsWith(s));
}

export type NetworkVerdict = Verdict & { host?: string };

/** An engine endpoint (provider base URL) must be http(s)/ws(s) to an allowed host. */
export function checkEndpoint(url: string, allow: AllowList): NetworkVerdict {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return deny('network.endpoint', `engine endpoint "${excerptOf(url)}" is not a valid URL`);
  }
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(parsed.protocol)) {
    return deny('network.endpoint', `engine endpoint scheme ${parsed.protocol} is not allowed (http, https, ws, wss)`);
  }
  const host = normaliseHost(parsed.hostname);
  if (!isHostAllowed(host, allow)) {
    return {
      ...deny('network.endpoint', `engine endpoint host ${host} is not in the network allow-list (add it to safety.network_allow or the provider config)`),
      host,
    };
  }
  return { verdict: 'allow', hits: [], host };
}

function deny(rule: string, reason: string): NetworkVerdict {
  return { verdict: 'deny', rule, reason, hits: [{ rule, severity: 'high', description: reason, excerpt: '' }] };
}

export interface HostMention {
  host: string;
  allowed: boolean;
  action: 'send' | 'fetch' | 'mention';
  excerpt: string;
}

interface Candidate {
  host: string;
  start: number;
  end: number;
  command: boolean; // the target of nc/ssh/scp/telnet/ping...: reaching it is the point
}

const URL_RE = /\b(?:https?|ftp|wss?|sftp|ssh|gopher|telnet|smb):\/\/[^\s<>"'`)\]]+/gi;
const CMD_RE = /\b(nc|ncat|netcat|telnet|socat|ssh|scp|rsync|sftp|ping|nslookup|dig|traceroute|curl|wget)\b((?:[ \t]+[^\s|;&<>]+){1,8})/gi;
const HOSTLIKE =
  /^(?:[\w.+-]+@)?(\[[0-9a-f:.]+\]|\d{1,3}(?:\.\d{1,3}){3}|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,})(:[\w/.~-]*|\/\S*)?$/i;
const IP_RE = /(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.]|\/\d)/g;

function candidates(text: string): Candidate[] {
  const out: Candidate[] = [];
  for (const m of text.matchAll(URL_RE)) {
    let host: string | null = null;
    try {
      host = normaliseHost(new URL(m[0]).hostname);
    } catch {
      host = null;
    }
    if (host) out.push({ host, start: m.index, end: m.index + m[0].length, command: false });
  }
  for (const m of text.matchAll(CMD_RE)) {
    const cmd = (m[1] ?? '').toLowerCase();
    const args = (m[2] ?? '').trim().split(/\s+/);
    for (const raw of args) {
      const tok = raw.replace(/^['"]|['"]$/g, '');
      if (tok.startsWith('-') || /^[a-z][a-z0-9+.-]*:\/\//i.test(tok)) continue; // flags; URLs are handled above
      const hm = HOSTLIKE.exec(tok);
      if (!hm) continue;
      // curl/wget/scp/rsync take file names too: only accept user@host, host:port or host/path there.
      const fileTaking = ['curl', 'wget', 'scp', 'rsync'].includes(cmd);
      if (fileTaking && !(tok.includes('@') || hm[2])) continue;
      out.push({ host: normaliseHost(hm[1] ?? ''), start: m.index, end: m.index + m[0].length, command: true });
      break;
    }
  }
  for (const m of text.matchAll(IP_RE)) {
    if (parseIp(m[0])) out.push({ host: m[0], start: m.index, end: m.index + m[0].length, command: false });
  }
  return out;
}

const SEND_BEFORE =
  /\b(?:send|sends|sending|upload|uploads|uploading|post|posts|posting|exfiltrate|transmit|forward|leak|beam|smuggle|report\s+back)\b[^\n]{0,60}\b(?:to|at|into)\b[^\n]{0,30}$/i;
const SEND_ANYWHERE = /\b(?:exfiltrat\w*|leak|smuggle)\b|\s(?:-d|--data(?:-\w+)?|-F|--form|-T|--upload-file|--post-file)[\s=]|-X\s*(?:POST|PUT)\b|\s<\s*\S/;
const FETCH_BEFORE =
  /\b(?:fetch|fetches|download|downloads|curl|wget|request|call|query|hit|connect|connects|ping|reach|visit|open|browse|scrape|crawl|clone|pull|get|access|load|install)\b[^\n]{0,60}$/i;

function lineWindow(text: string, start: number, end: number): { before: string; around: string } {
  const lineStart = text.lastIndexOf('\n', start - 1) + 1;
  const nl = text.indexOf('\n', end);
  const lineEnd = nl < 0 ? text.length : nl;
  const before = text.slice(Math.max(lineStart, start - 120), start);
  return { before, around: text.slice(Math.max(lineStart, start - 120), Math.min(lineEnd, end + 120)) };
}

/**
 * Finds hosts in task text (URLs, targets of network commands, IP literals)
 * and classifies the request per the table at the top of this file.
 */
export function scanTextForUrls(text: string, allow: AllowList): Verdict & { hosts: HostMention[] } {
  const hits: RuleHit[] = [];
  const hosts: HostMention[] = [];
  const seen = new Set<string>();
  for (const c of candidates(text)) {
    const { before, around } = lineWindow(text, c.start, c.end);
    const sends = SEND_BEFORE.test(before) || SEND_ANYWHERE.test(around);
    const fetches = c.command || FETCH_BEFORE.test(before);
    const action: HostMention['action'] = sends ? 'send' : fetches ? 'fetch' : 'mention';
    const allowed = isHostAllowed(c.host, allow);
    const key = `${c.host}|${action}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const excerpt = excerptOf(text.slice(c.start, c.end));
    hosts.push({ host: c.host, allowed, action, excerpt });
    if (allowed || action === 'mention') continue;
    const ip = parseIp(c.host);
    const publicIp = ip !== null && !isPrivateIp(unmapIp(ip));
    if (action === 'send') {
      hits.push({ rule: 'network.send-to-host', severity: 'high', description: `sends data to non-allowed host ${c.host}`, excerpt });
    } else if (publicIp) {
      hits.push({ rule: 'network.raw-ip', severity: 'high', description: `reaches non-allowed public IP ${c.host}`, excerpt });
    } else {
      hits.push({ rule: 'network.fetch-host', severity: 'medium', description: `reaches non-allowed host ${c.host}`, excerpt });
    }
  }
  return { ...verdictFromHits('network', hits), hosts };
}
