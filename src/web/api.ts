/**
 * The HTTP client: JSON in, JSON out, same-origin cookies. Every failure
 * becomes an ApiError carrying the server's `{code, message}` so views can
 * show it in the page.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError;
}

/** `{code, message}` for anything thrown (network failures included). */
export function describeError(e: unknown): { code: string; message: string } {
  if (e instanceof ApiError) return { code: e.code, message: e.message };
  if (e instanceof TypeError) return { code: 'E_NETWORK', message: 'the host did not answer; is `colony serve` still running?' };
  return { code: 'E_CLIENT', message: e instanceof Error ? e.message : String(e) };
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.headers = { ...init.headers, 'content-type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text) as unknown;
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = (data ?? {}) as { code?: unknown; message?: unknown };
    throw new ApiError(
      res.status,
      typeof err.code === 'string' ? err.code : `E_HTTP_${res.status}`,
      typeof err.message === 'string' ? err.message : `${method} ${path} answered ${res.status} ${res.statusText}`,
    );
  }
  return data as T;
}

export const api = {
  get: <T>(path: string): Promise<T> => request<T>('GET', path),
  post: <T>(path: string, body: unknown = {}): Promise<T> => request<T>('POST', path, body),
  patch: <T>(path: string, body: unknown): Promise<T> => request<T>('PATCH', path, body),
};

/** Builds `path?k=v&…`, skipping empty values. */
export function withQuery(path: string, q: Record<string, string | number | null | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== null && v !== undefined && v !== '') p.set(k, String(v));
  const qs = p.toString();
  return qs ? `${path}?${qs}` : path;
}

/** True when the endpoint is simply not there (yet) on this host: render an empty state, not an error. */
export function isMissingEndpoint(e: unknown): boolean {
  return e instanceof ApiError && e.status === 404 && e.code === 'E_NOT_FOUND' && e.message.startsWith('no route');
}
