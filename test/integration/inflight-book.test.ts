/**
 * The worker's in-flight record (remote/inflight.ts) across a crash: a new
 * run finds what the previous one left, ends the recorded process tree (real
 * processes, identity checked), returns the attempts to report lost and the
 * final reports that may not have left, and clears the records.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bootId, startTicks } from '../../src/engines/process-tree.js';
import { InflightBook } from '../../src/remote/worker/inflight.js';
import { killQuietly, makeTempDir, processGone, waitFor } from '../helpers/proc.js';

const tmp = makeTempDir('colony-inflight-');
const strays: number[] = [];
afterAll(() => {
  for (const p of strays) killQuietly(p);
  tmp.cleanup();
});

describe('InflightBook', () => {
  it('after a crash: ends the recorded tree, reports the attempt lost, resends a saved final report, clears everything', async () => {
    const home = join(tmp.dir, 'w1');
    const before = new InflightBook(home);
    // An attempt still running when the worker died: a detached shell with a background child.
    const leader = spawn('/bin/sh', ['-c', 'sleep 30 & wait'], {
      detached: true,
      stdio: 'ignore',
      env: { PATH: process.env['PATH'] ?? '', COLONY_ATTEMPT_TAG: 'aa11' },
    });
    const pid = leader.pid as number;
    strays.push(pid);
    await waitFor(() => startTicks(pid) !== null, 'leader started');
    before.begin({ task_id: 'g:run', attempt: 2, nonce: 'n1', engine: 'exec' });
    before.process({ task_id: 'g:run', attempt: 2 }, { pid, pgid: pid, start_ticks: startTicks(pid) as number, boot_id: bootId(), cgroup: null, tag: 'aa11' });
    // An attempt that ended; its signed final report was saved but maybe not sent.
    before.begin({ task_id: 'g:done', attempt: 1, nonce: 'n2', engine: 'exec' });
    before.final({ task_id: 'g:done', attempt: 1 }, '{"type":"TASK_COMPLETED"}');
    // An attempt that ended and was reported: nothing left of it.
    before.begin({ task_id: 'g:gone', attempt: 1, nonce: 'n3', engine: 'exec' });
    before.end({ task_id: 'g:gone', attempt: 1 });
    writeFileSync(join(home, 'inflight', 'garbage.json'), '{not json');
    await waitFor(() => {
      try {
        return readdirSync('/proc').some(
          (e) =>
            /^\d+$/.test(e) &&
            Number(e) !== pid &&
            readFileSyncSafe(`/proc/${e}/stat`).includes(` ${pid} `) &&
            readFileSyncSafe(`/proc/${e}/cmdline`).startsWith('sleep'),
        );
      } catch {
        return false;
      }
    }, 'background child started');

    const after = new InflightBook(home).recover();
    expect(after.lost.map((r) => [r.task_id, r.attempt, r.nonce, r.engine])).toEqual([['g:run', 2, 'n1', 'exec']]);
    expect(after.finals).toEqual(['{"type":"TASK_COMPLETED"}']);
    expect(after.killed).toBe(2); // the shell and its sleep
    expect(processGone(pid)).toBe(true);
    expect(readdirSync(join(home, 'inflight'))).toEqual([]);
  });

  it('a record whose pid now belongs to another process (other start time) is reported lost without killing that process', async () => {
    const home = join(tmp.dir, 'w2');
    const book = new InflightBook(home);
    const other = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    const pid = other.pid as number;
    strays.push(pid);
    await waitFor(() => startTicks(pid) !== null, 'bystander started');
    book.begin({ task_id: 'g:t', attempt: 1, nonce: 'n', engine: 'exec' });
    book.process(
      { task_id: 'g:t', attempt: 1 },
      { pid, pgid: pid, start_ticks: (startTicks(pid) as number) - 5, boot_id: bootId(), cgroup: null, tag: 'not-its-tag' },
    );
    const r = new InflightBook(home).recover();
    expect(r.lost).toHaveLength(1);
    expect(r.killed).toBe(0);
    expect(processGone(pid)).toBe(false);
    other.kill('SIGKILL');
  });
});

function readFileSyncSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
