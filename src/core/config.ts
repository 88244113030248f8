/**
 * colony.config.json: validated once at start with zod, every problem listed,
 * then frozen. Each layer owns its section; defaults make an empty file (or no
 * file) a working configuration with the exec engine and no API keys.
 */
import { z } from 'zod';
import { accessCodeProblem } from './access-code.js';

const price = z.strictObject({
  input: z.number().nonnegative(),
  output: z.number().nonnegative(),
  cache_read: z.number().nonnegative().optional(),
  cache_write: z.number().nonnegative().optional(),
});

const provider = z.strictObject({
  base_url: z.url(),
  api_key_env: z.string().min(1).nullable().default(null), // null: no key (local Ollama, vLLM)
  models: z.array(z.string().min(1)).min(1),
  default_model: z.string().min(1),
  cheap_model: z.string().min(1).optional(),
});

/** Limits per task attempt; null: not limited. */
const sandboxLimits = z
  .strictObject({
    processes: z.number().int().min(16).nullable().default(512), // processes + threads (cgroup pids.max)
    memory_mb: z.number().int().min(64).nullable().default(4096), // cgroup memory limit
    file_size_mb: z.number().int().min(1).nullable().default(1024), // largest file a task may write (RLIMIT_FSIZE)
    cpu_s: z.number().int().min(1).nullable().default(3600), // CPU seconds per process (RLIMIT_CPU)
  })
  .prefault({});

const osSandbox = z
  .strictObject({
    limits: sandboxLimits,
    // hidden from every task, relative to the user's home unless absolute
    secret_paths: z
      .array(z.string().min(1))
      .default([
        '.ssh',
        '.aws',
        '.config/gcloud',
        '.netrc',
        '.docker',
        '.kube',
        '.gnupg',
        '.npmrc',
        '.pypirc',
        '.git-credentials',
        '.config/gh',
        '.azure',
        '.password-store',
        '.mozilla',
        '.config/google-chrome',
        '.config/chromium',
        '.config/BraveSoftware',
        'Library/Application Support/Google/Chrome',
        'Library/Application Support/Firefox',
        'Library/Keychains',
        '/etc/shadow',
        '/etc/gshadow',
        '/etc/ssh',
      ]),
    extra_hidden: z.array(z.string().min(1)).default([]), // more paths to hide, absolute
    ro_paths: z.array(z.string().min(1)).default([]), // more read-only paths (toolchains outside the system dirs)
    rw_paths: z.array(z.string().min(1)).default([]), // more writable paths (shared caches); use sparingly
  })
  .prefault({});
/**
 * An agent CLI engine (codex, gemini, opencode): absent = not offered. Each run
 * gets its own config written by colony (base_url, key variable, model) in a
 * private state folder; `base_url` points it at a provider or a gateway.
 */
const agentCli = (defaultKeyEnv: string) =>
  z.strictObject({
    bin: z.string().min(1).optional(), // default: the CLI's name on PATH
    default_model: z.string().min(1),
    models: z.array(z.string().min(1)).default([]),
    cheap_model: z.string().min(1).optional(),
    base_url: z.url().optional(), // codex/opencode: an OpenAI-style .../v1; gemini: the API root
    api_key_env: z.string().min(1).default(defaultKeyEnv),
    max_retries: z.number().int().min(0).max(20).optional(), // the CLI's own API retries, where it has the knob
    extra_args: z.array(z.string()).default([]),
  });

export const configSchema = z.strictObject({
  budget: z
    .strictObject({
      default_task_usd: z.number().nonnegative().default(1),
      default_graph_usd: z.number().nonnegative().nullable().default(null),
      // Issue 18: a warning at this share of a graph's or user's budget; a LAN user's spend cap (null: none).
      warn_share: z.number().gt(0).max(1).default(0.8),
      per_user_usd: z.number().nonnegative().nullable().default(null),
    })
    .prefault({}),
  runner: z
    .strictObject({
      concurrency: z.number().int().min(1).max(256).default(4),
      max_attempts: z.number().int().min(1).max(20).default(1),
      kill_grace_ms: z.number().int().min(0).default(3000),
      silence_timeout_s: z.number().positive().nullable().default(null),
      // git worktree per host-run task on a repository: for agent engines (default), all engines, or never
      worktrees: z.enum(['agents', 'all', 'off']).default('agents'),
    })
    .prefault({}),
  engines: z
    .strictObject({
      claude: z
        .strictObject({
          bin: z.string().min(1).optional(), // default: $CLAUDE_BIN or 'claude' on PATH
          default_model: z.string().min(1).default('sonnet'),
          permission_mode: z.string().min(1).default('acceptEdits'),
          allowed_tools: z.array(z.string()).default([]),
          extra_args: z.array(z.string()).default([]),
          // every tool call through colony's gateway (stdio permission protocol); false: the CLI's permission_mode decides
          tool_gate: z.boolean().default(true),
          // how long a tool call held for the admin waits before it is denied
          tool_approval_timeout_s: z.number().positive().default(600),
        })
        .prefault({}),
      codex: agentCli('OPENAI_API_KEY').optional(),
      gemini: agentCli('GEMINI_API_KEY').optional(),
      opencode: agentCli('OPENCODE_API_KEY').optional(),
      providers: z.record(z.string().regex(/^[a-z][a-z0-9_-]*$/), provider).default({
        groq: {
          base_url: 'https://api.groq.com/openai/v1',
          api_key_env: 'GROQ_API_KEY',
          models: ['llama-3.1-8b-instant', 'llama-3.3-70b-versatile'],
          default_model: 'llama-3.3-70b-versatile',
          cheap_model: 'llama-3.1-8b-instant',
        },
      }),
    })
    .prefault({}),
  router: z
    .strictObject({
      cheap_budget_usd: z.number().nonnegative().default(0.1),
      complexity_threshold: z.number().min(0).max(1).default(0.55),
      simple_threshold: z.number().min(0).max(1).default(0.3), // complexity at or below: cheap engine
      adaptive: z.boolean().default(true), // learn from task history (core/adaptive.ts)
      success_threshold: z.number().min(0).max(1).default(0.8), // kept for old configs; plans now weigh success against cost (success_value_usd)
      // Share of adaptive decisions made on a posterior draw (Thompson sampling) rather than the posterior means; 0: no
      // exploration beyond what discounting gives (stale evidence fades back to the prior). bench/README.md shows the trade-off.
      explore_rate: z.number().min(0).max(1).default(0.3),
      // Worth of a successful task in USD when the router weighs success against cost; null: the task's budget.
      success_value_usd: z.number().nonnegative().nullable().default(null),
      // About how many recent attempts of a task class the router's statistics remember (discounting).
      memory: z.number().min(2).max(1_000_000).default(150),
      default_engine: z.string().min(1).default('claude'),
    })
    .prefault({}),
  pricing: z.record(z.string().min(1), price).default({}),
  safety: z
    .strictObject({
      intent: z.boolean().default(true),
      injection: z.boolean().default(true),
      sandbox: z.boolean().default(true),
      network: z.boolean().default(true),
      allowed_roots: z.array(z.string().min(1)).default([]), // empty: the workspace of each graph file / the cwd
      protected_globs: z.array(z.string().min(1)).default([]),
      network_allow: z.array(z.string().min(1)).default([]),
      env_allow: z.array(z.string().min(1)).default([]),
      extra_deny_patterns: z.array(z.string().min(1)).default([]),
      extra_approval_patterns: z.array(z.string().min(1)).default([]), // like extra_deny_patterns, but needs_approval
      neutralise: z.boolean().default(true), // strip zero-width/bidi/control chars from prompts; the cleaned text is what runs
      require_approval_of_changes: z.boolean().default(false),
      // OS sandbox for every task process (sandbox: true is the switch); see src/safety/os-sandbox
      os_sandbox: osSandbox,
    })
    .prefault({}),
  lan: z
    .strictObject({
      access_code: z
        .string()
        .nullable()
        .default(null)
        .superRefine((c, ctx) => {
          const problem = c === null ? null : accessCodeProblem(c);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }),
      allow_cidrs: z
        .array(z.string().min(1))
        .default(['127.0.0.0/8', '::1/128', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', 'fe80::/10', 'fc00::/7']),
      rate_limit_read_per_min: z.number().int().positive().default(600),
      rate_limit_submit_per_min: z.number().int().positive().default(20),
      max_body_bytes: z
        .number()
        .int()
        .positive()
        .default(64 * 1024),
      // where approved LAN tasks run on the host (LAN users only name paths relative to it); null: the host's working directory
      host_workspace: z.string().min(1).nullable().default(null),
      // names the user app answers to besides its LAN addresses and loopback (Host allow-list against DNS rebinding)
      host_names: z.array(z.string().min(1).max(253)).default([]),
      // other users' worker cards show their owner's name and address only when true
      show_worker_owners: z.boolean().default(false),
      // wrong access codes accepted per hour from all addresses together; past it, code entry waits
      code_failures_per_hour: z.number().int().min(1).default(100),
    })
    .prefault({}),
  // Bounds on both HTTP apps (issue 14): timeouts, connection cap, live streams.
  http: z
    .strictObject({
      request_timeout_ms: z.number().int().min(1000).default(30_000),
      headers_timeout_ms: z.number().int().min(500).default(10_000),
      keep_alive_timeout_ms: z.number().int().min(500).default(5_000),
      idle_timeout_ms: z.number().int().min(1000).default(60_000), // socket without traffic either way (streams send heartbeats)
      max_connections: z.number().int().min(8).default(1024),
      max_streams_per_address: z.number().int().min(1).default(16),
      max_streams_per_session: z.number().int().min(1).default(8),
      replay_window: z.number().int().min(10).default(500), // events replayed by Last-Event-ID; older → a resync event
      stream_buffer_bytes: z
        .number()
        .int()
        .min(16 * 1024)
        .default(1024 * 1024), // a viewer buffering more is dropped
    })
    .prefault({}),
  // Webhooks for approvals needed, failed tasks, finished graphs and budget alerts (issue 18).
  notifications: z
    .strictObject({
      webhooks: z
        .array(
          z.strictObject({
            name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
            url: z.url({ protocol: /^https?$/ }),
            format: z.enum(['json', 'slack']).default('json'),
            secret: z.string().min(16).nullable().default(null), // HMAC key of json hooks; never shown by the API
            events: z.array(z.enum(['approval.needed', 'task.failed', 'graph.finished', 'budget.warning', 'budget.stop'])).default([]), // []: all
          }),
        )
        .default([])
        .refine((hs) => new Set(hs.map((h) => h.name)).size === hs.length, 'webhook names must be unique'),
      max_attempts: z.number().int().min(1).max(20).default(6),
      retry_base_ms: z.number().int().min(1).default(2000),
      retry_cap_ms: z.number().int().min(1).default(300_000),
      timeout_ms: z.number().int().min(100).default(10_000),
    })
    .prefault({}),
  // Which database the host runs on (issue 19): null = the SQLite file in the home; a postgres:// URL = PostgreSQL.
  store: z
    .strictObject({
      url: z
        .string()
        .regex(/^postgres(ql)?:\/\//i, 'a postgres:// or postgresql:// URL')
        .nullable()
        .default(null),
      // Several hosts on one PostgreSQL (issue 19): a host's lease on the database's clock, renewed every
      // heartbeat_ms; a host silent for lease_ms is presumed dead and a live one takes over its graphs.
      lease_ms: z.number().int().min(200).default(10_000),
      heartbeat_ms: z.number().int().min(50).default(3_000),
    })
    .refine((s) => s.heartbeat_ms * 2 <= s.lease_ms, { message: 'store.heartbeat_ms must be at most half of store.lease_ms' })
    .prefault({}),
  // What the store keeps (issue 14).
  retention: z
    .strictObject({
      max_output_bytes_per_task: z
        .number()
        .int()
        .min(1024)
        .default(10 * 1024 * 1024),
      events_days: z.number().positive().nullable().default(30), // null: keep forever
      output_days: z.number().positive().nullable().default(null),
      prune_interval_s: z.number().positive().default(3600),
      checkpoint_interval_s: z.number().positive().default(300), // signed audit checkpoints
    })
    .prefault({}),
});

export type ColonyConfig = z.infer<typeof configSchema>;
export type ProviderConfig = z.infer<typeof provider>;
export type PriceOverride = z.infer<typeof price>;
export type AgentCliConfig = z.infer<ReturnType<typeof agentCli>>;

export type ConfigResult = { ok: true; config: ColonyConfig } | { ok: false; problems: string[] };

/** Parses a raw config object; on failure lists every problem as `path: message`. */
export function parseConfig(raw: unknown): ConfigResult {
  const r = configSchema.safeParse(raw ?? {});
  if (r.success) return { ok: true, config: deepFreeze(r.data) };
  return {
    ok: false,
    problems: r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`),
  };
}

export function defaultConfig(): ColonyConfig {
  const r = parseConfig({});
  if (!r.ok) throw new Error(`default config invalid: ${r.problems.join('; ')}`);
  return r.config;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}
