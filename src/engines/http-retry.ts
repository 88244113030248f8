/**
 * HTTP failure classification for LLM APIs (CONVENTIONS example 9):
 * 429 → rate limited, retry after Retry-After; 5xx → retry with backoff;
 * 401/403 → auth, never retried; 400/404/413/422 → the request itself is bad,
 * never retried. Pure helpers; the engine does the waiting.
 */

export type FailureClass = 'rate_limited' | 'server' | 'auth' | 'bad_request' | 'other';

export function classifyStatus(status: number): FailureClass {
  if (status === 429) return 'rate_limited';
  if (status === 401 || status === 403) return 'auth';
  if (status === 400 || status === 404 || status === 413 || status === 422) return 'bad_request';
  if (status >= 500 && status <= 599) return 'server';
  return 'other';
}

/** The ColonyError code a final (non-retried) failure of this class maps to. */
export function errorCodeFor(cls: FailureClass): string {
  switch (cls) {
    case 'rate_limited':
      return 'E_ENGINE_RATE_LIMITED';
    case 'auth':
      return 'E_ENGINE_AUTH';
    case 'bad_request':
      return 'E_BAD_INPUT';
    default:
      return 'E_ENGINE';
  }
}

/**
 * Retry-After as milliseconds: either delta-seconds ("120") or an HTTP date
 * ("Wed, 21 Oct 2015 07:28:00 GMT"), relative to `nowMs`. Null when absent or
 * unreadable; a date in the past gives 0.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | null {
  if (value === null || value === undefined) return null;
  const v = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  if (!/[a-z]/i.test(v)) return null;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - nowMs);
}

/** Exponential backoff: base · 2^retry, capped, with jitter in [50%, 100%] so parallel workers spread out. */
export function backoffMs(retry: number, baseMs: number, maxMs: number, random: () => number): number {
  const raw = Math.min(maxMs, baseMs * 2 ** Math.max(0, retry));
  return Math.round(raw * (0.5 + 0.5 * random()));
}

/** `{"error":{"message":"…"}}` (OpenAI, Groq) or the raw text, shortened. */
export function errorMessageOf(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null && 'error' in parsed) {
      const err = (parsed as { error: unknown }).error;
      if (typeof err === 'string') return err;
      if (typeof err === 'object' && err !== null && 'message' in err && typeof (err as { message: unknown }).message === 'string') {
        return (err as { message: string }).message;
      }
    }
  } catch {
    // not JSON: fall through to the text
  }
  const text = body.trim().replace(/\s+/g, ' ');
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/** Sleeps unless the signal aborts first (resolves false then). */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const onAbort = (): void => {
      clearTimeout(t);
      resolve(false);
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
