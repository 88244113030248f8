/**
 * The reaper: one small helper process per colony process (host or worker),
 * started with the first attempt, that ends the trees of the attempts still
 * running when colony dies — by any means, SIGKILL included. It holds the
 * read end of a pipe whose only writer is colony; end-of-file on it means
 * colony is gone, and it then sweeps the attempts it was told about
 * (process-tree.ts sweepCore) and exits.
 *
 * Layers of the guarantee (sandbox off): the attempt's leader has a
 * parent-death SIGKILL (child.ts) — immediate, but only the leader; the reaper
 * ends the rest of the tree within a few hundred ms; the sweep at recovery
 * (runner/orphans.ts, remote/inflight.ts) checks again before anything is
 * requeued, in case the reaper was killed too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { AttemptProcess } from '../core/engine.js';
import { bootId, sweepCore } from './process-tree.js';

let reaper: ChildProcess | null = null;
let broken = false;

function script(): string {
  return `'use strict';
const fs = require('fs');
const __name = (f) => f; // some TypeScript loaders wrap named functions with this helper (keepNames)
const sweepCore = ${sweepCore.toString()};
const recs = new Map();
let buf = '';
for (const s of ['SIGINT', 'SIGHUP', 'SIGTERM', 'SIGPIPE']) process.on(s, () => {});
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    try {
      const m = JSON.parse(line);
      if (m.op === 'add') recs.set(m.key, m.rec);
      else if (m.op === 'del') recs.delete(m.key);
    } catch {}
  }
});
const end = () => {
  try { sweepCore(fs, [...recs.values()], ${JSON.stringify(bootId())}, 5000, process.pid); } finally { process.exit(0); }
};
process.stdin.on('end', end);
process.stdin.on('error', end);
`;
}

function ensure(): ChildProcess | null {
  if (reaper || broken) return reaper;
  // Off only to test the layers below it (the sweep at recovery must then do the work).
  if (process.env['COLONY_REAPER'] === 'off') return null;
  try {
    const child = spawn(process.execPath, ['-e', script()], {
      detached: true, // its own session: a Ctrl-C to colony's process group must not end it first
      stdio: ['pipe', 'ignore', 'ignore'],
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
    });
    child.on('error', () => {
      broken = true;
      reaper = null;
    });
    child.on('exit', () => {
      if (reaper === child) reaper = null;
    });
    child.stdin?.on('error', () => undefined);
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    reaper = child;
  } catch {
    broken = true;
  }
  return reaper;
}

// Messages of one event-loop turn go in one write (a write per attempt start and end was ~1 ms each under load).
// An attempt started in this turn is covered before the write by its leader's parent-death signal
// (or its sandbox's PID namespace) and after a crash by the sweep at recovery.
let pending = '';
function send(m: unknown): void {
  if (!ensure()) return;
  if (pending === '') setImmediate(flush);
  pending += JSON.stringify(m) + '\n';
}

function flush(): void {
  const text = pending;
  pending = '';
  if (text) reaper?.stdin?.write(text);
}

/** The reaper will end this attempt's tree if colony dies before `forget`. */
export function watchAttempt(key: string, rec: AttemptProcess): void {
  send({ op: 'add', key, rec });
}

export function forgetAttempt(key: string): void {
  if (reaper) send({ op: 'del', key });
}
