/**
 * Linux backend: a SandboxSpec as bubblewrap arguments.
 *
 * The sandbox's root is an empty tmpfs. Only the system and toolchain paths
 * are bound in (read-only), never `/` as a whole: /root, /home, /work, /srv,
 * /var, /run and every other task's workspace simply do not exist inside.
 * The workspace is the one writable bind; /tmp and HOME are fresh tmpfs.
 * Paths to hide (colony home, config file, secret dirs) are covered by an
 * empty tmpfs (directories) or /dev/null (files) wherever a bind exposed them
 * (e.g. `./.colony` inside the workspace). All namespaces are new (user, pid,
 * net, ipc, uts, cgroup): the task's loopback is its own and the host's
 * loopback services are unreachable; all capabilities are dropped.
 *
 * Pure given `probe` (how a path looks on disk), so unit tests need no disk.
 */
import path from 'node:path';
import { isInside } from '../protected.js';
import type { SandboxSpec } from './types.js';

export type PathKind = { kind: 'dir' } | { kind: 'file' } | { kind: 'link'; target: string } | null;
export type PathProbe = (p: string) => PathKind;

/** Where the proxy socket and the bridge script appear inside the sandbox. */
export const INSIDE_PROXY_SOCKET = '/run/colony/proxy.sock';
export const INSIDE_BRIDGE = '/run/colony/bridge.cjs';
export const INSIDE_PROXY_PORT = 3128;

export const LINUX_SYSTEM_PATHS: readonly string[] = Object.freeze(['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/opt', '/nix']);

/** One mount of the sandbox; `src` and `writable` say what of the host it exposes (coverage.ts reads them). */
export interface Mount {
  dest: string;
  order: number; // same depth: binds before hides
  args: string[];
  src?: string; // the host path bound there (binds only)
  writable?: boolean; // a writable bind of a host path (tmpfs is writable but holds nothing of the host)
}

export const mountDepth = (p: string): number => (p === '/' ? 0 : p.split('/').length - 1);

/** The sandbox's mounts, parents before children (a later mount covers an earlier one at or below its path). */
export function bwrapMounts(spec: SandboxSpec, probe: PathProbe): Mount[] {
  const mounts: Mount[] = [];
  const bound: string[] = [];
  for (const p of spec.system) {
    const k = probe(p);
    if (!k) continue;
    if (k.kind === 'link') mounts.push({ dest: p, order: 0, args: ['--symlink', k.target, p] });
    else {
      mounts.push({ dest: p, order: 0, args: ['--ro-bind', p, p], src: p });
      bound.push(p);
    }
  }
  mounts.push({ dest: '/proc', order: 0, args: ['--proc', '/proc'] });
  mounts.push({ dest: '/dev', order: 0, args: ['--dev', '/dev'] });
  mounts.push({ dest: '/tmp', order: 0, args: ['--tmpfs', '/tmp'] });
  mounts.push({ dest: spec.home, order: 1, args: ['--tmpfs', spec.home] });
  mounts.push({ dest: spec.workspace, order: 2, args: ['--bind', spec.workspace, spec.workspace], src: spec.workspace, writable: true });
  bound.push(spec.workspace);
  for (const b of spec.ro) {
    if (!probe(b.src)) continue;
    const dest = b.dest ?? b.src;
    mounts.push({ dest, order: 2, args: ['--ro-bind', b.src, dest], src: b.src });
    if (dest === b.src) bound.push(b.src);
  }
  for (const b of spec.rw) {
    if (!probe(b.src)) continue;
    const dest = b.dest ?? b.src;
    mounts.push({ dest, order: 2, args: ['--bind', b.src, dest], src: b.src, writable: true });
    if (dest === b.src) bound.push(b.src);
  }
  for (const h of spec.hide) {
    // Not visible anyway (most secret paths: the home is a tmpfs) needs no probe; one that is, is probed every attempt.
    if (!bound.some((b) => isInside(b, h))) continue;
    const k = probe(h);
    if (!k) continue;
    mounts.push({ dest: h, order: 3, args: k.kind === 'dir' ? ['--tmpfs', h] : ['--ro-bind', '/dev/null', h] });
  }
  // Parents before children, so a later bind never covers an earlier hide.
  mounts.sort((a, b) => mountDepth(a.dest) - mountDepth(b.dest) || a.order - b.order);
  return mounts;
}

/** bwrap arguments (without the `bwrap` itself) that run spec.command inside the sandbox (`mounts`: bwrapMounts of the same spec, if already made). */
export function buildBwrapArgs(spec: SandboxSpec, probe: PathProbe, mounts: readonly Mount[] = bwrapMounts(spec, probe)): string[] {
  const args = ['--unshare-all', '--die-with-parent', '--new-session', '--cap-drop', 'ALL', '--hostname', 'colony-task'];
  for (const m of mounts) args.push(...m.args);
  let command = [spec.command, ...spec.args];
  const net = spec.network;
  if (net.proxySocket && net.bridgeScript) {
    args.push('--bind', net.proxySocket, INSIDE_PROXY_SOCKET, '--ro-bind', net.bridgeScript, INSIDE_BRIDGE);
    // The bridge listens on the task's own loopback, then runs the command.
    command = [net.nodeBin, INSIDE_BRIDGE, INSIDE_PROXY_SOCKET, String(INSIDE_PROXY_PORT), net.forwardPorts.join(','), '--', ...command];
  }
  args.push('--chdir', spec.cwd, '--', ...command);
  return args;
}

/** Environment inside: the task's own, with HOME/TMPDIR moved and the proxy named when there is one. */
export function sandboxEnv(spec: SandboxSpec): Record<string, string> {
  const env: Record<string, string> = { ...spec.env, HOME: spec.home, TMPDIR: '/tmp' };
  if (spec.network.proxySocket) {
    const url = `http://127.0.0.1:${INSIDE_PROXY_PORT}`;
    for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) env[k] = url;
    // The task's own servers on its loopback are reached directly, never through the proxy.
    env['NO_PROXY'] = env['no_proxy'] = 'localhost,127.0.0.1,::1';
  }
  return env;
}

/** HOME inside the sandbox: the user's home path (tools expect it) as a fresh tmpfs, unless that path is / or the workspace itself: then /tmp/home. */
export function insideHome(realHome: string, workspace: string): string {
  const h = path.resolve(realHome);
  return h === '/' || h === workspace ? '/tmp/home' : h;
}
