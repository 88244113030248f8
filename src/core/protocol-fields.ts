/**
 * Limits, liveness defaults and bounded field schemas of the remote-execution
 * protocol (core/protocol.ts builds the messages from them). Every string and
 * number on the wire has an upper bound here, so a peer cannot make the other
 * side allocate or log without limit. Pure.
 */
import { z } from 'zod';

/**
 * 2: signed CHALLENGE, host orders bound to worker and connection (issue 14). v1 peers are refused with unsupported_version.
 * 3: adds BATCH (issue 17): several task messages under one signature, bound to worker and connection. A v3 peer still
 *    accepts every single v2 message; a connection negotiated at v2 never carries a BATCH (either way).
 */
export const PROTOCOL_VERSION = 3;
/** The first version with BATCH frames. */
export const BATCH_VERSION = 3;
/** Versions this build speaks, any order: v2 workers and hosts keep working, one message per frame. */
export const SUPPORTED_VERSIONS: readonly number[] = [2, PROTOCOL_VERSION];
/** Items per BATCH frame (a sender cuts longer runs into several frames). */
export const MAX_BATCH_ITEMS = 64;
/** A message whose encoding exceeds this goes alone in its own signed frame, so a BATCH stays well under MAX_MESSAGE_BYTES. */
export const MAX_BATCH_ITEM_BYTES = 16 * 1024;
/** A sender stops adding items once a BATCH's items reach this many bytes. */
export const MAX_BATCH_BYTES = 256 * 1024;

/** Frame limit; configure ws `maxPayload` with it. A 64 KiB prompt of control characters escapes to 384 KiB. */
export const MAX_MESSAGE_BYTES = 512 * 1024;
export const MAX_PROMPT_BYTES = 64 * 1024;
export const MAX_OUTPUT_CHUNK_BYTES = 64 * 1024;
export const MAX_SUMMARY_BYTES = 64 * 1024;
export const MAX_ERROR_BYTES = 16 * 1024;
export const MAX_REASON_BYTES = 1024;
export const MAX_TITLE_BYTES = 512;
export const MAX_WORKSPACE_BYTES = 4096;
export const MAX_ID_CHARS = 128;
export const MAX_RUNNING = 256;
export const MAX_COST_USD = 1_000_000;

// Liveness defaults (trpc-style: stated once, overridable by callers).
/** The host pings every ws connection this often ... */
export const WS_PING_INTERVAL_MS = 15_000;
/** ... and terminates it when no pong arrives within this. Detects dead TCP peers. */
export const WS_PONG_TIMEOUT_MS = 10_000;
/** Both sides send HEARTBEAT this often; each one renews the worker's leases. */
export const HEARTBEAT_INTERVAL_MS = 5_000;
/** Heartbeat timeout: a running lease lapses after this long without a heartbeat (6 missed beats). */
export const DEFAULT_LEASE_MS = 30_000;
/** Schedule-to-start: a TASK_ASSIGNED not accepted within this is void and the task requeued. */
export const ASSIGNMENT_TTL_MS = 60_000;
/** Tolerated host/worker clock difference after the worker corrects by CHALLENGE.host_time. */
export const MAX_CLOCK_SKEW_MS = 30_000;
/**
 * The worker's own bound on an order's expiry, whatever the host's clock says:
 * `expires_at` must lie within this of the worker's clock (past and future
 * beyond the assignment window). Host and worker clocks further apart than this
 * cannot work together (the worker says so at CHALLENGE).
 */
export const MAX_HOST_CLOCK_OFFSET_MS = 5 * 60_000;
/** HELLO must arrive this soon after connect, AUTH this soon after CHALLENGE. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------- primitives

/** UTF-8 length without allocating; lone surrogates count as the 3-byte replacement. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

const text = (maxBytes: number, minChars = 0) =>
  z
    .string()
    .min(minChars)
    .max(maxBytes) // code units <= bytes: cheap rejection before counting
    .refine((s) => utf8Length(s) <= maxBytes, { message: `longer than ${maxBytes} bytes` });
/** A string bounded in UTF-8 bytes (what the wire carries), shared with the task schema of every entry point. */
export const utf8Text = text;

// Ids end up in logs, file names and the UI: no control characters.
const id = z
  .string()
  .min(1)
  .max(MAX_ID_CHARS)
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'control characters are not allowed');
const engineName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z][a-z0-9_-]*$/);
const modelName = z
  .string()
  .min(1)
  .max(MAX_ID_CHARS)
  .regex(/^[^\u0000-\u001f\u007f]+$/);
/** ≥ 96 bits of base64url/hex randomness; the host makes 128-bit ones. */
const nonce = z
  .string()
  .min(16)
  .max(128)
  .regex(/^[A-Za-z0-9_-]+$/);
/** Ed25519 signature: 64 bytes as unpadded base64url. */
const sig = z.string().regex(/^[A-Za-z0-9_-]{86}$/);
const attempt = z.int().min(1).max(10_000);
const seq = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
const epochMs = z.int().min(0).max(8_640_000_000_000_000);
const usd = z.number().min(0).max(MAX_COST_USD); // zod 4 numbers are finite
const count = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
const version = z.int().min(1).max(1_000);
const tokens = z.strictObject({ input: count, output: count, cache_read: count, cache_write: count });
const taskRef = z.strictObject({ task_id: id, attempt });

/** Bounded field schemas, grouped so `export *` from protocol.ts does not leak short names. */
export const field = {
  text,
  id,
  engineName,
  modelName,
  nonce,
  sig,
  attempt,
  seq,
  epochMs,
  usd,
  count,
  version,
  tokens,
  taskRef,
};

export const PROTOCOL_ERROR_CODES = [
  'too_large',
  'bad_json',
  'unknown_type',
  'invalid_message',
  'unsupported_version',
  'unauthenticated',
  'bad_signature',
  'replayed',
  'expired',
  'stale_attempt',
  'not_yours',
  'out_of_order',
  'over_budget',
  'rate_limited',
  'internal',
] as const;
export type ProtocolErrorCode = (typeof PROTOCOL_ERROR_CODES)[number];
