/**
 * Can the OS sandbox start on this machine? Checked once (a real bwrap run
 * with every namespace, or a real sandbox-exec run) and cached. When it
 * cannot, the answer names the one step that fixes it.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

export type SandboxProbe = { ok: true; kind: 'bwrap' | 'seatbelt'; bin: string } | { ok: false; reason: string; fix: string };

function which(name: string, envPath: string): string | null {
  for (const dir of envPath.split(':').filter((d) => path.isAbsolute(d))) {
    const p = path.join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

export function probeSandbox(platform: NodeJS.Platform = process.platform, envPath = process.env['PATH'] ?? '/usr/bin:/bin'): SandboxProbe {
  if (platform === 'linux') {
    const bin = which('bwrap', envPath);
    if (!bin)
      return {
        ok: false,
        reason: 'bubblewrap (bwrap) is not installed',
        fix: 'install it: sudo apt-get install bubblewrap (Debian/Ubuntu) or sudo dnf install bubblewrap (Fedora)',
      };
    const r = spawnSync(
      bin,
      ['--unshare-all', '--die-with-parent', '--new-session', '--cap-drop', 'ALL', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', 'true'],
      { encoding: 'utf8', timeout: 10_000 },
    );
    if (r.status === 0) return { ok: true, kind: 'bwrap', bin };
    const err = (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n')[0] ?? '';
    return {
      ok: false,
      reason: `bubblewrap cannot create namespaces here (${err})`,
      fix: 'allow user namespaces: sudo sysctl -w kernel.unprivileged_userns_clone=1 (Debian) or kernel.apparmor_restrict_unprivileged_userns=0 (Ubuntu 24.04+); in a container, run it with --privileged or a seccomp profile that allows unshare',
    };
  }
  if (platform === 'darwin') {
    const bin = '/usr/bin/sandbox-exec';
    const r = spawnSync(bin, ['-p', '(version 1)(allow default)', '/usr/bin/true'], { timeout: 10_000 });
    if (r.status === 0) return { ok: true, kind: 'seatbelt', bin };
    return {
      ok: false,
      reason: `sandbox-exec does not work here (${r.error?.message ?? `exit ${r.status}`})`,
      fix: 'run on macOS 10.15 or later with /usr/bin/sandbox-exec present',
    };
  }
  return { ok: false, reason: `no OS sandbox for ${platform}`, fix: 'run tasks on Linux (bubblewrap) or macOS (sandbox-exec) workers' };
}

let cached: SandboxProbe | null = null;
/** The probe, run once per process. */
export function sandboxProbe(): SandboxProbe {
  cached ??= probeSandbox();
  return cached;
}

/** `then`: what to do once fixed (the worker: run the same command again). */
export function unavailableMessage(p: Extract<SandboxProbe, { ok: false }>, then?: string): string {
  return `the OS sandbox cannot start: ${p.reason}; ${p.fix}${then ? `, ${then}` : ''} (or set safety.sandbox: false to run tasks unsandboxed)`;
}
