/** The worker agent's shapes: what it sends about a task (before signing), what it reports to its owner, its running tasks. */
import { MAX_ERROR_BYTES, MAX_SUMMARY_BYTES, utf8Length, type MessageOf, type Unsigned } from '../../core/protocol.js';
import type { Final } from './worker-runner.js';

/** Told to whoever runs the agent (the CLI prints them; tests assert on them). */
export type AgentEvent =
  | { type: 'connected'; worker_id: string }
  | { type: 'disconnected'; code: number; reason: string }
  | { type: 'retrying'; in_ms: number; error: string }
  | { type: 'assigned' | 'accepted' | 'cancelled'; task_id: string; attempt: number }
  | { type: 'rejected'; task_id: string; attempt: number; reason: string }
  | { type: 'finished'; task_id: string; attempt: number; ok: boolean; summary: string }
  | { type: 'host_error'; code: string; message: string }
  | { type: 'lost'; task_id: string; attempt: number } // ran when this worker's previous run died; reported to the host
  /** Something from the network this worker refused (an order for another worker or connection, a forged CHALLENGE). */
  | { type: 'refused'; code: string; reason: string }
  | { type: 'fatal'; reason: string };

/** A task the agent holds: from TASK_ASSIGNED (capacity reserved) until its final report is queued. */
export interface Running {
  task_id: string;
  attempt: number;
  lease_ms: number;
  abort: AbortController;
  stop: 'cancelled' | 'stopping' | null;
  done: Promise<void>;
}

export type TaskOut =
  | Unsigned<MessageOf<'TASK_ACCEPTED'>>
  | Unsigned<MessageOf<'TASK_REJECTED'>>
  | Unsigned<MessageOf<'TASK_PROGRESS'>>
  | Unsigned<MessageOf<'TASK_COMPLETED'>>
  | Unsigned<MessageOf<'TASK_FAILED'>>;

/** TASK_COMPLETED or TASK_FAILED for a finished run, every text within the protocol's byte limits. */
export function finalMessage(f: Final, ref: { task_id: string; attempt: number }, nonce: string): TaskOut {
  const common = { ...ref, cost: f.cost, engine_used: f.engine_used, model_used: f.model_used, tokens: f.tokens, nonce };
  if (f.ok) return { type: 'TASK_COMPLETED', ...common, summary: clipBytes(f.summary, MAX_SUMMARY_BYTES) };
  const code = /^[A-Za-z0-9_]{1,64}$/.test(f.error_code) ? f.error_code : 'E_ENGINE';
  return { type: 'TASK_FAILED', ...common, error: clipBytes(f.error, MAX_ERROR_BYTES), error_code: code };
}

/** TASK_FAILED for an attempt a previous run of this worker lost (crash): its processes were ended before this is sent. */
export function lostMessage(rec: { task_id: string; attempt: number; nonce: string; engine: string }): TaskOut {
  return {
    type: 'TASK_FAILED',
    task_id: rec.task_id,
    attempt: rec.attempt,
    cost: 0, // unknown here; the host keeps what the attempt's progress reports said
    engine_used: rec.engine,
    model_used: null,
    tokens: { input: 0, output: 0, cache_read: 0, cache_write: 0 },
    nonce: rec.nonce,
    error: 'worker lost: the worker stopped (crash or kill) while this attempt ran; its processes were ended when it started again',
    error_code: 'E_LOST',
  };
}

export function clipBytes(s: string, max: number): string {
  let out = s;
  while (utf8Length(out) > max) out = out.slice(0, Math.floor(out.length * 0.9));
  return out;
}
