/**
 * The remote-execution wire protocol (`WS /ws/remote-exec`, DESIGN §6): one
 * strict zod schema per message, shared by the host and the `colony worker`
 * agent, plus a pure parser that never throws. Pure: no clock, no I/O.
 *
 * Conversation:
 *   worker → HELLO {versions, client_nonce}  host → CHALLENGE {nonce, host_time, client_nonce} (signed) | ERROR unsupported_version
 *   worker → AUTH {sig over nonce+id}        host → AUTH_OK | AUTH_FAILED (then closes)
 *   host   → TASK_ASSIGNED (signed, fresh nonce, expires_at, bound to worker_id + session)
 *   worker → TASK_ACCEPTED | TASK_REJECTED, TASK_PROGRESS*, TASK_COMPLETED | TASK_FAILED
 *   host   → TASK_CANCELLED (signed, fresh nonce, bound to worker_id + session)
 *   both   → HEARTBEAT every HEARTBEAT_INTERVAL_MS
 *   both   → BATCH {worker_id, session, items} (v3): several of the task messages above under one signature
 *
 * Signing rule: every message that changes state is signed by its sender's
 * Ed25519 key (src/remote/signing.ts) over canonicalJson of all fields but
 * `sig`. HEARTBEAT is signed too, although the connection was authenticated at
 * AUTH: a heartbeat renews leases, so its integrity must not rest on the
 * transport (which may be plain ws:// with --insecure-http). Its `nonce` is the CHALLENGE nonce
 * of the connection (binds it to that session) and `seq` strictly increases per
 * sender (blocks in-session replay). Unsigned: HELLO, AUTH_OK, AUTH_FAILED,
 * ERROR — forging them gains nothing (no task runs, no result counts).
 *
 * Binding (protocol v2, issue 14): the CHALLENGE is signed by the host key and
 * echoes the worker's fresh `client_nonce`, so the worker knows it is live and
 * may correct its clock by `host_time` (a rewritten or replayed CHALLENGE does
 * not verify). TASK_ASSIGNED and TASK_CANCELLED carry the `worker_id` they are
 * for and the `session` — the CHALLENGE nonce of the connection they were sent
 * on — inside the signed bytes: one captured on worker A's connection and
 * replayed into worker B's (or into a later connection of A) is refused. The
 * worker also bounds `expires_at` by its own clock (core/replay.ts
 * checkLocalExpiry), so a wrong host clock cannot revive an old assignment.
 *
 * Nonces: TASK_ASSIGNED and TASK_CANCELLED carry a fresh host nonce the worker
 * remembers (core/replay.ts). Worker messages about a task echo the nonce of
 * the assignment they answer, so a result cannot be moved to another
 * assignment; TASK_PROGRESS adds a per-attempt `seq`.
 *
 * AUTH is accepted only if its nonce is the CHALLENGE nonce issued on this
 * connection, used once, within HANDSHAKE_TIMEOUT_MS. Confidentiality comes
 * from TLS (wss:// with the host certificate pinned at pairing); the signatures
 * do not rely on it, so `--insecure-http` loses privacy, not integrity.
 *
 * Batches (protocol v3, issue 17): a BATCH carries up to MAX_BATCH_ITEMS task
 * messages without their own `sig`, signed once by the sender over the whole
 * frame, with the `worker_id` and `session` (CHALLENGE nonce) of the connection
 * inside the signed bytes. Host batches hold TASK_ASSIGNED / TASK_CANCELLED
 * (each item keeps its own binding, fresh nonce and expiry, and must match the
 * envelope); worker batches hold TASK_ACCEPTED … TASK_FAILED (each echoing its
 * assignment's nonce). Every item is then checked exactly as the same message
 * sent alone, so replaying a batch replays items that are refused one by one;
 * moving an item into another batch or cutting a batch short breaks the
 * signature; a batch from another worker or connection fails the binding. Only
 * sent on connections negotiated at v3 or above.
 *
 * Schemas have no defaults and no transforms on purpose: the parsed value must
 * be byte-for-byte what the sender signed.
 */
import { z } from 'zod';
import {
  field,
  MAX_BATCH_ITEMS,
  MAX_ERROR_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_OUTPUT_CHUNK_BYTES,
  MAX_PROMPT_BYTES,
  MAX_REASON_BYTES,
  MAX_RUNNING,
  MAX_SUMMARY_BYTES,
  MAX_TITLE_BYTES,
  MAX_WORKSPACE_BYTES,
  PROTOCOL_ERROR_CODES,
  SUPPORTED_VERSIONS,
  utf8Length,
  type ProtocolErrorCode,
} from './protocol-fields.js';

const { attempt, engineName, epochMs, id, modelName, nonce, seq, sig, taskRef, text, tokens, usd, version } = field;

// One import site for both ends of the wire.
export * from './protocol-fields.js';

// ------------------------------------------------------------------ messages

const result = {
  task_id: id,
  attempt,
  cost: usd,
  engine_used: engineName,
  model_used: modelName.nullable(), // exec has no model
  tokens,
  nonce,
  sig,
};

/** Who a host order is for: the worker and the connection (its CHALLENGE nonce). Signed with the rest. */
const binding = z.strictObject({ worker_id: id, session: nonce });
export type Binding = z.infer<typeof binding>;

export const helloSchema = z.strictObject({
  type: z.literal('HELLO'),
  worker_id: id,
  versions: z.array(version).min(1).max(16),
  client_nonce: nonce, // fresh per connection: the signed CHALLENGE echoes it (proves the CHALLENGE is live)
  engines: z.array(engineName).max(32),
  open_to_admin: z.boolean(), // the worker also runs tasks the host admin targets at it, not only its owner's
});
export const challengeSchema = z.strictObject({
  type: z.literal('CHALLENGE'),
  worker_id: id, // the HELLO's worker: a CHALLENGE cannot be moved to another worker
  client_nonce: nonce, // the HELLO's: a CHALLENGE cannot be replayed into another connection
  nonce, // the connection's session nonce: AUTH, HEARTBEAT and every host order are bound to it
  host_time: epochMs, // lets the worker correct its clock before checking expires_at (trusted only once the signature verifies)
  version,
  sig,
});
export const authSchema = z.strictObject({ type: z.literal('AUTH'), worker_id: id, nonce, sig });
export const authOkSchema = z.strictObject({
  type: z.literal('AUTH_OK'),
  worker_id: id,
  host_key_fingerprint: z.string().min(1).max(200),
});
export const authFailedSchema = z.strictObject({ type: z.literal('AUTH_FAILED'), reason: text(MAX_REASON_BYTES) });
export const taskAssignedSchema = z.strictObject({
  type: z.literal('TASK_ASSIGNED'),
  ...binding.shape,
  task_id: id,
  attempt,
  task: z.strictObject({ prompt: text(MAX_PROMPT_BYTES, 1), title: text(MAX_TITLE_BYTES) }),
  budget: usd,
  engine: engineName,
  model: modelName.nullish(),
  workspace: text(MAX_WORKSPACE_BYTES, 1).regex(/^[^\u0000]+$/, 'NUL is not allowed in a path'),
  nonce,
  expires_at: epochMs, // schedule-to-start deadline
  lease_ms: z.int().min(1_000).max(3_600_000), // heartbeat timeout for this attempt
  sig,
});
export const taskAcceptedSchema = z.strictObject({ type: z.literal('TASK_ACCEPTED'), ...taskRef.shape, nonce, sig });
export const taskRejectedSchema = z.strictObject({
  type: z.literal('TASK_REJECTED'),
  ...taskRef.shape,
  reason: text(MAX_REASON_BYTES),
  nonce,
  sig,
});
export const taskProgressSchema = z.strictObject({
  type: z.literal('TASK_PROGRESS'),
  ...result,
  seq, // per attempt, from 0, strictly increasing: the host drops repeats (core/replay.ts checkSequence)
  status: z.enum(['starting', 'running']), // terminal outcomes have their own messages
  output: text(MAX_OUTPUT_CHUNK_BYTES),
});
export const taskCompletedSchema = z.strictObject({
  type: z.literal('TASK_COMPLETED'),
  ...result,
  summary: text(MAX_SUMMARY_BYTES),
});
export const taskFailedSchema = z.strictObject({
  type: z.literal('TASK_FAILED'),
  ...result,
  error: text(MAX_ERROR_BYTES),
  error_code: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_]+$/)
    .nullable(),
});
export const taskCancelledSchema = z.strictObject({
  type: z.literal('TASK_CANCELLED'),
  ...binding.shape,
  ...taskRef.shape,
  reason: text(MAX_REASON_BYTES),
  nonce,
  sig,
});
export const heartbeatSchema = z.strictObject({
  type: z.literal('HEARTBEAT'),
  worker_id: id, // the worker this connection belongs to, in both directions
  seq, // per sender per connection, strictly increasing
  running: z.array(taskRef).max(MAX_RUNNING), // sender's view; the receiver reconciles leases with it (core/lease.ts)
  nonce, // the connection's CHALLENGE nonce
  sig,
});
export const errorSchema = z.strictObject({
  type: z.literal('ERROR'),
  code: z.enum(PROTOCOL_ERROR_CODES),
  message: text(MAX_REASON_BYTES),
});

/** Without `sig`: what a BATCH carries (the envelope's signature covers it). */
export const batchItemSchema = z.discriminatedUnion('type', [
  taskAssignedSchema.omit({ sig: true }),
  taskCancelledSchema.omit({ sig: true }),
  taskAcceptedSchema.omit({ sig: true }),
  taskRejectedSchema.omit({ sig: true }),
  taskProgressSchema.omit({ sig: true }),
  taskCompletedSchema.omit({ sig: true }),
  taskFailedSchema.omit({ sig: true }),
]);
export const batchSchema = z.strictObject({
  type: z.literal('BATCH'),
  ...binding.shape, // the worker it is from (worker → host) or for (host → worker), and the connection's CHALLENGE nonce
  items: z.array(batchItemSchema).min(1).max(MAX_BATCH_ITEMS),
  sig,
});

export const messageSchema = z.discriminatedUnion('type', [
  helloSchema,
  challengeSchema,
  authSchema,
  authOkSchema,
  authFailedSchema,
  taskAssignedSchema,
  taskAcceptedSchema,
  taskRejectedSchema,
  taskProgressSchema,
  taskCompletedSchema,
  taskFailedSchema,
  taskCancelledSchema,
  heartbeatSchema,
  batchSchema,
  errorSchema,
]);

export type ProtocolMessage = z.infer<typeof messageSchema>;
export type MessageType = ProtocolMessage['type'];
export type MessageOf<T extends MessageType> = Extract<ProtocolMessage, { type: T }>;
export type SignedMessage = Extract<ProtocolMessage, { sig: string }>;
export type TokenCounts = z.infer<typeof tokens>;
/** What a sender builds before signing. */
export type Unsigned<M extends SignedMessage> = Omit<M, 'sig'>;
/** One message inside a BATCH (a task message without its own signature). */
export type BatchItem = z.infer<typeof batchItemSchema>;
export type BatchItemOf<T extends BatchItem['type']> = Extract<BatchItem, { type: T }>;

export const MESSAGE_TYPES: readonly MessageType[] = messageSchema.options.map((o) => o.shape.type.value);

/** Who may send each type and whose key signs it (null: unsigned). Receivers refuse the wrong direction. */
export const MESSAGE_RULES: Readonly<Record<MessageType, { from: 'worker' | 'host' | 'both'; signer: 'worker' | 'host' | 'sender' | null }>> = {
  HELLO: { from: 'worker', signer: null },
  CHALLENGE: { from: 'host', signer: 'host' },
  AUTH: { from: 'worker', signer: 'worker' },
  AUTH_OK: { from: 'host', signer: null },
  AUTH_FAILED: { from: 'host', signer: null },
  TASK_ASSIGNED: { from: 'host', signer: 'host' },
  TASK_ACCEPTED: { from: 'worker', signer: 'worker' },
  TASK_REJECTED: { from: 'worker', signer: 'worker' },
  TASK_PROGRESS: { from: 'worker', signer: 'worker' },
  TASK_COMPLETED: { from: 'worker', signer: 'worker' },
  TASK_FAILED: { from: 'worker', signer: 'worker' },
  TASK_CANCELLED: { from: 'host', signer: 'host' },
  HEARTBEAT: { from: 'both', signer: 'sender' },
  BATCH: { from: 'both', signer: 'sender' }, // its items: only types the sender may send alone (batchItemsFrom)
  ERROR: { from: 'both', signer: null },
};

/** True when `side` may legitimately receive `type` (i.e. the other side may send it). */
export function acceptsFrom(type: MessageType, sender: 'worker' | 'host'): boolean {
  const from = MESSAGE_RULES[type].from;
  return from === 'both' || from === sender;
}

/** True when every item of a BATCH is a message `sender` may send (a worker cannot slip a TASK_ASSIGNED into its batch). */
export function batchItemsFrom(items: readonly BatchItem[], sender: 'worker' | 'host'): boolean {
  return items.every((i) => MESSAGE_RULES[i.type].from === sender);
}

// --------------------------------------------------------------- negotiation

export type Negotiation = { ok: true; version: number } | { ok: false; code: 'unsupported_version'; message: string };

/** Host side of HELLO: the highest version both speak, or a refusal naming both lists. */
export function negotiateVersion(offered: readonly number[], supported: readonly number[] = SUPPORTED_VERSIONS): Negotiation {
  const common = offered.filter((v) => supported.includes(v));
  if (common.length === 0) {
    return {
      ok: false,
      code: 'unsupported_version',
      message: `no common protocol version: worker speaks [${offered.join(', ')}], host speaks [${supported.join(', ')}]; upgrade the older side`,
    };
  }
  return { ok: true, version: Math.max(...common) };
}

// -------------------------------------------------------------------- parser

export type ParseResult =
  | { ok: true; msg: ProtocolMessage }
  | { ok: false; code: Extract<ProtocolErrorCode, 'too_large' | 'bad_json' | 'unknown_type' | 'invalid_message'>; message: string };

/** A ws frame: text, a Buffer/Uint8Array, an ArrayBuffer, or the fragments ws hands over. */
export type RawFrame = string | Uint8Array | ArrayBuffer | readonly Uint8Array[];

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Parses and validates one frame. Never throws: every failure is a value the caller can answer with ERROR. */
export function parseMessage(raw: RawFrame, maxBytes: number = MAX_MESSAGE_BYTES): ParseResult {
  try {
    const textFrame = decodeFrame(raw, maxBytes);
    if (!textFrame.ok) return textFrame;
    let value: unknown;
    try {
      value = JSON.parse(textFrame.text);
    } catch {
      return { ok: false, code: 'bad_json', message: 'message is not valid JSON' };
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return { ok: false, code: 'invalid_message', message: 'message must be a JSON object' };
    }
    const type: unknown = (value as Record<string, unknown>).type;
    if (typeof type !== 'string' || !(MESSAGE_TYPES as readonly string[]).includes(type)) {
      const shown = typeof type === 'string' ? JSON.stringify(type.slice(0, 40)) : 'missing';
      return { ok: false, code: 'unknown_type', message: `unknown message type ${shown}` };
    }
    const r = messageSchema.safeParse(value);
    if (r.success) return { ok: true, msg: r.data };
    const issues = r.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    return { ok: false, code: 'invalid_message', message: `invalid ${type}: ${issues.join('; ')}` };
  } catch (e) {
    // Defence in depth: nothing above should throw, but a parser that can crash the socket handler is a DoS.
    return { ok: false, code: 'invalid_message', message: `unparseable message: ${e instanceof Error ? e.message : 'unknown error'}` };
  }
}

function decodeFrame(raw: RawFrame, maxBytes: number): { ok: true; text: string } | { ok: false; code: 'too_large' | 'bad_json'; message: string } {
  const tooLarge = (n: number) => ({ ok: false as const, code: 'too_large' as const, message: `message of ${n} bytes exceeds the ${maxBytes}-byte limit` });
  if (typeof raw === 'string') {
    if (raw.length > maxBytes) return tooLarge(raw.length);
    const n = raw.length * 3 <= maxBytes ? raw.length : utf8Length(raw);
    return n > maxBytes ? tooLarge(n) : { ok: true, text: raw };
  }
  let bytes: Uint8Array;
  if (raw instanceof ArrayBuffer) bytes = new Uint8Array(raw);
  else if (raw instanceof Uint8Array) bytes = raw;
  else {
    const total = raw.reduce((n, part) => n + part.byteLength, 0);
    if (total > maxBytes) return tooLarge(total);
    bytes = new Uint8Array(total);
    let at = 0;
    for (const part of raw) {
      bytes.set(part, at);
      at += part.byteLength;
    }
  }
  if (bytes.byteLength > maxBytes) return tooLarge(bytes.byteLength);
  try {
    return { ok: true, text: decoder.decode(bytes) };
  } catch {
    return { ok: false, code: 'bad_json', message: 'message is not valid UTF-8' };
  }
}

/** Serialises a message for the wire (plain JSON; signatures are over canonical JSON, not these bytes). */
export function encodeMessage(msg: ProtocolMessage): string {
  return JSON.stringify(msg);
}
