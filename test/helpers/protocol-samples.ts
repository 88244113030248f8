/** One valid (unsigned-placeholder) example of every remote-execution message type, for tests. */
import type { MessageOf, MessageType } from '../../src/core/protocol.js';

const SIG = 'A'.repeat(86);
const NONCE = 'n0nce-0123456789abcdef';
export const tokens = { input: 10, output: 20, cache_read: 0, cache_write: 5 };

/** One valid example of every message type. */
export function samples(): { [T in MessageType]: MessageOf<T> } {
  return {
    HELLO: { type: 'HELLO', worker_id: 'w-1', versions: [2], client_nonce: NONCE, engines: ['claude', 'exec'], open_to_admin: false },
    CHALLENGE: { type: 'CHALLENGE', worker_id: 'w-1', client_nonce: NONCE, nonce: NONCE, host_time: 1_700_000_000_000, version: 2, sig: SIG },
    AUTH: { type: 'AUTH', worker_id: 'w-1', nonce: NONCE, sig: SIG },
    AUTH_OK: { type: 'AUTH_OK', worker_id: 'w-1', host_key_fingerprint: 'ab12:cd34' },
    AUTH_FAILED: { type: 'AUTH_FAILED', reason: 'unknown worker' },
    TASK_ASSIGNED: {
      type: 'TASK_ASSIGNED',
      worker_id: 'w-1',
      session: NONCE,
      task_id: 'g1/build',
      attempt: 1,
      task: { prompt: 'npm test', title: 'test' },
      budget: 0.5,
      engine: 'exec',
      model: null,
      workspace: '/home/u/work',
      nonce: NONCE,
      expires_at: 1_700_000_060_000,
      lease_ms: 30_000,
      sig: SIG,
    },
    TASK_ACCEPTED: { type: 'TASK_ACCEPTED', task_id: 't', attempt: 1, nonce: NONCE, sig: SIG },
    TASK_REJECTED: { type: 'TASK_REJECTED', task_id: 't', attempt: 1, reason: 'workspace outside root', nonce: NONCE, sig: SIG },
    TASK_PROGRESS: {
      type: 'TASK_PROGRESS',
      task_id: 't',
      attempt: 1,
      seq: 0,
      status: 'running',
      output: 'line\n',
      cost: 0.01,
      engine_used: 'claude',
      model_used: 'sonnet',
      tokens,
      nonce: NONCE,
      sig: SIG,
    },
    TASK_COMPLETED: {
      type: 'TASK_COMPLETED',
      task_id: 't',
      attempt: 1,
      summary: 'done',
      cost: 0.02,
      engine_used: 'exec',
      model_used: null,
      tokens,
      nonce: NONCE,
      sig: SIG,
    },
    TASK_FAILED: {
      type: 'TASK_FAILED',
      task_id: 't',
      attempt: 2,
      error: 'exit 1',
      error_code: 'E_ENGINE',
      cost: 0,
      engine_used: 'exec',
      model_used: null,
      tokens,
      nonce: NONCE,
      sig: SIG,
    },
    TASK_CANCELLED: { type: 'TASK_CANCELLED', worker_id: 'w-1', session: NONCE, task_id: 't', attempt: 1, reason: 'kill switch', nonce: NONCE, sig: SIG },
    HEARTBEAT: { type: 'HEARTBEAT', worker_id: 'w-1', seq: 3, running: [{ task_id: 't', attempt: 1 }], nonce: NONCE, sig: SIG },
    BATCH: {
      type: 'BATCH',
      worker_id: 'w-1',
      session: NONCE,
      items: [
        { type: 'TASK_ACCEPTED', task_id: 't', attempt: 1, nonce: NONCE },
        { type: 'TASK_COMPLETED', task_id: 'u', attempt: 1, summary: 'done', cost: 0, engine_used: 'exec', model_used: null, tokens, nonce: NONCE },
      ],
      sig: SIG,
    },
    ERROR: { type: 'ERROR', code: 'bad_signature', message: 'signature does not verify' },
  };
}
