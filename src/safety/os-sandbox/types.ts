/**
 * The OS sandbox's one interface: a spec says what a task process may see and
 * do; a platform backend (linux-bwrap.ts, macos-seatbelt.ts) turns it into
 * the invocation to spawn instead of the bare command.
 */

export interface Invocation {
  command: string;
  args: readonly string[];
  env: Record<string, string>;
}

/**
 * What an engine knows its process needs besides the workspace (agent CLIs:
 * the CLI's install folder, its per-attempt state folder, its model endpoint
 * set in a config file colony wrote rather than in the environment).
 */
export interface SandboxAccess {
  ro?: readonly string[];
  rw?: readonly string[];
  endpoints?: readonly string[]; // URLs reached through the attempt's proxy
}

export interface BindPath {
  src: string;
  dest?: string; // default: same path inside
}

export interface SandboxLimits {
  processes: number | null; // processes + threads in the attempt
  memory_mb: number | null;
  file_size_mb: number | null;
  cpu_s: number | null; // per process
}

export interface SandboxNetwork {
  /** Host-side proxy socket (bound into the sandbox); null: no network at all. */
  proxySocket: string | null;
  /** Loopback ports inside the sandbox forwarded through the proxy to the same port on the host (an agent's local endpoint). */
  forwardPorts: readonly number[];
  /** The small bridge script run inside the sandbox (TCP on 127.0.0.1 → the proxy socket). */
  bridgeScript: string | null;
  /** Node binary that runs the bridge. */
  nodeBin: string;
}

export interface SandboxSpec {
  command: string;
  args: readonly string[];
  cwd: string;
  env: Record<string, string>;
  /** Real path of the task's workspace: the only writable place besides /tmp and HOME. */
  workspace: string;
  /** HOME inside the sandbox: a fresh, empty, writable directory. */
  home: string;
  /** Read-only system and toolchain paths. */
  system: readonly string[];
  ro: readonly BindPath[];
  rw: readonly BindPath[];
  /** Absolute paths hidden even when they lie inside a bound path (colony home, config file, secrets). */
  hide: readonly string[];
  network: SandboxNetwork;
}

/** Where the sandboxed process sits while it runs; the plan watches it and reports a limit that ended it. */
export interface SandboxRun {
  /** Called once the wrapped process is spawned. `stop` ends the attempt; `note` writes a line into the task's output. */
  started(pid: number | undefined, hooks: { stop: () => void; note: (text: string) => void }): void;
  /** Called once when the process is gone: the limit that ended it (human text), or null; releases everything. */
  finished(exit: { code: number | null; signal: NodeJS.Signals | null }): string | null;
}

/**
 * `contained` (from `wrap`): the wrapped process dies with the process that
 * spawned it and takes its whole tree with it (bubblewrap: `--die-with-parent`
 * and a PID namespace whose init it is), so the lifecycle wrapper's
 * parent-death signal and per-attempt cgroup are not needed (engines/lifecycle.ts).
 *
 * What child.ts gets: nothing is allocated until `wrap` is called (the engine
 * may never spawn), and everything `wrap` allocated is released by `finished`.
 */
export interface SandboxPlan {
  readonly kind: 'bwrap' | 'seatbelt';
  wrap(inv: Invocation & { cwd: string; access?: SandboxAccess }): { invocation: Invocation; run: SandboxRun; contained?: boolean };
}
