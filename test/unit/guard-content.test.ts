/**
 * guard-content.ts: a protected file's content is read again only when its
 * identity or change time moved; a rewrite that keeps size and mtime (set
 * back with utimes) is still seen, and a file changed in the last seconds is
 * never taken from what was read before. Real files; `now` is passed to
 * stand for a read made seconds after the file's last change.
 */
import { lstatSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clearFileContents, fileContent } from '../../src/safety/guard-content.js';
import { makeTempDir } from '../helpers/proc.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = makeTempDir('colony-guard-content-'));
  clearFileContents();
});
afterEach(() => cleanup());

const later = (): number => Date.now() + 10_000; // a read 10 s after the last change
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 30)); // past the filesystem clock's granularity

describe('fileContent', () => {
  it('reuses the read of a file that has not changed since (same bytes, no second read)', async () => {
    const p = join(dir, 'dev.db');
    writeFileSync(p, 'original contents');
    const first = await fileContent(p, lstatSync(p), 1024, later());
    const second = await fileContent(p, lstatSync(p), 1024, later());
    expect(second.hash).toBe(first.hash);
    expect(second.data).toBe(first.data); // the same Buffer: not read again
    expect(second.data?.toString()).toBe('original contents');
  });

  it('sees a rewrite of the same size whose mtime was set back (ctime moves)', async () => {
    const p = join(dir, '.env');
    writeFileSync(p, 'SECRET=aaaa\n');
    utimesSync(p, 1_000_000, 1_000_000); // a round mtime, set back exactly below
    const st = lstatSync(p);
    const first = await fileContent(p, st, 1024, later());
    await tick();
    writeFileSync(p, 'SECRET=bbbb\n');
    utimesSync(p, 1_000_000, 1_000_000); // mtime and size as before
    const after = lstatSync(p);
    expect(after.mtimeMs).toBe(st.mtimeMs);
    const second = await fileContent(p, after, 1024, later());
    expect(second.hash).not.toBe(first.hash);
    expect(second.data?.toString()).toBe('SECRET=bbbb\n');
  });

  it('sees a file replaced by another one (rename over it)', async () => {
    const p = join(dir, 'id_rsa');
    writeFileSync(p, 'key one');
    const first = await fileContent(p, lstatSync(p), 1024, later());
    writeFileSync(join(dir, 'tmp'), 'key two');
    renameSync(join(dir, 'tmp'), p);
    const second = await fileContent(p, lstatSync(p), 1024, later());
    expect(second.hash).not.toBe(first.hash);
  });

  it('never reuses the read of a file changed in the last seconds (a write in the same clock tick keeps ctime)', async () => {
    const p = join(dir, 'fresh.key');
    writeFileSync(p, 'new');
    const first = await fileContent(p, lstatSync(p), 1024); // real clock: ctime is now
    const second = await fileContent(p, lstatSync(p), 1024);
    expect(second.hash).toBe(first.hash);
    expect(second.data).not.toBe(first.data); // read again
  });

  it('keeps the hash but no copy of a file above maxBytes', async () => {
    const p = join(dir, 'big.db');
    writeFileSync(p, 'x'.repeat(2048));
    const r = await fileContent(p, lstatSync(p), 1024, later());
    expect(r.data).toBeNull();
    expect(r.hash).toMatch(/^[0-9a-f]{64}$/);
    expect((await fileContent(p, lstatSync(p), 1024, later())).hash).toBe(r.hash);
  });
});
