/**
 * The content (sha256, and a copy for restore) of a protected file, read once
 * while the file does not change (issue 24: a workspace holding a 100 MB
 * `*.db` or key store had it read and hashed twice per attempt, however
 * trivial the task).
 *
 * Like git's index: a file whose device, inode, size, mtime and ctime are
 * what they were when it was read has not been written since — every write,
 * truncate, chmod or rename over it sets ctime to the current time, and no
 * process can set ctime back (mtime it can: it is only part of the key).
 * A read is reused only when the file's ctime was already older than
 * RACY_MS at the read, so a write in the same clock tick as the read cannot
 * keep the same ctime ("racy git"). Files changed within the last two
 * seconds are read every time. The copy is the same Buffer for every
 * snapshot (never mutated: restore only writes it out).
 */
import { createHash } from 'node:crypto';
import { promises as fs, type Stats } from 'node:fs';

const RACY_MS = 2000;
const MAX_ENTRIES = 4096;
const MAX_BYTES = 256 * 1024 * 1024; // copies kept across attempts, all files together

interface Known {
  key: string;
  hash: string;
  data: Buffer | null;
}

const known = new Map<string, Known>();
let keptBytes = 0;

const keyOf = (st: Stats, maxBytes: number): string => `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${maxBytes}`;

function forget(p: string): void {
  const k = known.get(p);
  if (!k) return;
  keptBytes -= k.data?.length ?? 0;
  known.delete(p);
}

/** sha256 and (up to maxBytes) a copy of the regular file `p`, whose lstat is `st`. */
export async function fileContent(p: string, st: Stats, maxBytes: number, now = Date.now()): Promise<{ hash: string; data: Buffer | null }> {
  const key = keyOf(st, maxBytes);
  const hit = known.get(p);
  if (hit && hit.key === key) return hit;
  forget(p);
  const data = await fs.readFile(p);
  const hash = createHash('sha256').update(data).digest('hex');
  const kept = data.length <= maxBytes ? data : null;
  if (now - st.ctimeMs > RACY_MS && known.size < MAX_ENTRIES && keptBytes + (kept?.length ?? 0) <= MAX_BYTES) {
    // Only when nothing changed it while it was read (else the content may be newer than the key).
    const again = await fs.lstat(p).catch(() => null);
    if (again && keyOf(again, maxBytes) === key) {
      known.set(p, { key, hash, data: kept });
      keptBytes += kept?.length ?? 0;
    }
  }
  return { hash, data: kept };
}

/** Forgets every kept read (tests). */
export function clearFileContents(): void {
  known.clear();
  keptBytes = 0;
}
