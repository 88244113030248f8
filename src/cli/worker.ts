/**
 * `colony worker`: runs tasks from a colony host on this machine, with this
 * machine's engines, workspace root, safety checks and budget cap.
 *
 *   colony worker --host https://ADDR:8081 --code CODE --tls-fingerprint FP
 *                                                       first run: pair (key pair in --home, host key and certificate pinned)
 *   colony worker                                       later runs: reuse the saved identity
 */
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ColonyError } from '../core/errors.js';
import type { Engine } from '../core/engine.js';
import { createEngineRegistry } from '../engines/registry.js';
import { withAgentCliDefaults } from '../engines/agent-engines.js';
import { loadConfig } from '../runner/home.js';
import { createSandboxPlanner } from '../safety/os-sandbox/index.js';
import { sandboxProbe, unavailableMessage } from '../safety/os-sandbox/probe.js';
import { envForEngine } from '../runner/routing.js';
import { WorkerAgent } from '../remote/worker/worker-agent.js';
import { loadIdentity, pairWorker, type WorkerIdentity } from '../remote/worker/worker-identity.js';
import { createWorkerGate } from '../remote/worker/worker-gate.js';
import { TaskRunner } from '../remote/worker/worker-runner.js';
import { InflightBook } from '../remote/worker/inflight.js';
import { agentStateDirOf, pruneAgentState } from '../remote/worker/agent-state.js';
import { acquireHostLock } from '../store/host-lock.js';

interface WorkerFlags {
  host?: string;
  code?: string;
  tlsFingerprint?: string;
  workspaceRoot?: string;
  budgetCap?: string;
  engines: string;
  openToAdmin?: boolean;
  concurrency: string;
  name?: string;
  home?: string;
  config?: string;
}

const out = (line: string): void => void process.stdout.write(`${line}\n`);

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run tasks from a colony host on this machine (pair once with --code from the dashboard)')
    .option('--host <url>', "the host's LAN app, e.g. https://192.168.1.10:8081 (remembered after pairing)")
    .option('--code <code>', 'one-time pairing code from the dashboard (first run, or to pair again with a new key)')
    .option('--tls-fingerprint <sha256>', "the host certificate's fingerprint from the pairing command: any other certificate is refused")
    .option('--workspace-root <dir>', 'tasks run only inside this directory (default ~/colony-work)')
    .option('--budget-cap <usd>', 'never let a task spend more than this, whatever the host asks')
    .option('--engines <list>', 'comma-separated engines this worker runs: exec, claude, groq, ...', 'exec')
    .option('--open-to-admin', "also run tasks the host's admin sends to this worker (fixed at pairing)")
    .option('--concurrency <n>', 'tasks run at the same time', '1')
    .option('--name <name>', "name shown on the dashboards (default: this machine's hostname)")
    .option('--home <dir>', 'worker home for its key and the pinned host key (default $COLONY_WORKER_HOME or ~/.colony-worker)')
    .option('--config <file>', 'config file for engines and safety checks (default ./colony.config.json)')
    .action(async (f: WorkerFlags) => {
      const home = resolve(f.home ?? process.env['COLONY_WORKER_HOME'] ?? join(homedir(), '.colony-worker'));
      const root = resolve(f.workspaceRoot ?? join(homedir(), 'colony-work'));
      const budgetCap = f.budgetCap === undefined ? null : Number(f.budgetCap);
      if (budgetCap !== null && (!Number.isFinite(budgetCap) || budgetCap < 0))
        throw new ColonyError('E_BAD_INPUT', `--budget-cap must be a number ≥ 0, got "${f.budgetCap}"`);
      const concurrency = Number(f.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new ColonyError('E_BAD_INPUT', '--concurrency must be an integer 1-64');
      const loaded = loadConfig(f.config);
      const file = loaded.file;
      const names = [
        ...new Set(
          f.engines
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        ),
      ];
      // A CLI named here (found on PATH by the bundled worker) with no section in the config runs with its defaults.
      const config = withAgentCliDefaults(loaded.config, names);
      const registry = createEngineRegistry(config);
      const engines = new Map<string, Engine>();
      for (const n of names) {
        if (!registry.has(n)) throw new ColonyError('E_BAD_INPUT', `--engines: unknown engine "${n}"; known: ${registry.names().join(', ')}`);
        engines.set(n, registry.get(n));
      }
      mkdirSync(root, { recursive: true });
      // Every task runs in the OS sandbox; a worker that cannot sandbox does not start (never silently unsandboxed).
      // Checked before pairing, so a missing bubblewrap does not use up the one-time code: install it and run the same command.
      const sandbox = createSandboxPlanner({ safety: config.safety, colonyHome: home, configFile: file });
      const sb = sandbox.status();
      if (sb.on && !sb.available) {
        const p = sandboxProbe();
        throw new ColonyError(
          'E_SANDBOX_UNAVAILABLE',
          p.ok ? (sb.problem ?? 'the OS sandbox cannot start') : unavailableMessage(p, 'then run the same command again'),
        );
      }
      if (!sb.on) out('WARNING: safety.sandbox is false: tasks run UNSANDBOXED on this machine');
      const identity = await identify(f, home, names);
      const gate = createWorkerGate({ config, configFile: file, home, workspaceRoot: root });
      // Each engine gets only its own provider variables (an exec task never sees an API key; codex never sees ANTHROPIC_*).
      const env = envForEngine(config, process.env);
      const runner = new TaskRunner({
        engines,
        workspaceRoot: root,
        budgetCap,
        gate,
        env,
        // Each task's agent CLI home is its own folder under the worker home (0700), bound into its sandbox only.
        stateDirFor: (taskId) => agentStateDirOf(home, taskId),
        sandboxFor: (t) =>
          sandbox.planFor({
            taskId: t.task_id,
            engine: t.engine,
            workspace: t.workspace,
            env: env(t.engine),
            ...(t.state_dir ? { stateDir: t.state_dir } : {}),
          }),
        silenceTimeoutMs: config.runner.silence_timeout_s === null ? null : config.runner.silence_timeout_s * 1000,
      });
      // Attempts a previous run of this worker left (crash, kill): their processes are ended
      // before anything else runs here, and the host is told they were lost.
      acquireHostLock(join(home, 'worker.lock'), home); // one worker per home: the sweep assumes its records belong to a dead run
      const inflight = new InflightBook(home);
      await pruneAgentState(home, Date.now()); // before any task runs: no folder is in use
      const recovered = inflight.recover();
      if (recovered.lost.length + recovered.finals.length > 0) {
        out(
          `previous run stopped with ${recovered.lost.length + recovered.finals.length} attempt(s) in flight; ended ${recovered.killed} leftover process(es); reporting them to the host`,
        );
      }
      const agent = new WorkerAgent({ identity, runner, openToAdmin: f.openToAdmin === true, concurrency, inflight, recovered });
      await runUntilStopped(agent, identity, { root, names, budgetCap });
    });
}

async function identify(f: WorkerFlags, home: string, engines: string[]): Promise<WorkerIdentity> {
  const saved = await loadIdentity(home);
  if (f.code) {
    const hostUrl = f.host ?? saved?.host_url;
    if (!hostUrl) throw new ColonyError('E_BAD_INPUT', "--host is required to pair: the LAN app's address, e.g. --host https://192.168.1.10:8081");
    const id = await pairWorker({ home, hostUrl, code: f.code, name: f.name, engines, openToAdmin: f.openToAdmin === true, tlsFingerprint: f.tlsFingerprint });
    out(`paired with ${id.host_url} as worker ${id.worker_id} ("${id.name}")`);
    out(`  this worker's key:  ${id.fingerprint}`);
    out(`  host key (pinned):  ${id.host_fingerprint}   (authenticated by the one-time code: nothing to compare)`);
    out(
      id.host_cert_fingerprint
        ? `  host TLS certificate (pinned): ${id.host_cert_fingerprint}`
        : '  WARNING: the host serves plain HTTP (--insecure-http): tasks and output cross the network readable; signatures still protect them from changes',
    );
    return id;
  }
  if (!saved)
    throw new ColonyError(
      'E_BAD_INPUT',
      `this worker is not paired yet (no identity in ${home}): get a code on the host's dashboard and run the command it shows (colony worker --host https://ADDR:8081 --code CODE --tls-fingerprint FP)`,
    );
  if (f.host && f.host.replace(/\/+$/, '') !== saved.host_url) {
    throw new ColonyError('E_BAD_INPUT', `this worker is paired with ${saved.host_url}; pass --code to pair with ${f.host}, or use another --home`);
  }
  out(
    `worker ${saved.worker_id} ("${saved.name}"), key ${saved.fingerprint}, host key pinned ${saved.host_fingerprint}${saved.host_cert_fingerprint ? `, host TLS certificate pinned ${saved.host_cert_fingerprint}` : ' (plain HTTP)'}`,
  );
  return saved;
}

function runUntilStopped(agent: WorkerAgent, id: WorkerIdentity, info: { root: string; names: string[]; budgetCap: number | null }): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    agent.on((e) => {
      switch (e.type) {
        case 'connected':
          return out(
            `connected to ${id.host_url} as worker ${e.worker_id}; engines ${info.names.join(', ')}; workspace root ${info.root}; budget cap ${info.budgetCap === null ? 'none (host budget)' : `$${info.budgetCap} per task`}`,
          );
        case 'disconnected':
          return out(`disconnected (${e.code}${e.reason ? ` ${e.reason}` : ''}); reconnecting`);
        case 'retrying':
          return out(`cannot reach the host (${e.error}); retrying in ${(e.in_ms / 1000).toFixed(1)} s`);
        case 'accepted':
          return out(`task ${e.task_id} attempt ${e.attempt}: accepted`);
        case 'rejected':
          return out(`task ${e.task_id} attempt ${e.attempt}: rejected: ${e.reason}`);
        case 'cancelled':
          return out(`task ${e.task_id} attempt ${e.attempt}: cancelled by the host`);
        case 'finished':
          return out(`task ${e.task_id} attempt ${e.attempt}: ${e.ok ? 'succeeded' : 'failed'}: ${e.summary.split('\n')[0]?.slice(0, 200) ?? ''}`);
        case 'lost':
          return out(`task ${e.task_id} attempt ${e.attempt}: reported lost (it was running when this worker stopped)`);
        case 'refused':
          return out(`refused from the network: ${e.code}: ${e.reason}`);
        case 'host_error':
          return out(`host refused a message: ${e.code}: ${e.message}`);
        case 'fatal':
          void agent.stop(0);
          return reject(new ColonyError('E_UNAUTHORIZED', e.reason));
        default:
          return undefined;
      }
    });
    let stopping = false;
    const stop = (sig: string): void => {
      if (stopping) process.exit(130);
      stopping = true;
      out(`${sig}: stopping (running tasks are stopped and handed back to the host)`);
      void agent.stop().then(() => resolvePromise());
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    out(`connecting to ${id.host_url} ...`);
    agent.start();
  });
}
