/**
 * The API's own error message, which Claude Code's stream does not carry
 * while it retries: its `api_retry` records give only the status and a kind
 * ("authentication_failed"), the message comes in the final result minutes
 * later. With `--debug-file F` (Claude Code 2.1.197) every failed request is
 * logged at once as
 *
 *   2026-12-04T17:18:24.489Z [ERROR] API error (attempt 1/3): 401 401 {"type":"error","error":{"type":"authentication_error","message":"…"}}
 *
 * so colony reads the tail of that file when a retry record arrives and when
 * an attempt times out. The file lives in the attempt's private state folder.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export interface LoggedApiError {
  status: number;
  message: string; // the API's message (error.message of its JSON body), else the raw text
}

const LINE = /\[ERROR\] (?:API error \(attempt \d+\/\d+\)|Error in API request): (\d{3})\b(.*)$/;

/** Last API error in the tail of the debug log, or null (no file, nothing logged yet). */
export function lastLoggedApiError(file: string, tailBytes = 64 * 1024): LoggedApiError | null {
  let text: string;
  try {
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      const len = Math.min(size, tailBytes);
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, size - len);
      text = buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i -= 1) {
    const m = LINE.exec(lines[i] ?? '');
    if (m) return { status: Number(m[1]), message: messageOf(m[2] ?? '') };
  }
  return null;
}

function messageOf(rest: string): string {
  const brace = rest.indexOf('{');
  if (brace >= 0) {
    try {
      const body = JSON.parse(rest.slice(brace)) as { error?: { message?: unknown }; message?: unknown };
      const msg = body.error?.message ?? body.message;
      if (typeof msg === 'string' && msg.trim()) return msg.trim().slice(0, 500);
    } catch {
      /* not JSON: fall through to the raw text */
    }
  }
  return (
    rest
      .replace(/^\s*\d{3}\s*/, '')
      .trim()
      .slice(0, 500) || 'no message'
  );
}
