/**
 * LAN users inside network namespaces (on top of netns.ts): a session per
 * namespace carried between client runs, long-running stream watchers whose
 * bytes the test can read while they run, and the load generator.
 */
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { LAN_CLIENT, type NetnsHandle, type NetnsNamespace } from './netns.js';
import { waitFor } from './proc.js';

export const LAN_LOAD = fileURLToPath(new URL('./lan-load.mjs', import.meta.url));

export type Line = Record<string, unknown>;

export interface LanUser {
  ns: NetnsNamespace;
  base: string;
  cookies: Record<string, string>;
  userId: string;
  /** Runs steps (http/ws/sse) in the namespace with this user's cookie; returns the lines and the raw stdout. */
  run(steps: unknown[], timeoutMs?: number): Promise<{ code: number | null; lines: Line[]; raw: string }>;
}

export async function runIn(
  net: NetnsHandle,
  ns: NetnsNamespace,
  steps: unknown[],
  cookies: Record<string, string> = {},
  timeoutMs = 20_000,
): Promise<{ code: number | null; lines: Line[]; raw: string }> {
  const r = await net.exec(ns.name, process.execPath, [LAN_CLIENT, JSON.stringify({ steps, cookies })], { timeoutMs });
  return { code: r.code, lines: parseLines(r.stdout), raw: r.stdout };
}

/** POST /api/session from inside the namespace (with a forged X-Forwarded-For), keeping the cookie for later runs. */
export async function lanUser(
  net: NetnsHandle,
  ns: NetnsNamespace,
  base: string,
  name: string,
  extra: Record<string, unknown> = {},
): Promise<LanUser & { session: Line }> {
  const r = await runIn(net, ns, [
    {
      kind: 'http',
      method: 'POST',
      url: `${base}/api/session`,
      headers: { 'x-forwarded-for': '127.0.0.1', 'x-real-ip': '127.0.0.1' },
      body: { display_name: name, ...extra },
    },
  ]);
  const res = r.lines[0] ?? {};
  expect(res['status'], JSON.stringify(res)).toBe(201);
  const setCookie = String((res['headers'] as Record<string, unknown>)['set-cookie'] ?? '');
  const m = /colony_session=([^;]+)/.exec(setCookie);
  if (!m?.[1]) throw new Error(`no session cookie in ${setCookie}`);
  const cookies = { colony_session: m[1] };
  const session = (res['json'] as { session: Line }).session;
  return { ns, base, cookies, session, userId: String(session['user_id']), run: (steps, t) => runIn(net, ns, steps, cookies, t) };
}

export interface Watcher {
  raw(): string;
  lines(): Line[];
  stop(): Promise<void>;
}

/** Starts lan-client with one long stream step (sse / ws) and returns at once; lines arrive as the stream does. */
export function watch(net: NetnsHandle, user: LanUser, step: Record<string, unknown>): Watcher {
  const child = net.spawn(user.ns.name, process.execPath, [LAN_CLIENT, JSON.stringify({ steps: [step], cookies: user.cookies })]);
  let raw = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (raw += d));
  child.stderr?.resume();
  const exited = new Promise<void>((r) => child.on('close', () => r()));
  return {
    raw: () => raw,
    lines: () => parseLines(raw),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The event name of a line printed by lan-client: SSE events carry it, WS frames carry it as `event`. */
export function eventOf(l: Line): string | undefined {
  if (l['kind'] === 'sse') return String(l['event']);
  if (l['kind'] === 'ws-message') return (l['json'] as { event?: string } | undefined)?.event;
  return undefined;
}

/** The event's data object (the SSE `data:` JSON; on WS the frame's `data`). */
export function dataOf(l: Line): Line | undefined {
  if (l['kind'] === 'sse') return l['json'] as Line | undefined;
  if (l['kind'] === 'ws-message') return (l['json'] as { data?: Line } | undefined)?.data;
  return undefined;
}

export async function waitForLine(w: Watcher, what: string, pred: (l: Line) => boolean, timeoutMs = 10_000): Promise<void> {
  await waitFor(() => w.lines().some(pred), what, timeoutMs);
}

export interface LoadResult {
  statuses: Record<string, number>;
  codes: Record<string, number>;
  retry_after: string[];
  latencies_ms: number[];
  errors: string[];
}

export async function load(net: NetnsHandle, user: LanUser, spec: Record<string, unknown>): Promise<LoadResult> {
  const cookie = Object.entries(user.cookies)
    .map(([k, v]) => `${k}=${v}`)
    .join('; ');
  const headers = { cookie, ...((spec['headers'] as Record<string, string> | undefined) ?? {}) };
  const r = await net.exec(user.ns.name, process.execPath, [LAN_LOAD, JSON.stringify({ ...spec, headers })], { timeoutMs: 60_000 });
  const line = parseLines(r.stdout).find((l) => l['kind'] === 'load');
  if (!line) throw new Error(`lan-load printed nothing useful: ${r.stdout} ${r.stderr}`);
  return line as unknown as LoadResult;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

function parseLines(text: string): Line[] {
  const out: Line[] = [];
  for (const l of text.split('\n')) {
    if (!l.trim()) continue;
    try {
      out.push(JSON.parse(l) as Line);
    } catch {
      /* a line cut off when the watcher was stopped */
    }
  }
  return out;
}
