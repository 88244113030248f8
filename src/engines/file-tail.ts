/** Reads the lines appended to a file since the last call (for side channels like codex's rollout log). */
import { closeSync, fstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';

export function fileTail(): { read(file: string): string[] } {
  let offset = 0;
  let partial = '';
  return {
    read(file: string): string[] {
      let fd: number;
      try {
        fd = openSync(file, 'r');
      } catch {
        return [];
      }
      try {
        const size = fstatSync(fd).size;
        if (size <= offset) return [];
        const buf = Buffer.alloc(Math.min(size - offset, 8 * 1024 * 1024));
        const n = readSync(fd, buf, 0, buf.length, offset);
        offset += n;
        const parts = (partial + buf.subarray(0, n).toString('utf8')).split('\n');
        partial = parts.pop() ?? '';
        return parts;
      } finally {
        closeSync(fd);
      }
    },
  };
}

/** First file under `dir` (recursively, a few levels) whose name satisfies `match`, or null. */
export function findFile(dir: string, match: (name: string) => boolean, depth = 5): string | null {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return null;
  }
  for (const e of entries) if (e.isFile() && match(e.name)) return join(dir, e.name);
  if (depth <= 0) return null;
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const hit = findFile(join(dir, e.name), match, depth - 1);
    if (hit) return hit;
  }
  return null;
}
