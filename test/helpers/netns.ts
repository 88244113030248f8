/**
 * Network namespaces as LAN machines for tests (ENVIRONMENT.md "Network
 * namespaces"). As root, makes a bridge `cb-<x>` on the host at 10.<x>.0.1/24
 * and N namespaces `colony-<pid>-<x>-<letter>` at 10.<x>.0.2, .3, … each joined
 * by a veth pair (`cv<x>-<i>` on the host side, `eth0` inside). The namespaces
 * get no default route, so their traffic can only reach 10.<x>.0.0/24.
 *
 * Choosing x: starts from the pid and claims the subnet by creating the bridge
 * whose name encodes x — `ip link add` is atomic, so two test processes never
 * share a subnet. Subnets already routed on this machine are skipped.
 *
 * Never skips: without root or iproute2, createNetns throws ("LAN tests need
 * root and iproute2: …") and the test fails. Everything made is deleted by
 * destroy() (idempotent), on process exit, on SIGINT/SIGTERM, and namespaces
 * left behind by dead test processes are swept on the next run.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface NetnsNamespace {
  name: string;
  ip: string;
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface NetnsHandle {
  hostIp: string;
  subnet: string;
  namespaces: NetnsNamespace[];
  /** Runs a command inside the namespace; resolves when it exits (killed after timeoutMs, default 20 s). */
  exec(ns: string, cmd: string, args?: string[], opts?: { timeoutMs?: number }): Promise<ExecResult>;
  /** Starts a long-running process inside the namespace (killed by destroy()). */
  spawn(ns: string, cmd: string, args?: string[]): ChildProcess;
  /** Runs test/helpers/lan-client.mjs with `spec` inside the namespace and parses its JSON lines. */
  client(ns: string, spec: unknown, opts?: { timeoutMs?: number }): Promise<{ code: number | null; lines: Array<Record<string, unknown>>; stderr: string }>;
  /** Cuts the namespace off (host side of its veth down) / reconnects it. */
  linkDown(ns: string): Promise<void>;
  linkUp(ns: string): Promise<void>;
  destroy(): Promise<void>;
}

export const LAN_CLIENT = fileURLToPath(new URL('./lan-client.mjs', import.meta.url));
const NS_PREFIX = 'colony-';
const live = new Set<() => void>();
let hooksInstalled = false;

export async function createNetns(opts: { count?: number; ipBin?: string } = {}): Promise<NetnsHandle> {
  const count = opts.count ?? 2;
  const ip = opts.ipBin ?? 'ip';
  if (count < 1 || count > 26) throw new Error(`createNetns: count must be 1..26, got ${count}`);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error(`LAN tests need root and iproute2: running as uid ${process.getuid()}; run the tests as root`);
  }
  const run = (args: string[]) => runIp(ip, args);
  try {
    await run(['netns', 'list']);
  } catch (e) {
    throw new Error(`LAN tests need root and iproute2: \`${ip} netns list\` failed: ${errText(e)}`);
  }
  await sweepStale(ip);
  const x = await claimSubnet(ip);
  const bridge = `cb-${x}`;
  const hostIp = `10.${x}.0.1`;
  const namespaces: Array<NetnsNamespace & { veth: string }> = [];
  const children = new Set<ChildProcess>();
  let destroyed = false;

  const destroySync = () => {
    if (destroyed) return;
    destroyed = true;
    live.delete(destroySync);
    for (const c of children) if (c.exitCode === null && c.pid) safe(() => process.kill(c.pid as number, 'SIGKILL'));
    // The veth first: `netns del` only drops a reference, the kernel destroys the namespace (and the
    // veth's host end with it) later, so a next process that claims this subnet could find `cv<x>-<i>`.
    for (const n of namespaces) safe(() => execFileSync(ip, ['link', 'del', n.veth], { stdio: 'ignore' }));
    for (const n of namespaces) safe(() => execFileSync(ip, ['netns', 'del', n.name], { stdio: 'ignore' }));
    safe(() => execFileSync(ip, ['link', 'del', bridge], { stdio: 'ignore' }));
  };
  live.add(destroySync);
  installHooks();

  try {
    await run(['link', 'set', bridge, 'alias', `colony:${process.pid}`]);
    await run(['addr', 'add', `${hostIp}/24`, 'dev', bridge]);
    await run(['link', 'set', bridge, 'up']);
    for (let i = 0; i < count; i++) {
      const letter = String.fromCharCode(97 + i);
      const n = { name: `${NS_PREFIX}${process.pid}-${x}-${letter}`, ip: `10.${x}.0.${2 + i}`, veth: `cv${x}-${i}` };
      await run(['netns', 'add', n.name]).catch((e: unknown) => {
        throw new Error(`LAN tests need root and iproute2: \`ip netns add ${n.name}\` failed: ${errText(e)}`);
      });
      namespaces.push(n);
      // Owning the bridge cb-<x> means no live process uses this subnet: a `cv<x>-<i>` still here is a
      // dead process's, its namespace not yet destroyed by the kernel (see destroySync).
      await run(['link', 'del', n.veth]).catch(() => '');
      await run(['link', 'add', n.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.name]);
      await run(['link', 'set', n.veth, 'master', bridge]);
      await run(['link', 'set', n.veth, 'up']);
      await run(['-n', n.name, 'addr', 'add', `${n.ip}/24`, 'dev', 'eth0']);
      // No IPv6 link-local address: its duplicate-address check ends a second or more after the link is up (later
      // under load), and that address change makes a Chromium started meanwhile abort loads with ERR_NETWORK_CHANGED.
      await run(['-n', n.name, 'link', 'set', 'eth0', 'addrgenmode', 'none']);
      await run(['-n', n.name, 'link', 'set', 'eth0', 'up']);
      await run(['-n', n.name, 'link', 'set', 'lo', 'up']);
    }
    for (const n of namespaces) await waitCarrier(ip, n.name);
  } catch (e) {
    destroySync();
    throw e;
  }

  const find = (ns: string) => {
    const n = namespaces.find((m) => m.name === ns);
    if (!n) throw new Error(`unknown namespace ${ns}; have ${namespaces.map((m) => m.name).join(', ')}`);
    if (destroyed) throw new Error(`namespaces already destroyed`);
    return n;
  };

  const startIn = (ns: string, cmd: string, args: string[]) => {
    const child = spawn(ip, ['netns', 'exec', find(ns).name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    child.on('exit', () => children.delete(child));
    return child;
  };

  const handle: NetnsHandle = {
    hostIp,
    subnet: `10.${x}.0.0/24`,
    namespaces: namespaces.map(({ name, ip: addr }) => ({ name, ip: addr })),
    async exec(ns, cmd, args = [], o = {}) {
      return collect(startIn(ns, cmd, args), o.timeoutMs ?? 20_000);
    },
    spawn: (ns, cmd, args = []) => startIn(ns, cmd, args),
    async client(ns, spec, o = {}) {
      const r = await handle.exec(ns, process.execPath, [LAN_CLIENT, JSON.stringify(spec)], o);
      const lines = r.stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      return { code: r.code, lines, stderr: r.stderr };
    },
    async linkDown(ns) {
      await run(['link', 'set', find(ns).veth, 'down']);
    },
    async linkUp(ns) {
      const n = find(ns);
      await run(['link', 'set', n.veth, 'up']);
      await waitCarrier(ip, n.name);
    },
    async destroy() {
      destroySync();
    },
  };
  return handle;
}

/** Lowest free x in 16..239 starting from the pid; claimed by creating bridge cb-<x>. */
async function claimSubnet(ip: string): Promise<number> {
  const routes = (await runIp(ip, ['-4', 'route', 'show', 'table', 'all']).catch(() => '')) + (await runIp(ip, ['-4', 'addr']).catch(() => ''));
  const start = process.pid % 224;
  for (let k = 0; k < 224; k++) {
    const x = 16 + ((start + k) % 224);
    if (routes.includes(`10.${x}.`)) continue;
    try {
      await runIp(ip, ['link', 'add', `cb-${x}`, 'type', 'bridge']);
      return x;
    } catch (e) {
      if (!/exists/i.test(errText(e))) throw new Error(`LAN tests need root and iproute2: cannot create a bridge: ${errText(e)}`);
    }
  }
  throw new Error('LAN tests: no free 10.x.0.0/24 subnet for test namespaces');
}

/** Deletes namespaces and bridges left by test processes that died without cleaning up. */
async function sweepStale(ip: string): Promise<void> {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (e) {
      return (e as { code?: string }).code === 'EPERM';
    }
  };
  const list = await runIp(ip, ['netns', 'list']).catch(() => '');
  for (const m of list.matchAll(/^(colony-(\d+)-\d+-[a-z])\b/gm)) {
    if (m[1] && !alive(Number(m[2]))) await runIp(ip, ['netns', 'del', m[1]]).catch(() => '');
  }
  const links = await runIp(ip, ['-o', 'link', 'show', 'type', 'bridge']).catch(() => '');
  for (const m of links.matchAll(/^\d+: (cb-\d+)[:@].*alias colony:(\d+)/gm)) {
    if (m[1] && !alive(Number(m[2]))) await runIp(ip, ['link', 'del', m[1]]).catch(() => '');
  }
}

async function waitCarrier(ip: string, ns: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const s = await runIp(ip, ['-n', ns, 'link', 'show', 'eth0']).catch(() => '');
    if (/LOWER_UP/.test(s) && !/NO-CARRIER/.test(s)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`LAN tests: eth0 in ${ns} did not come up within 2 s`);
}

function runIp(ip: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(ip, args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${ip} ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
      else resolve(String(stdout));
    });
  });
}

function collect(child: ChildProcess, timeoutMs: number): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.pid && safe(() => process.kill(child.pid as number, 'SIGKILL')), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const cleanAll = () => {
    for (const d of [...live]) d();
  };
  process.on('exit', cleanAll);
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(sig, () => {
      cleanAll();
      process.exit(code);
    });
  }
}

function safe(f: () => unknown): void {
  try {
    f();
  } catch {
    // best effort: cleanup of something already gone
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
