/**
 * Webhook payloads, signatures and retry delays (pure; the notifier in
 * runner/notify sends them). A generic hook gets the notification as JSON,
 * signed with HMAC-SHA256 over `<unix seconds>.<body>` in the
 * `X-Colony-Signature: t=<unix seconds>,v1=<hex>` header: the timestamp is
 * inside the MAC, so a receiver that refuses old timestamps (verifyWebhook,
 * default 5 minutes) cannot be fed a replayed delivery. A Slack hook gets
 * Slack's incoming-webhook body (`text` plus a mrkdwn block); Slack does not
 * check signatures, its URL is the secret.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const NOTIFY_EVENTS = ['approval.needed', 'task.failed', 'graph.finished', 'budget.warning', 'budget.stop', 'test'] as const;
export type NotifyEventName = (typeof NOTIFY_EVENTS)[number];

/** One notification, as the browser receives it (a `notify` live event) and as a generic webhook's body. */
export interface Notification {
  event: NotifyEventName;
  title: string;
  body: string;
  at: number; // ms since epoch
  owner: string | null; // whose task/graph/budget ('admin', 'session:<id>'); null for host-wide (test)
  task_id: string | null;
  graph_id: string | null;
  detail: Record<string, unknown>;
}

export const SIGNATURE_HEADER = 'x-colony-signature';
export const DEFAULT_TOLERANCE_S = 300;

export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** The receiver's side (used by the tests, documented for integrators): true when the MAC matches and the timestamp is fresh. */
export function verifyWebhook(secret: string, body: string, header: string, nowSeconds: number, toleranceS = DEFAULT_TOLERANCE_S): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  const t = Number(m[1]);
  if (Math.abs(nowSeconds - t) > toleranceS) return false;
  const want = Buffer.from(signWebhook(secret, body, t).slice(-64), 'hex');
  return timingSafeEqual(want, Buffer.from(m[2] as string, 'hex'));
}

/** The body a hook of this format receives. */
export function webhookBody(format: 'json' | 'slack', n: Notification, deliveryId: number): string {
  if (format === 'json') return JSON.stringify({ delivery_id: deliveryId, ...n });
  // Slack reads <…> as links and mentions: a task title must not become one (&, <, > escaped as Slack asks).
  const title = slackEscape(n.title);
  const body = slackEscape(n.body);
  return JSON.stringify({ text: `${title}: ${body}`, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `*${title}*\n${body}` } }] });
}

function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Delay before retry number `attempt` (1 = after the first failure): base·2^(attempt-1), capped. */
export function retryDelayMs(attempt: number, baseMs: number, capMs: number): number {
  return Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
}

/** Does a hook subscribed to `events` (empty: all) want this one? A test goes to every hook it is sent to. */
export function hookWants(events: readonly string[], event: NotifyEventName): boolean {
  return event === 'test' || events.length === 0 || events.includes(event);
}
