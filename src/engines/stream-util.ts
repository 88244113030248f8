/** Small text plumbing shared by the engines (process handling lives in child.ts). */
import type { EngineEvent } from '../core/engine.js';

/** Splits decoded text chunks into lines (without the newline); flush() emits a last unterminated line. */
export function lineSplitter(onLine: (line: string) => void, maxLine = 8 * 1024 * 1024): { push(chunk: string): void; flush(): void } {
  let buf = '';
  return {
    push(chunk: string): void {
      buf += chunk;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        onLine(buf.slice(0, nl).replace(/\r$/, ''));
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
      }
      // A runaway line without a newline is emitted rather than buffered forever.
      if (buf.length > maxLine) {
        onLine(buf);
        buf = '';
      }
    },
    flush(): void {
      if (buf.length) onLine(buf.replace(/\r$/, ''));
      buf = '';
    },
  };
}

/** Keeps the last `max` lines of a stream for error messages. */
export function tailKeeper(max = 20): { add(line: string): void; text(): string } {
  const lines: string[] = [];
  return {
    add(line: string): void {
      if (!line.trim()) return;
      lines.push(line.length > 500 ? `${line.slice(0, 500)}…` : line);
      if (lines.length > max) lines.shift();
    },
    text: () => lines.join('\n'),
  };
}

export function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length - max} more chars)` : text;
}

/** The `done` event of an engine whose process could not start: a missing binary says how to fix it. */
export function spawnFailed(bin: string, error: NodeJS.ErrnoException, missingSummary: string): EngineEvent {
  const missing = error.code === 'ENOENT';
  return {
    type: 'done',
    ok: false,
    summary: missing ? missingSummary : `could not start '${bin}': ${error.message}`,
    error_code: missing ? 'E_ENGINE_MISSING' : 'E_ENGINE',
  };
}
