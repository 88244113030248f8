/** `colony serve`: the host with its admin app (and with --lan the user app). */
import type { Command } from 'commander';
import { ColonyError } from '../core/errors.js';
import { accessCodeProblem } from '../core/access-code.js';
import { loadConfig, resolveHome } from '../runner/home.js';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { readGraphFile } from '../runner/graph-file.js';
import type { Host } from '../runner/host.js';

/**
 * The demo, submitted once on an empty home: a graph worth watching (about a
 * minute of progress, a failure and its downstream) and one task held for the
 * admin's approval. Exec engine only: no API keys.
 */
const DEMO_GRAPHS: { file: string; held: boolean }[] = [
  { file: 'demo.yaml', held: false },
  { file: 'demo-deploy.yaml', held: true },
];

function submitDemoGraphs(host: Host): string[] {
  if (host.store.listGraphs(1).length > 0) return [];
  const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples');
  const workspace = join(tmpdir(), 'colony-demo');
  mkdirSync(workspace, { recursive: true });
  try {
    return DEMO_GRAPHS.filter((g) => existsSync(join(dir, g.file))).map(
      ({ file, held }) =>
        host.service.submitGraph(
          readGraphFile(join(dir, file)),
          {
            submittedBy: 'admin',
            who: { actor: 'admin', origin: 'local' },
            workspace,
            defaultTarget: 'host',
            holdHostTasks: held,
            source: join(dir, file),
          },
          file,
        ).graph_id,
    );
  } catch (e) {
    // Configured safety.allowed_roots that leave out the demo directory: no demo rather than no host.
    if (e instanceof ColonyError && e.code === 'E_WORKSPACE_OUTSIDE_ROOTS') return [];
    throw e;
  }
}

interface ServeFlags {
  lan?: boolean;
  adminPort: string;
  userPort: string;
  hostIp?: string;
  home?: string;
  config?: string;
  concurrency?: string;
  pretty?: boolean;
  quiet?: boolean;
  demo?: boolean;
  lanCode?: string;
  insecureHttp?: boolean;
  store?: string;
}

function port(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ColonyError('E_BAD_INPUT', `${name} must be a port number 0-65535, got "${v}"`);
  return n;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('start the host: admin app on 127.0.0.1 (and the LAN user app with --lan), running tasks as they become ready')
    .option('--lan', 'also start the user app for people on your LAN')
    .option('--admin-port <port>', 'admin app port (always bound to 127.0.0.1)', '8080')
    .option('--user-port <port>', 'user app port', '8081')
    .option('--host-ip <addr>', 'address the user app binds to (default 0.0.0.0)')
    .option('--lan-code <code>', 'LAN visitors must enter this access code ("auto": generate one and print it); default: config lan.access_code')
    .option('--insecure-http', 'serve the LAN app over plain HTTP instead of TLS (everything, prompts and cookies included, crosses the LAN readable)')
    .option('--concurrency <n>', 'local tasks run at the same time (default: config runner.concurrency)')
    .option('--home <dir>', 'colony home (default $COLONY_HOME or ./.colony)')
    .option('--store <url>', 'run on PostgreSQL (postgres://user:password@host/db) instead of the SQLite file in the home; default: config store.url')
    .option('--config <file>', 'config file (default ./colony.config.json)')
    .option('--demo', 'on an empty home, submit the offline example graphs (exec engine) so there is something to watch')
    .option('--pretty', 'human-readable logs instead of JSON')
    .option('--quiet', 'no request logs')
    .action(async (f: ServeFlags) => {
      const loaded = loadConfig(f.config);
      const { file } = loaded;
      if (f.store !== undefined && !/^postgres(ql)?:\/\//i.test(f.store)) throw new ColonyError('E_BAD_INPUT', '--store must be a postgres:// URL');
      const config = f.store === undefined ? loaded.config : { ...loaded.config, store: { ...loaded.config.store, url: f.store } };
      const paths = resolveHome(f.home);
      const concurrency = f.concurrency === undefined ? undefined : Number(f.concurrency);
      if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1))
        throw new ColonyError('E_BAD_INPUT', '--concurrency must be a positive integer');
      const logger = f.quiet
        ? false
        : f.pretty
          ? { level: 'info', transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' } } }
          : { level: 'warn' };
      const weak = f.lanCode !== undefined && f.lanCode !== 'auto' ? accessCodeProblem(f.lanCode) : null;
      if (weak) throw new ColonyError('E_BAD_INPUT', `--lan-code: ${weak}`);
      // Loaded here, not at the top: every other command (status, submit, ...) would pay for fastify's start-up.
      const { startHost } = await import('../server/host-server.js');
      const h = await startHost({
        paths,
        config,
        configFile: file,
        adminPort: port('--admin-port', f.adminPort),
        userPort: port('--user-port', f.userPort),
        lan: f.lan === true,
        insecureHttp: f.insecureHttp === true,
        hostIp: f.hostIp,
        concurrency,
        logger,
        lanCode: f.lanCode,
      });
      const sb = h.host.sandbox.status();
      // A demo whose tasks would all be refused helps nobody: name the one missing step instead.
      const sandboxBlocked = sb.on && !sb.available;
      const demo = f.demo && !sandboxBlocked ? submitDemoGraphs(h.host) : [];
      const lines = [
        `colony host running (home ${paths.home})`,
        `  admin app: ${h.adminTokenUrl}`,
        '             (open it in a browser on this machine, as often as you like; colony open prints it again)',
        h.userUrl
          ? `  LAN app:   ${h.userUrl}${h.lanCode ? `   (access code: ${h.lanCode})` : ''}`
          : '  LAN app:   off (start with --lan to let people on your network submit and run tasks)',
        ...(h.userUrl && h.tlsFingerprint
          ? [
              `  LAN TLS certificate (self-signed) SHA-256: ${h.tlsFingerprint}`,
              '             (browsers ask to accept it once: compare this fingerprint; workers pin it when they pair)',
            ]
          : []),
        ...(h.userUrl && !h.tlsFingerprint
          ? ['  WARNING: --insecure-http: the LAN app is plain HTTP; prompts, output and cookies cross the network readable by anyone on it']
          : []),
        sandboxBlocked
          ? `  SANDBOX UNAVAILABLE: tasks are refused until it can start. ${sb.problem}${f.demo ? '\n  (demo not submitted; restart after the step above)' : ''}`
          : sb.on
            ? `  sandbox: on (${sb.kind}; limits: ${sb.limits_enforced.join(', ') || 'none enforced'})`
            : '  sandbox: OFF (safety.sandbox is false): tasks run UNSANDBOXED',
        `  kill switch: ${h.host.killswitch.state()}${h.host.recovered.requeued.length ? `; ${h.host.recovered.requeued.length} interrupted task(s) requeued` : ''}${h.host.orphans.killed ? ` (${h.host.orphans.killed} leftover process(es) of their attempts ended first)` : ''}`,
        demo.length
          ? `  demo: submitted ${demo.join(', ')} (exec engine, no API keys needed)`
          : '  try: colony submit examples/release.json   ·   Ctrl-C to stop',
      ];
      process.stdout.write(lines.join('\n') + '\n');
      let stopping = false;
      const stop = (sig: string): void => {
        if (stopping) {
          process.stdout.write('forced exit\n');
          process.exit(130);
        }
        stopping = true;
        process.stdout.write(`${sig}: stopping (running tasks get ${config.runner.kill_grace_ms} ms to finish; Ctrl-C again to force)\n`);
        void h.close().then(() => process.exit(0));
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });
}
