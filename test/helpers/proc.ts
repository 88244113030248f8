/** Test helpers for temp dirs, polling and process liveness (no fixed sleeps). */
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export function makeTempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * THE polling helper of the test suite: polls `check` (sync or async) until it
 * returns a truthy value (returned) or the timeout passes (throws naming `what`).
 */
export async function waitFor<T>(
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  what: string,
  timeoutMs = 15_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * True when the process no longer runs. kill(pid, 0) throwing ESRCH is the
 * normal proof; a zombie (state Z: dead, not yet reaped) also counts, because
 * an orphan is reparented to PID 1 and some sandbox inits never reap it.
 */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true; // vanished between the two checks
  }
}

/** Best-effort cleanup of a stray test process. */
export function killQuietly(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** Reads a pid written by a test command (`echo $! > file`), once it is complete. */
export function readPid(file: string): number | undefined {
  try {
    const text = readFileSync(file, 'utf8');
    if (!text.endsWith('\n')) return undefined;
    const pid = Number(text.trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads a pid written by a task (`echo $! > file`) and returns its host pid:
 * a task in the OS sandbox has its own PID namespace, so the number it wrote
 * is the pid inside it; the host process is the one whose innermost NSpid is
 * that number and whose cwd is the file's directory. Outside a sandbox the
 * number is returned as written.
 */
export function readTaskPid(file: string): number | undefined {
  const inner = readPid(file);
  return inner === undefined ? undefined : hostPid(inner, dirname(file));
}

/** The host pid of a process a task knows as `inner` (its own PID namespace when sandboxed), running in `dir`. */
export function hostPid(inner: number, dir: string): number | undefined {
  const where = realpathSync(dir);
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const ns = /^NSpid:\s+(.+)$/m.exec(readFileSync(`/proc/${e}/status`, 'utf8'))?.[1]?.split(/\s+/) ?? [];
      const same = ns.length >= 2 ? Number(ns[ns.length - 1]) === inner : Number(e) === inner;
      if (same && readlinkSync(`/proc/${e}/cwd`) === where) return Number(e);
    } catch {
      /* exited meanwhile */
    }
  }
  return undefined;
}
