/**
 * One error type for the whole product. Each code is stable (clients and tests
 * match on it), carries the HTTP status it maps to and a default hint. The
 * catalogue is the single place codes are declared; test/unit/errors.test.ts
 * keeps it, docs/ERRORS.md and the codes used in src/ in sync.
 */
export const ERROR_CODES = {
  E_BAD_INPUT: { status: 400, doc: 'The request or file does not match the expected shape.' },
  E_BAD_JSON: { status: 400, doc: 'The body or file is not valid JSON/YAML.' },
  E_CYCLE: { status: 400, doc: 'The dependency edges form a cycle; the message names the path.' },
  E_UNKNOWN_DEP: { status: 400, doc: 'A task depends on an id that is not in the graph.' },
  E_DUPLICATE_ID: { status: 400, doc: 'Two tasks share an id.' },
  E_SELF_DEP: { status: 400, doc: 'A task depends on itself.' },
  E_INVALID_TRANSITION: { status: 409, doc: 'The task is not in a state that allows this action.' },
  E_NOT_FOUND: { status: 404, doc: 'No such task, graph, session or worker (or it is not yours).' },
  E_BUDGET: { status: 402, doc: 'The estimated or reported cost exceeds the budget that is left.' },
  E_PRICE_UNKNOWN: { status: 400, doc: 'No price is known for this model; cost cannot be estimated.' },
  E_UNAUTHORIZED: { status: 401, doc: 'No valid admin token, session or signature was presented.' },
  E_FORBIDDEN: { status: 403, doc: 'The caller is known but not allowed to do this.' },
  E_BAD_HOST: { status: 403, doc: 'The Host header is not one this server answers to (DNS rebinding guard).' },
  E_BAD_ORIGIN: { status: 403, doc: 'The Origin header does not match this server (CSRF guard).' },
  E_NOT_LOOPBACK: { status: 403, doc: 'The admin app only answers connections from this machine.' },
  E_IP_DENIED: { status: 403, doc: 'The client address is outside the allowed networks.' },
  E_ACCESS_CODE: { status: 401, doc: 'The LAN access code is missing or wrong.' },
  E_RATE_LIMITED: { status: 429, doc: 'Too many requests; retry after the Retry-After delay.' },
  E_TOO_LARGE: { status: 413, doc: 'The request body is larger than allowed.' },
  E_HALTED: { status: 409, doc: 'The kill switch is engaged; nothing new is dispatched until resume.' },
  E_SAFETY_DENIED: { status: 403, doc: 'A safety check refused the task; the reason names the rule.' },
  E_WORKSPACE_OUTSIDE_ROOTS: { status: 403, doc: 'A host task names a workspace outside safety.allowed_roots; the message names the path and the roots.' },
  E_ENGINE: { status: 502, doc: 'The engine failed (process error, API error or bad stream).' },
  E_ENGINE_AUTH: { status: 502, doc: 'The engine refused our credentials (401/403).' },
  E_ENGINE_RATE_LIMITED: { status: 503, doc: 'The engine provider is rate limiting us (429).' },
  E_ENGINE_OVERLOADED: { status: 503, doc: 'The engine provider stayed overloaded or unavailable (500/503/529) through its retries.' },
  E_ENGINE_MISSING: { status: 500, doc: 'The engine binary or configuration is missing.' },
  E_SANDBOX_UNAVAILABLE: {
    status: 503,
    doc: 'The OS sandbox (bubblewrap on Linux, sandbox-exec on macOS) cannot start; tasks are refused until it can (the message names the fix) or safety.sandbox is set to false.',
  },
  E_SANDBOX_LIMIT: {
    status: 422,
    doc: 'A sandbox limit (processes, memory, file size, CPU time) ended the task; the message names the limit and its configured value.',
  },
  E_TIMEOUT: { status: 504, doc: 'A wall-clock, silence or wait timeout fired.' },
  E_CONFIG: { status: 500, doc: 'The configuration file or environment is invalid.' },
  E_NO_HOST: { status: 503, doc: 'No colony host is running for this home directory.' },
  E_PROTOCOL: { status: 400, doc: 'A remote-execution message was malformed, unsigned, replayed or stale.' },
  E_CONFLICT: { status: 409, doc: 'A merge or state conflict prevented the change.' },
  E_BUDGET_STOPPED: {
    status: 409,
    doc: "A graph's or user's spend reached its budget, so its tasks are paused; raise the budget before resuming.",
  },
  E_WEBHOOK: { status: 502, doc: 'A webhook delivery failed (network error or a non-2xx answer); it is retried with backoff and audited.' },
  E_FOREIGN_TASK: { status: 409, doc: 'The task belongs to another colony host on the same database; act on it through that host (named in the message).' },
  E_HOST_FENCED: {
    status: 503,
    doc: 'This colony host lost its database lease (another host took over its graphs, or it could not renew the lease in time and fenced itself); it stops and must be restarted.',
  },
  E_STORE: { status: 500, doc: 'The database could not be written (disk full, read-only, corrupt).' },
  E_CANCELLED: { status: 409, doc: 'The attempt was cancelled (abort signal, kill switch or admin cancel) before it finished.' },
  E_ORPHANS_ALIVE: { status: 500, doc: 'Processes of an interrupted attempt could not be ended; its task is not requeued while they may run.' },
  E_LOST: { status: 503, doc: 'The attempt was interrupted: the host stopped or its worker was lost; it counts against max_attempts.' },
  E_WORKER_UNAVAILABLE: {
    status: 409,
    doc: "The task names a worker it can never run on: unknown, revoked, another user's, or (for the admin) not opened to admin tasks.",
  },
  E_WORKER_BUSY: { status: 503, doc: 'The worker had no free slot for the task it was offered; the task is requeued without counting the attempt.' },
  E_REJECTED: {
    status: 409,
    doc: 'A worker refused the task it was offered (engine not enabled, workspace outside its root, its safety gate); the reason says which.',
  },
  E_NETWORK: { status: 503, doc: 'The dashboard could not reach the host (reported in the browser only).' },
  E_CLIENT: { status: 400, doc: 'The dashboard failed before it could send the request (reported in the browser only).' },
  E_INTERNAL: { status: 500, doc: 'An unexpected error; the log has details.' },
} as const satisfies Record<string, { status: number; doc: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class ColonyError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'ColonyError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = details;
  }

  toJSON(): { code: ErrorCode; message: string; details?: unknown } {
    return this.details === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, details: this.details };
  }
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

export function isColonyError(e: unknown): e is ColonyError {
  return e instanceof ColonyError;
}

/** Wraps anything thrown into a ColonyError without leaking stack traces to clients. */
export function toColonyError(e: unknown): ColonyError {
  if (e instanceof ColonyError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new ColonyError('E_INTERNAL', message);
}
