/**
 * The host lock is held by the OS for the life of the process (an SQLite
 * exclusive lock), not by a PID file: a PID that now belongs to another live
 * process (reuse after a crash or reboot) never blocks a home, a second live
 * host is refused with a message naming the holder, and a SIGKILLed holder
 * leaves nothing to clean up.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isColonyError } from '../../src/core/errors.js';
import { acquireHostLock, lockHolder, type HostLock } from '../../src/store/host-lock.js';
import { killQuietly, makeTempDir, processGone, waitFor } from '../helpers/proc.js';

const held: HostLock[] = [];
const children: number[] = [];
const dirs: Array<() => void> = [];
afterEach(() => {
  for (const l of held.splice(0)) l.release();
  for (const pid of children.splice(0)) killQuietly(pid);
  for (const c of dirs.splice(0)) c();
});

function lockFile(): string {
  const t = makeTempDir('colony-lock-');
  dirs.push(t.cleanup);
  return join(t.dir, 'host.lock');
}

function refusal(fn: () => unknown): { code: string; message: string } | null {
  try {
    held.push(fn() as HostLock);
    return null;
  } catch (e) {
    return isColonyError(e) ? { code: e.code, message: e.message } : { code: 'thrown', message: String(e) };
  }
}

/** Another live process (not colony): its PID is what a stale lock would name after PID reuse. */
function otherProcess(): number {
  const c = spawn('sleep', ['30'], { stdio: 'ignore' });
  children.push(c.pid as number);
  return c.pid as number;
}

describe('host lock', () => {
  it('is not blocked by a stale lock file naming the PID of another live process', () => {
    const file = lockFile();
    const pid = otherProcess();
    writeFileSync(file, String(pid)); // the PID file an older colony left behind
    writeFileSync(`${file}.pid`, String(pid));
    expect(lockHolder(file)).toBeNull();
    expect(refusal(() => acquireHostLock(file, 'test'))).toBeNull();
    expect(lockHolder(file)).toBe(process.pid);
  });

  it('refuses a second live host with a message naming the holder, and frees the home on release', () => {
    const file = lockFile();
    const first = acquireHostLock(file, 'test');
    const second = refusal(() => acquireHostLock(file, 'test'));
    expect(second?.code).toBe('E_CONFLICT');
    expect(second?.message).toMatch(new RegExp(`^another colony process \\(pid ${process.pid}\\) is using this home; stop it or use \`colony submit\``));
    first.release();
    expect(lockHolder(file)).toBeNull();
    expect(refusal(() => acquireHostLock(file, 'test'))).toBeNull();
  });

  it('is released by the OS when its holder is SIGKILLed', async () => {
    const file = lockFile();
    const script = `import('${join(process.cwd(), 'src/store/host-lock.ts')}').then((m) => { m.acquireHostLock(${JSON.stringify(file)}, 'child'); console.log('held'); setInterval(() => {}, 1000); })`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child.pid as number);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('held'), 'the child to hold the lock', 20_000);
    expect(refusal(() => acquireHostLock(file, 'test'))?.message).toMatch(new RegExp(`pid ${child.pid}`));
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(child.pid as number, 'SIGKILL');
    await exited; // reaped: the process is gone, and with it its locks
    expect(processGone(child.pid as number)).toBe(true);
    await waitFor(() => lockHolder(file) === null, 'the OS to release the lock', 5000);
    expect(refusal(() => acquireHostLock(file, 'test'))).toBeNull();
  });
});
