/**
 * The OS sandbox's pure parts: bubblewrap arguments from a spec (with a fake
 * disk), the macOS Seatbelt profile text (only Linux runs here, so the
 * profile is checked as text), the proxy's decisions and the limit wrapper.
 * The real containment is tested with real bwrap in test/security/os-sandbox-*.
 */
import { describe, expect, it } from 'vitest';
import { buildAllowList } from '../../src/safety/network.js';
import { buildBwrapArgs, insideHome, sandboxEnv, type PathKind } from '../../src/safety/os-sandbox/linux-bwrap.js';
import { limitFromExit, limitWrapper } from '../../src/safety/os-sandbox/limits.js';
import { buildSeatbeltProfile, sbplString } from '../../src/safety/os-sandbox/macos-seatbelt.js';
import { decideResolved, decideTarget } from '../../src/safety/os-sandbox/proxy.js';
import type { SandboxLimits, SandboxSpec } from '../../src/safety/os-sandbox/types.js';

const DISK: Record<string, PathKind> = {
  '/usr': { kind: 'dir' },
  '/bin': { kind: 'link', target: 'usr/bin' },
  '/etc': { kind: 'dir' },
  '/etc/shadow': { kind: 'file' },
  '/home/u': { kind: 'dir' },
  '/home/u/.ssh': { kind: 'dir' },
  '/home/u/proj': { kind: 'dir' },
  '/home/u/proj/.colony': { kind: 'dir' },
  '/home/u/proj/colony.config.json': { kind: 'file' },
  '/srv/other-ws': { kind: 'dir' },
};
const probe = (p: string): PathKind => DISK[p] ?? null;

function spec(over: Partial<SandboxSpec> = {}): SandboxSpec {
  return {
    command: '/bin/sh',
    args: ['-c', 'true'],
    cwd: '/home/u/proj',
    env: { PATH: '/usr/bin:/bin', HOME: '/home/u' },
    workspace: '/home/u/proj',
    home: '/home/u',
    system: ['/usr', '/bin', '/lib64', '/etc'],
    ro: [],
    rw: [],
    hide: ['/home/u/proj/.colony', '/home/u/proj/colony.config.json', '/home/u/.ssh', '/etc/shadow', '/srv/other-ws'],
    network: { proxySocket: null, forwardPorts: [], bridgeScript: null, nodeBin: '/usr/bin/node' },
    ...over,
  };
}

/** The mount operations in order, as [flag, ...operands]. */
function mounts(args: string[]): string[][] {
  const out: string[][] = [];
  const arity: Record<string, number> = { '--ro-bind': 2, '--bind': 2, '--symlink': 2, '--tmpfs': 1, '--proc': 1, '--dev': 1 };
  const end = args.indexOf('--chdir');
  for (let i = 0; i < end; i++) {
    const n = arity[args[i] as string];
    if (n !== undefined) {
      out.push(args.slice(i, i + 1 + n));
      i += n;
    }
  }
  return out;
}

describe('bubblewrap arguments', () => {
  const args = buildBwrapArgs(spec(), probe);
  const m = mounts(args);
  const idx = (op: string[]): number => m.findIndex((x) => x.join(' ') === op.join(' '));

  it('uses every namespace, drops all capabilities and dies with colony', () => {
    for (const f of ['--unshare-all', '--die-with-parent', '--new-session']) expect(args).toContain(f);
    expect(args.join(' ')).toContain('--cap-drop ALL');
    expect(args).not.toContain('--share-net');
  });

  it('binds the system read-only and never the whole disk', () => {
    expect(idx(['--ro-bind', '/usr', '/usr'])).toBeGreaterThanOrEqual(0);
    expect(idx(['--symlink', 'usr/bin', '/bin'])).toBeGreaterThanOrEqual(0);
    expect(m.some((x) => x[0] !== '--symlink' && x[1] === '/')).toBe(false);
    expect(m.some((x) => x.includes('/lib64'))).toBe(false); // not on this disk: not bound
    expect(m.some((x) => x.includes('/srv/other-ws'))).toBe(false); // another workspace: not there at all
  });

  it('makes the workspace the one writable bind, with fresh /tmp and HOME', () => {
    expect(m.filter((x) => x[0] === '--bind')).toEqual([['--bind', '/home/u/proj', '/home/u/proj']]);
    expect(idx(['--tmpfs', '/tmp'])).toBeGreaterThanOrEqual(0);
    // HOME's tmpfs comes before the workspace inside it, or it would cover the workspace
    expect(idx(['--tmpfs', '/home/u'])).toBeLessThan(idx(['--bind', '/home/u/proj', '/home/u/proj']));
  });

  it('hides the colony home and config inside the workspace after binding it, and /etc/shadow', () => {
    const ws = idx(['--bind', '/home/u/proj', '/home/u/proj']);
    expect(idx(['--tmpfs', '/home/u/proj/.colony'])).toBeGreaterThan(ws);
    expect(idx(['--ro-bind', '/dev/null', '/home/u/proj/colony.config.json'])).toBeGreaterThan(ws);
    expect(idx(['--ro-bind', '/dev/null', '/etc/shadow'])).toBeGreaterThan(idx(['--ro-bind', '/etc', '/etc']));
    expect(m.some((x) => x.includes('/home/u/.ssh'))).toBe(false); // not visible anyway (HOME is a fresh tmpfs)
  });

  it('hides a secret dir when the workspace is the home itself', () => {
    const a = mounts(buildBwrapArgs(spec({ workspace: '/home/u', cwd: '/home/u', home: insideHome('/home/u', '/home/u') }), probe));
    expect(insideHome('/home/u', '/home/u')).toBe('/tmp/home');
    const ws = a.findIndex((x) => x.join(' ') === '--bind /home/u /home/u');
    expect(a.findIndex((x) => x.join(' ') === '--tmpfs /home/u/.ssh')).toBeGreaterThan(ws);
  });

  it('runs the command last, after --chdir and --, so a command cannot be read as an option', () => {
    const dash = args.lastIndexOf('--');
    expect(args.slice(dash + 1)).toEqual(['/bin/sh', '-c', 'true']);
    expect(args.slice(dash - 2, dash)).toEqual(['--chdir', '/home/u/proj']);
  });

  it('with a proxy: binds its socket and the bridge, and the bridge runs the command', () => {
    const a = buildBwrapArgs(
      spec({ network: { proxySocket: '/run/c/p1.sock', forwardPorts: [8787], bridgeScript: '/run/c/bridge.cjs', nodeBin: '/usr/bin/node' } }),
      probe,
    );
    expect(a.join(' ')).toContain('--bind /run/c/p1.sock /run/colony/proxy.sock --ro-bind /run/c/bridge.cjs /run/colony/bridge.cjs');
    expect(a.slice(a.lastIndexOf('--chdir') + 3)).toEqual([
      '/usr/bin/node',
      '/run/colony/bridge.cjs',
      '/run/colony/proxy.sock',
      '3128',
      '8787',
      '--',
      '/bin/sh',
      '-c',
      'true',
    ]);
  });

  it("sets proxy variables only when there is a proxy, and never proxies the task's own loopback", () => {
    expect(sandboxEnv(spec())).toEqual({ PATH: '/usr/bin:/bin', HOME: '/home/u', TMPDIR: '/tmp' });
    const env = sandboxEnv(spec({ network: { proxySocket: '/x.sock', forwardPorts: [], bridgeScript: '/b', nodeBin: '/usr/bin/node' } }));
    expect(env['HTTPS_PROXY']).toBe('http://127.0.0.1:3128');
    expect(env['NO_PROXY']).toContain('127.0.0.1');
  });
});

describe('macOS Seatbelt profile (text only; CI is Linux)', () => {
  const p = buildSeatbeltProfile(spec({ workspace: '/Users/u/proj', hide: ['/Users/u/proj/.colony', '/Users/u/.ssh'], rw: [{ src: '/Users/u/.claude' }] }), {
    realHome: '/Users/u',
    tmpDir: '/private/tmp/colony-task-1',
    proxyPort: 50123,
  });
  const lines = p.trim().split('\n');
  const at = (re: RegExp): number => lines.findIndex((l) => re.test(l));

  it("denies by default and reads nothing of the user's home but the workspace and the binds", () => {
    expect(lines[1]).toBe('(deny default)');
    expect(at(/^\(deny file-read\* \(subpath "\/Users\/u"\)\)$/)).toBeGreaterThan(at(/^\(allow file-read\*\)$/));
    expect(at(/^\(allow file-read\* .*"\/Users\/u\/proj"/)).toBeGreaterThan(at(/^\(deny file-read\* \(subpath "\/Users\/u"\)\)$/));
  });

  it('writes only to the workspace, its fresh temp dir and rw binds', () => {
    const w = lines.find((l) => l.startsWith('(allow file-write*')) ?? '';
    expect(w).toContain('(subpath "/Users/u/proj")');
    expect(w).toContain('(subpath "/private/tmp/colony-task-1")');
    expect(w).toContain('(subpath "/Users/u/.claude")');
    expect(w).not.toMatch(/subpath "\/Users\/u"\)/);
  });

  it('denies the hidden paths last, so no earlier allow re-opens them', () => {
    const hide = at(/^\(deny file-read\* file-write\* .*\.colony.*\.ssh/);
    expect(hide).toBeGreaterThan(at(/^\(allow file-write\*/));
    expect(lines.slice(hide + 1).some((l) => /allow file-/.test(l))).toBe(false);
  });

  it('allows outbound network only to the proxy port', () => {
    const out = lines.filter((l) => l.includes('network-outbound'));
    expect(out).toEqual(['(allow network-outbound (remote ip "localhost:50123"))']);
  });

  it('escapes paths and refuses ones that could break out of the string', () => {
    expect(sbplString('/a "b"\\c')).toBe('"/a \\"b\\"\\\\c"');
    expect(() => sbplString('/a\n(allow default)')).toThrow(/control characters/);
  });
});

describe('proxy decisions', () => {
  const { allow } = buildAllowList(['registry.npmjs.org', '*.example.com', '10.9.0.0/16'], { loopback: false });
  const policy = { allow, exact: new Set(['127.0.0.1:8787']) };

  it("allows listed names, wildcard subdomains, CIDRs and the agent's exact endpoint", () => {
    expect(decideTarget('registry.npmjs.org', 443, policy).ok).toBe(true);
    expect(decideTarget('a.example.com', 443, policy).ok).toBe(true);
    expect(decideTarget('10.9.3.4', 80, policy).ok).toBe(true);
    expect(decideTarget('127.0.0.1', 8787, policy).ok).toBe(true);
  });

  it("refuses everything else, the host's loopback included (no implicit loopback)", () => {
    expect(decideTarget('example.com', 443, policy)).toEqual({ ok: false, reason: 'example.com:443 is not in safety.network_allow' });
    expect(decideTarget('127.0.0.1', 8080, policy).ok).toBe(false); // the admin app
    expect(decideTarget('localhost', 8787, policy).ok).toBe(false); // exact means exact
    expect(decideTarget('evil.com', 0, policy).ok).toBe(false);
  });

  it("refuses an allowed name that resolves to the host's loopback (DNS rebinding to the admin app)", () => {
    expect(decideResolved('a.example.com', 443, '127.0.0.1', policy).ok).toBe(false);
    expect(decideResolved('a.example.com', 443, '93.184.216.34', policy).ok).toBe(true);
    expect(decideResolved('127.0.0.1', 8787, '127.0.0.1', policy).ok).toBe(true);
  });
});

describe('limits', () => {
  const l: SandboxLimits = { processes: 512, memory_mb: 4096, file_size_mb: 10, cpu_s: 60 };

  it('joins the cgroups and sets rlimits in a wrapper that then execs the sandbox', () => {
    const w = limitWrapper({ command: '/usr/bin/bwrap', args: ['--unshare-all', '--', 'x'], env: { A: '1' } }, l, ['/sys/fs/cgroup/pids/c/a1/cgroup.procs']);
    expect(w.command).toBe('/bin/sh');
    expect(w.args[1]).toBe(
      'echo $$ > \'/sys/fs/cgroup/pids/c/a1/cgroup.procs\' || exit 125; ulimit -f 20480 || exit 125; ulimit -S -t 60 && ulimit -H -t 65 || exit 125; exec "$@"',
    );
    expect(w.args.slice(2)).toEqual(['colony-sandbox', '/usr/bin/bwrap', '--unshare-all', '--', 'x']);
    expect(limitWrapper({ command: 'b', args: [], env: {} }, { processes: null, memory_mb: null, file_size_mb: null, cpu_s: null }, [])).toEqual({
      command: 'b',
      args: [],
      env: {},
    });
  });

  it('names the limit that ended a task', () => {
    expect(limitFromExit({ code: null, signal: 'SIGKILL' }, 'processes', l)).toMatch(/process limit reached \(safety\.os_sandbox\.limits\.processes = 512/);
    expect(limitFromExit({ code: 137, signal: null }, 'memory', l)).toMatch(/memory limit reached .*memory_mb = 4096/);
    expect(limitFromExit({ code: 152, signal: null }, null, l)).toMatch(/CPU time limit reached .*cpu_s = 60/);
    expect(limitFromExit({ code: null, signal: 'SIGXFSZ' }, null, l)).toMatch(/file size limit reached .*file_size_mb = 10/);
    expect(limitFromExit({ code: 1, signal: null }, null, l)).toBeNull();
  });
});
