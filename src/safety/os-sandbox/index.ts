/**
 * The OS sandbox every task process runs in (exec commands and agent CLIs,
 * on the host and on workers). `createSandboxPlanner` is built once from the
 * config; `planFor` gives the plan of one attempt, which child.ts applies to
 * the command just before spawning it (see types.ts for the contract).
 *
 * Off only when `safety.sandbox` is false (explicit). When it is on and the
 * sandbox cannot start, `planFor` throws E_SANDBOX_UNAVAILABLE naming the
 * fix: a task never runs unsandboxed by accident.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { agentEndpoint, assertCommand, isLoopbackHost, probePath, real, stableProbe, sweepRunDirs, worktreeGitBinds } from './host-paths.js';
import os from 'node:os';
import path from 'node:path';
import type { ColonyConfig } from '../../core/config.js';
import { ColonyError } from '../../core/errors.js';
import { buildAllowList } from '../network.js';
import { isInside } from '../protected.js';
import { writeBridge } from './bridge.js';
import { CgroupPool, detectCgroups, type AttemptCgroup, type CgroupSetup } from './cgroup.js';
import { bwrapMounts, buildBwrapArgs, insideHome, LINUX_SYSTEM_PATHS, sandboxEnv } from './linux-bwrap.js';
import { sandboxCovers } from './coverage.js';
import { AGENT_STATE_DIR } from '../guard-scan.js';
import { buildSeatbeltProfile, seatbeltArgs } from './macos-seatbelt.js';
import { sandboxProbe, unavailableMessage, type SandboxProbe } from './probe.js';
import { SharedProxy, startAttemptProxy, type AttemptProxy } from './proxy.js';
import { inlineLimits, limitText, limitWrapper, limitFromExit } from './limits.js';
import type { BindPath, Invocation, SandboxAccess, SandboxPlan, SandboxRun, SandboxSpec } from './types.js';

export type { SandboxPlan, SandboxRun, Invocation } from './types.js';
export { probePath, worktreeGitBinds } from './host-paths.js';

type Safety = ColonyConfig['safety'];

export interface PlannerOptions {
  safety: Safety;
  colonyHome: string;
  configFile: string | null;
  realHome?: string; // default os.homedir()
  /** A connection the proxy refused (audit it). */
  onDenied?: (taskId: string, target: string, reason: string) => void;
  probe?: () => SandboxProbe;
}

export interface AttemptContext {
  taskId: string;
  engine: string;
  workspace: string; // real path, already checked
  env: Record<string, string>; // the task's (scrubbed) environment
  /** The task's private agent-state folder (under the colony home, otherwise hidden): bound writable for this task only. */
  stateDir?: string;
  /**
   * Host paths the protected-file guard did not snapshot for this attempt because `coverage` said
   * the sandbox covers them: every wrap checks its real mounts still do, and refuses to start otherwise.
   */
  mustCover?: readonly string[];
}

export interface SandboxStatus {
  on: boolean; // safety.sandbox
  available: boolean;
  kind: 'bwrap' | 'seatbelt' | null;
  problem: string | null; // why it cannot start, with the fix
  limits_enforced: string[]; // which limits this machine enforces
}

export interface SandboxPlanner {
  /** safety.sandbox (false: planFor always gives null). */
  readonly enabled?: boolean;
  status(): SandboxStatus;
  /** The plan for one attempt; null when the sandbox is switched off; throws E_SANDBOX_UNAVAILABLE when it cannot start. */
  planFor(ctx: AttemptContext): SandboxPlan | null;
  /**
   * Which of `paths` the attempt's mounts will make unwritable for its processes (coverage.ts), from the
   * mounts of the attempt without an engine's own binds (those are checked at wrap: `mustCover`).
   * Empty when the sandbox is off or unavailable, and on macOS (the guard keeps checking them).
   */
  coverage?(ctx: AttemptContext, paths: readonly string[]): string[];
}

export function createSandboxPlanner(o: PlannerOptions): SandboxPlanner {
  const realHome = real(o.realHome ?? os.homedir());
  const limits = o.safety.os_sandbox.limits;
  const probe = o.probe ?? sandboxProbe;
  let cgroups: CgroupSetup | null = null;
  let pool: CgroupPool | null = null;
  // Seatbelt: one proxy on 127.0.0.1 for every attempt, started with the planner so it is listening by the first task.
  const probed = o.safety.sandbox ? probe() : null;
  const sharedProxy = probed?.ok && probed.kind === 'seatbelt' ? new SharedProxy() : null;
  let runDir: string | null = null;
  let bridge: string | null = null;
  let seq = 0;
  const cg = (): CgroupSetup => (cgroups ??= process.platform === 'linux' ? detectCgroups() : { kind: 'none', why: 'not Linux' });
  const dir = (): string => {
    if (!runDir) {
      sweepRunDirs();
      runDir = mkdtempSync(path.join(os.tmpdir(), `colony-sbx-run-${process.pid}-`));
      process.once('exit', () => rmSync(runDir as string, { recursive: true, force: true }));
    }
    return runDir;
  };
  // The list of hidden paths (with their real paths) is the same for every attempt: recomputed at most once a second.
  let hiddenMemo: { at: number; paths: string[] } | null = null;
  const hidden = (): string[] => {
    const now = Date.now();
    if (hiddenMemo && now - hiddenMemo.at < 1000) return hiddenMemo.paths;
    const out = [o.colonyHome, ...(o.configFile ? [o.configFile] : [])];
    for (const s of [...o.safety.os_sandbox.secret_paths, ...o.safety.os_sandbox.extra_hidden]) out.push(path.isAbsolute(s) ? s : path.join(realHome, s));
    hiddenMemo = { at: now, paths: [...new Set(out.flatMap((p) => [path.resolve(p), real(p)]))] };
    return hiddenMemo.paths;
  };
  // System and toolchain directories are the machine's, not a task's: their probes are remembered for a second.
  const machine = stableProbe(1000);
  for (const p of LINUX_SYSTEM_PATHS) machine.stable.add(p);
  const allowEntries = o.safety.network_allow;

  function status(): SandboxStatus {
    const p = probe();
    const c = o.safety.sandbox && p.ok ? cg() : null;
    const enforced = ['file_size_mb', 'cpu_s'].filter((k) => limits[k as 'cpu_s'] !== null);
    if (c?.kind === 'v2') enforced.unshift('processes', 'memory_mb');
    if (c?.kind === 'v1') enforced.unshift(...(c.pids ? ['processes'] : []), ...(c.memory ? ['memory_mb'] : []));
    return { on: o.safety.sandbox, available: p.ok, kind: p.ok ? p.kind : null, problem: p.ok ? null : unavailableMessage(p), limits_enforced: enforced };
  }

  function planFor(ctx: AttemptContext): SandboxPlan | null {
    if (!o.safety.sandbox) return null;
    const p = probe();
    if (!p.ok) throw new ColonyError('E_SANDBOX_UNAVAILABLE', unavailableMessage(p));
    return {
      kind: p.kind,
      wrap: (inv) => wrapOne(p, ctx, inv),
    };
  }

  // The guard does not guard the per-task agent-state folders (guard-scan.ts): a task's own folder may be writable.
  const except = [path.join(o.colonyHome, AGENT_STATE_DIR), path.join(real(o.colonyHome), AGENT_STATE_DIR)];
  const uncovered = (mounts: ReturnType<typeof bwrapMounts>, paths: readonly string[]): string[] =>
    paths.filter((q) => ![path.resolve(q), real(q)].every((r) => sandboxCovers(mounts, r, except)));

  function coverage(ctx: AttemptContext, paths: readonly string[]): string[] {
    if (!o.safety.sandbox || paths.length === 0) return [];
    const p = probe();
    if (!p.ok || p.kind !== 'bwrap') return [];
    const inv = { command: '/bin/sh', args: [], env: { PATH: '' }, cwd: ctx.workspace };
    const { spec } = specFor(ctx, inv, insideHome(realHome, ctx.workspace));
    const open = uncovered(bwrapMounts(spec, machine.probe), paths);
    return paths.filter((q) => !open.includes(q));
  }

  function specFor(ctx: AttemptContext, inv: Invocation & { cwd: string; access?: SandboxAccess }, home: string): { spec: SandboxSpec; endpoints: URL[] } {
    const ro: BindPath[] = o.safety.os_sandbox.ro_paths.map((s) => ({ src: s }));
    const rw: BindPath[] = o.safety.os_sandbox.rw_paths.map((s) => ({ src: s }));
    const system = [...LINUX_SYSTEM_PATHS];
    const visible = (q: string): boolean => [...system, ctx.workspace, ...ro.map((b) => b.src)].some((b) => isInside(b, q));
    const priv = [realHome, '/root', '/home', '/Users', o.colonyHome, os.tmpdir()]; // toolchains in a home need safety.os_sandbox.ro_paths
    // colony's own node (it runs the network bridge), wherever it is installed (nvm puts it in a home), read-only
    const nodePrefix = path.dirname(path.dirname(process.execPath));
    if (!visible(nodePrefix)) ro.push({ src: nodePrefix });
    machine.stable.add(nodePrefix);
    // Toolchains: PATH entries outside private places, read-only.
    for (const d of (inv.env['PATH'] ?? '').split(':')) {
      if (path.isAbsolute(d) && !visible(d) && !priv.some((x) => isInside(x, d)) && (machine.stable.add(d), machine.probe(d))) ro.push({ src: d });
    }
    if (path.isAbsolute(inv.command) && !visible(inv.command)) ro.push({ src: path.dirname(real(inv.command)) }); // the engine's binary
    // What the engine says its process needs (an agent CLI's install folder and state folder), never the hidden places themselves.
    // A folder that holds a private place as a whole (the home, the colony home) is never bound: only what lies inside it.
    const whole = (d: string): boolean => !path.isAbsolute(d) || priv.some((x) => isInside(real(d), real(x)));
    for (const d of inv.access?.ro ?? []) if (!whole(d) && !visible(d) && probePath(d)) ro.push({ src: real(d) });
    for (const d of inv.access?.rw ?? []) if (!whole(d) && probePath(d)) rw.push({ src: real(d) });
    const git = worktreeGitBinds(ctx.workspace);
    ro.push(...git.ro);
    rw.push(...git.rw);
    if (ctx.stateDir && probePath(ctx.stateDir)) {
      rw.push({ src: ctx.stateDir });
      // Claude Code's config dir is this folder; the user's login (symlinked from it, engines/agent-home.ts) stays where it is.
      const login = path.join(realHome, '.claude', '.credentials.json');
      if (ctx.engine === 'claude' && probePath(login)) rw.push({ src: login });
    } else if (ctx.engine === 'claude') {
      // Claude Code keeps its settings, login and session transcripts (for --resume) under ~/.claude.
      // Made on the host if missing, or a first sandboxed run would keep its login in a throwaway HOME.
      try {
        mkdirSync(path.join(realHome, '.claude'), { recursive: true, mode: 0o700 });
      } catch {
        /* read-only home: the CLI works without persistence */
      }
      for (const f of ['.claude', '.claude.json']) rw.push({ src: path.join(realHome, f), dest: path.join(home, f) });
    }
    const endpoints = [agentEndpoint(ctx.engine, ctx.env), ...(inv.access?.endpoints ?? []).map(parseUrl)].filter((u): u is URL => u !== null);
    const spec: SandboxSpec = {
      command: inv.command,
      args: inv.args,
      cwd: inv.cwd,
      env: inv.env,
      workspace: ctx.workspace,
      home,
      system,
      ro,
      rw,
      hide: hidden(),
      network: { proxySocket: null, forwardPorts: [], bridgeScript: null, nodeBin: process.execPath },
    };
    return { spec, endpoints };
  }

  function wrapOne(
    p: Extract<SandboxProbe, { ok: true }>,
    ctx: AttemptContext,
    inv: Invocation & { cwd: string; access?: SandboxAccess },
  ): { invocation: Invocation; run: SandboxRun; contained: boolean } {
    assertCommand(inv.command, inv.env['PATH'] ?? '');
    const n = ++seq;
    const linux = p.kind === 'bwrap';
    const macTmp = linux ? null : mkdtempSync(path.join(os.tmpdir(), 'colony-task-'));
    const home = linux ? insideHome(realHome, ctx.workspace) : path.join(macTmp as string, 'home');
    if (macTmp) mkdirSync(home);
    const { spec, endpoints } = specFor(ctx, inv, home);
    if (!linux) {
      // Seatbelt cannot remap paths: a bind into the fresh HOME (an agent's ~/.claude) becomes a symlink there.
      for (const b of [...spec.ro, ...spec.rw]) {
        if (b.dest && b.dest !== b.src && probePath(b.src)) {
          try {
            symlinkSync(b.src, b.dest);
          } catch {
            /* exists */
          }
        }
      }
    }
    // Network: a proxy only when something may be reached; otherwise none at all.
    const { allow } = buildAllowList(allowEntries, { loopback: false });
    const exact = new Set<string>();
    const forwardPorts: number[] = [];
    for (const endpoint of endpoints) {
      const port = Number(endpoint.port || (endpoint.protocol === 'https:' ? 443 : 80));
      exact.add(`${endpoint.hostname.replace(/^\[|\]$/g, '')}:${port}`);
      if (isLoopbackHost(endpoint.hostname) && !forwardPorts.includes(port)) forwardPorts.push(port);
    }
    let proxy: AttemptProxy | null = null;
    let proxyPort: number | null = null;
    let proxyUrl: string | null = null;
    const notes: string[] = [];
    let note: (t: string) => void = (t) => notes.push(t);
    if (allowEntries.length > 0 || exact.size > 0) {
      const onDenied = (target: string, reason: string): void => {
        note(`[colony sandbox: connection to ${target} denied: ${reason}]\n`);
        o.onDenied?.(ctx.taskId, target, reason);
      };
      if (linux) {
        const sock = path.join(dir(), `p${n}.sock`);
        proxy = startAttemptProxy(sock, { allow, exact }, onDenied);
        bridge ??= writeBridge(dir());
        spec.network = { proxySocket: sock, forwardPorts, bridgeScript: bridge, nodeBin: process.execPath };
      } else {
        const reg = sharedProxy?.register({ allow, exact }, onDenied) ?? null;
        proxy = reg;
        proxyUrl = reg?.url ?? null;
        proxyPort = sharedProxy?.port() ?? null;
      }
    }
    let cgroup: AttemptCgroup | null = null;
    try {
      if (linux) pool ??= new CgroupPool(cg(), limits);
      cgroup = pool?.acquire() ?? null;
    } catch {
      cgroup = null; // cgroup trouble must not stop the attempt; rlimits still apply
    }
    let invocation: Invocation;
    // The exec engine's `sh -c SCRIPT`: limits go into the script's first line (no wrapper shell).
    // (Not on cgroup v2, where a write from inside a cgroup namespace may be refused: the outer wrapper joins there.)
    const inline = linux && cg().kind !== 'v2' && inv.command === '/bin/sh' && inv.args.length === 2 && inv.args[0] === '-c';
    if (inline) {
      const inside = (cgroup?.procsFiles ?? []).map((f, i) => ({ src: f, dest: `/run/colony/cg${i}` }));
      spec.rw = [...spec.rw, ...inside];
      spec.args = [
        '-c',
        inlineLimits(
          inv.args[1] as string,
          limits,
          inside.map((b) => b.dest),
        ),
      ];
    }
    if (linux) {
      const mounts = bwrapMounts(spec, machine.probe);
      const open = uncovered(mounts, ctx.mustCover ?? []);
      if (open.length > 0) {
        cgroup?.release();
        proxy?.close();
        throw new ColonyError(
          'E_SANDBOX_UNAVAILABLE',
          `the sandbox of this attempt no longer covers ${open.join(', ')}, which the protected-file guard left to it`,
        );
      }
      invocation = { command: p.bin, args: buildBwrapArgs(spec, machine.probe, mounts), env: sandboxEnv(spec) };
    } else {
      const profile = buildSeatbeltProfile(spec, { realHome, tmpDir: macTmp as string, proxyPort, localPorts: forwardPorts });
      const env: Record<string, string> = { ...sandboxEnv({ ...spec, network: { ...spec.network, proxySocket: null } }), TMPDIR: macTmp as string };
      if (proxyUrl !== null) {
        for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) env[k] = proxyUrl;
        env['NO_PROXY'] = env['no_proxy'] = 'localhost,127.0.0.1,::1';
      }
      invocation = { command: p.bin, args: seatbeltArgs(profile, inv.command, inv.args), env };
    }
    if (!inline) invocation = limitWrapper(invocation, limits, cgroup?.procsFiles ?? []);

    let timer: NodeJS.Timeout | null = null;
    let hit: string | null = null;
    const run: SandboxRun = {
      started(_pid, hooks) {
        note = hooks.note;
        for (const t of notes.splice(0)) hooks.note(t);
        if (!cgroup) return;
        const c = cgroup;
        timer = setInterval(() => {
          const h = c.hit();
          if (h && !hit) {
            hit = limitText(h, limits);
            hooks.note(`[colony sandbox: ${hit}; stopping the task]\n`);
            hooks.stop();
          }
        }, 200);
        timer.unref();
      },
      finished(exit) {
        if (timer) clearInterval(timer);
        const h = hit ?? (exit.code === 0 ? null : limitFromExit(exit, cgroup?.hit() ?? null, limits));
        cgroup?.release();
        proxy?.close();
        if (macTmp) rmSync(macTmp, { recursive: true, force: true });
        return h;
      },
    };
    // bwrap: --die-with-parent and a PID namespace (buildBwrapArgs) end the whole tree with its spawner.
    return { invocation, run, contained: linux };
  }

  return { enabled: o.safety.sandbox, status, planFor, coverage };
}

function parseUrl(u: string): URL | null {
  try {
    return new URL(u);
  } catch {
    return null;
  }
}
