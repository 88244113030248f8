/**
 * macOS backend: a SandboxSpec as a Seatbelt profile for `sandbox-exec -p`
 * (what workers on people's Macs use). Only the profile text is tested here
 * (CI is Linux); see the README's security model for what differs.
 *
 * Seatbelt cannot remap paths or give a process its own loopback, so:
 * - reads: the system is readable, the user's home is not, except the
 *   workspace, the fresh HOME/TMPDIR the plan created, and the listed binds;
 *   hidden paths (colony home, config, secrets) are denied last so no
 *   earlier allow can re-open them (in SBPL the last matching rule wins);
 * - writes: only the workspace, the fresh HOME/TMPDIR, rw binds, /dev/null;
 * - network: nothing but the proxy port on 127.0.0.1 and the task's own
 *   listening sockets on loopback (other loopback ports stay closed, so the
 *   admin app is not reachable, but a task's client cannot reach its own
 *   server either unless `localPorts` names the ports it may use).
 */
import type { SandboxSpec } from './types.js';

export interface SeatbeltExtras {
  realHome: string;
  tmpDir: string; // fresh per attempt, HOME and TMPDIR point inside it
  proxyPort: number | null;
  localPorts?: readonly number[];
}

/** SBPL string literal: backslash and quote escaped, control characters refused. */
export function sbplString(s: string): string {
  if (/[\u0000-\u001f]/.test(s)) throw new Error(`path with control characters cannot go into a Seatbelt profile: ${JSON.stringify(s)}`);
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

const subpaths = (ps: readonly string[]): string => ps.map((p) => `(subpath ${sbplString(p)})`).join(' ');

export function buildSeatbeltProfile(spec: SandboxSpec, x: SeatbeltExtras): string {
  const readable = [spec.workspace, x.tmpDir, ...spec.ro.map((b) => b.src), ...spec.rw.map((b) => b.src)];
  const writable = [spec.workspace, x.tmpDir, ...spec.rw.map((b) => b.src)];
  const lines = [
    '(version 1)',
    '(deny default)',
    '(import "system.sb")',
    '(allow process-exec process-fork)',
    '(allow signal (target same-sandbox))',
    '(allow sysctl-read)',
    '(allow mach-lookup)',
    '(allow ipc-posix-shm)',
    '(allow file-read*)',
    `(deny file-read* (subpath ${sbplString(x.realHome)}))`,
    `(allow file-read* ${subpaths(readable)})`,
    `(allow file-write* ${subpaths(writable)} (literal "/dev/null") (literal "/dev/tty") (subpath "/dev/fd"))`,
  ];
  if (spec.hide.length) lines.push(`(deny file-read* file-write* ${subpaths(spec.hide)})`);
  lines.push('(allow network-bind (local ip "localhost:*"))', '(allow network-inbound (local ip "localhost:*"))');
  const ports = [...(x.proxyPort === null ? [] : [x.proxyPort]), ...(x.localPorts ?? [])];
  for (const p of ports) lines.push(`(allow network-outbound (remote ip "localhost:${p}"))`);
  return lines.join('\n') + '\n';
}

/** The invocation: `sandbox-exec -p PROFILE -- cmd args` with limits set by the shell wrapper. */
export function seatbeltArgs(profile: string, command: string, args: readonly string[]): string[] {
  return ['-p', profile, command, ...args];
}
