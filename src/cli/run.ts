/** `colony run <graph>`: run a graph on this machine to completion, with live progress. */
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { ColonyError } from '../core/errors.js';
import { isTerminal, type TaskState } from '../core/task.js';
import { readGraphFile } from '../runner/graph-file.js';
import { loadConfig, resolveHome } from '../runner/home.js';
import { openHost } from '../runner/host.js';
import { ownResumedGraph } from '../runner/resume-owner.js';
import { checkGraphInput } from '../runner/service.js';
import { SYSTEM } from '../store/store.js';
import { createReporter, formatDuration, formatUsd, table } from './output.js';

interface RunOptions {
  concurrency?: string;
  resume?: boolean;
  json?: boolean;
  home?: string;
  config?: string;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a task graph (JSON or YAML) on this machine until every task has ended')
    .argument('<graph>', 'graph file (.json, .yaml, .yml)')
    .option('-c, --concurrency <n>', 'tasks run at the same time (default: config runner.concurrency)')
    .option('--resume', 'continue the unfinished run of this graph file instead of starting a new one')
    .option('--json', 'print a JSON summary instead of the table')
    .option('--home <dir>', 'colony home (default $COLONY_HOME or ./.colony)')
    .option('--config <file>', 'config file (default ./colony.config.json)')
    .addHelpText('after', '\nExit codes: 0 all tasks succeeded, 1 some task did not, 2 bad input.\nExample: colony run examples/release.json --concurrency 4')
    .action(async (file: string, opts: RunOptions) => {
      process.exitCode = await runGraph(file, opts);
    });
}

export async function runGraph(file: string, opts: RunOptions): Promise<number> {
  const concurrency = opts.concurrency === undefined ? undefined : Number(opts.concurrency);
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256)) {
    throw new ColonyError('E_BAD_INPUT', `--concurrency must be an integer from 1 to 256, got "${opts.concurrency}"`);
  }
  const source = resolve(file);
  const graph = readGraphFile(file); // bad files fail here, before anything is written
  const { config, file: configFile } = loadConfig(opts.config);
  checkGraphInput(graph, config, dirname(source), file); // ids, deps, cycles, budget: still before the store is opened
  const paths = resolveHome(opts.home);
  const mine = new Set<string>();
  const host = openHost({ paths, config, configFile, concurrency, accept: (id) => mine.has(id) });
  const out = createReporter(process.stdout, opts.json);
  try {
    let graphId: string;
    const previous = opts.resume ? host.store.unfinishedGraphFrom(source) : null;
    if (previous) {
      await ownResumedGraph(host, previous, (line) => out.line(line)); // several hosts: never run another live host's graph
      graphId = previous.id;
      const ended = host.orphans.killed ? `; ${host.orphans.killed} leftover process(es) of its attempts ended first` : '';
      out.line(`resuming ${graphId} (${host.recovered.requeued.length} task(s) requeued after the interrupted run${ended})`);
    } else {
      const r = host.service.submitGraph(
        graph,
        {
          submittedBy: 'admin',
          who: { actor: 'admin', origin: 'local' },
          workspace: dirname(source),
          defaultTarget: 'host',
          holdHostTasks: false,
          source,
        },
        file,
      );
      graphId = r.graph_id;
      if (opts.resume) out.line(`no unfinished run of ${file}; started ${graphId}`);
    }
    for (const t of host.store.listTasks({ graph_id: graphId, limit: 1e9 })) mine.add(t.id);
    const started = new Map<string, number>();
    const states = new Map<string, TaskState>(host.store.listTasks({ graph_id: graphId, limit: 1e9 }).map((t) => [t.id, t.state]));
    const short = (id: string): string => id.slice(graphId.length + 1);
    const tally = (): { done: number; running: number; failed: number } => {
      let done = 0,
        running = 0,
        failed = 0;
      for (const s of states.values()) {
        if (isTerminal(s)) done++;
        if (s === 'running') running++;
        if (isTerminal(s) && s !== 'succeeded' && s !== 'skipped') failed++;
      }
      return { done, running, failed };
    };
    // Done when every task ended; "stuck" when nothing of ours is ready or running
    // for two consecutive ticks (e.g. tasks awaiting approval): report and stop.
    const finished = new Promise<void>((resolveDone) => {
      let idleTicks = 0;
      const check = (): void => {
        const { done, running, failed } = tally();
        out.progress(done, states.size, running, failed);
        if (done === states.size) return finish();
        const active = [...states.values()].some((s) => s === 'ready' || s === 'assigned' || s === 'running');
        idleTicks = active || host.pool.busy() > 0 ? 0 : idleTicks + 1;
        if (idleTicks >= 3) finish();
      };
      const ticker = setInterval(check, 500);
      const unsubscribe = host.store.subscribe((events) => {
        for (const e of events) {
          if (e.kind !== 'task.state' || !e.task_id || !mine.has(e.task_id)) continue;
          const to = e.data['to'] as TaskState;
          states.set(e.task_id, to);
          if (to === 'running') started.set(e.task_id, e.at);
          if (isTerminal(to) || to === 'awaiting_approval') {
            const took = started.has(e.task_id) ? ` (${formatDuration(e.at - (started.get(e.task_id) ?? e.at))})` : '';
            out.line(`${symbol(to)} ${short(e.task_id)} ${to}${took}${to === 'succeeded' ? '' : `: ${String(e.data['reason'] ?? '')}`}`);
          }
        }
        const { done, running, failed } = tally();
        out.progress(done, states.size, running, failed);
        if (done === states.size) finish();
      });
      function finish(): void {
        clearInterval(ticker);
        unsubscribe();
        resolveDone();
      }
      check();
    });
    const onSigint = (): void => {
      out.line('interrupted: cancelling running tasks (run again with --resume to continue)');
      host.pool.cancelAll('interrupted by user');
    };
    process.once('SIGINT', onSigint);
    host.pool.start();
    if (!host.killswitch.canDispatch())
      out.line(`the kill switch is ${host.killswitch.state()}: nothing will be dispatched (colony resume, or remove ${paths.haltFile})`);
    await finished;
    await host.pool.idle();
    process.removeListener('SIGINT', onSigint);
    out.end();
    const tasks = host.store.listTasks({ graph_id: graphId, limit: 1e9 });
    const ok = tasks.every((t) => t.state === 'succeeded' || t.state === 'skipped');
    if (opts.json) {
      process.stdout.write(
        JSON.stringify(
          {
            graph_id: graphId,
            ok,
            tasks: tasks.map((t) => ({ id: short(t.id), state: t.state, reason: t.state_reason, attempts: t.attempt, cost_usd: t.cost_usd })),
          },
          null,
          2,
        ) + '\n',
      );
    } else {
      const rows = [['TASK', 'STATE', 'ATTEMPTS', 'COST', 'REASON']];
      for (const t of tasks)
        rows.push([
          short(t.id),
          t.state,
          String(t.attempt),
          formatUsd(t.cost_unknown ? null : t.cost_usd),
          t.state === 'succeeded' ? '' : (t.state_reason ?? '').slice(0, 60),
        ]);
      out.line('\n' + table(rows));
      const stuck = tasks.filter((t) => !isTerminal(t.state));
      if (stuck.length) out.line(`${stuck.length} task(s) did not end: ${stuck.map((t) => `${short(t.id)} (${t.state})`).join(', ')}`);
      out.line(ok ? `graph ${graphId}: all ${tasks.length} tasks succeeded` : `graph ${graphId}: not all tasks succeeded`);
    }
    host.store.appendAudit({ ...SYSTEM, action: 'run.finished', target: graphId, detail: { ok } });
    return ok ? 0 : 1;
  } finally {
    await host.close();
  }
}

function symbol(state: TaskState): string {
  return state === 'succeeded' ? '✓' : state === 'skipped' ? '-' : state === 'awaiting_approval' ? '?' : '✗';
}
