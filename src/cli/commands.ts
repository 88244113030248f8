/** Commands that talk to a running host over the admin API (thin: the host's services do the work). */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ColonyError } from '../core/errors.js';
import { readGraphFile } from '../runner/graph-file.js';
import type { StoredTask } from '../store/rows.js';
import { connectAdmin } from './client.js';
import { formatUsd, table } from './output.js';
import { registerServe } from './serve.js';

const HOME = ['--home <dir>', 'colony home (default $COLONY_HOME or ./.colony)'] as const;

function print(v: unknown, json: boolean | undefined, text: () => string): void {
  process.stdout.write((json ? JSON.stringify(v, null, 2) : text()) + '\n');
}

export function registerExtraCommands(program: Command): void {
  registerServe(program);

  program
    .command('status')
    .description('state of the running host: kill switch, task counts, workers')
    .option(...HOME)
    .option('--json', 'print JSON')
    .action(async (o: { home?: string; json?: boolean }) => {
      const s = await connectAdmin(o.home).request<{
        killswitch: string;
        tasks: Record<string, number>;
        workers: { total: number; busy: number };
        uptime_s: number;
        sandbox?: { on: boolean; available: boolean; kind: string | null; problem: string | null };
      }>('GET', '/api/status');
      const red = (t: string): string => (process.stdout.isTTY ? `\x1b[1;41;97m ${t} \x1b[0m` : t);
      const sandbox = !s.sandbox
        ? 'unknown'
        : !s.sandbox.on
          ? red('UNSANDBOXED (safety.sandbox is false)')
          : s.sandbox.available
            ? `on (${s.sandbox.kind})`
            : red(`UNAVAILABLE: tasks are refused: ${s.sandbox.problem}`);
      print(s, o.json, () =>
        [
          `kill switch: ${s.killswitch}`,
          `sandbox: ${sandbox}`,
          `workers: ${s.workers.busy}/${s.workers.total} busy`,
          `tasks: ${
            Object.entries(s.tasks)
              .filter(([, n]) => n > 0)
              .map(([k, n]) => `${k} ${n}`)
              .join(', ') || 'none'
          }`,
          `uptime: ${s.uptime_s}s`,
        ].join('\n'),
      );
    });

  program
    .command('submit')
    .description('submit a task (text) or a graph file to the running host')
    .argument('<text-or-file>', 'task prompt, or a .json/.yaml graph file')
    .option('--engine <engine>', 'auto, claude, exec, or a configured provider such as groq')
    .option('--model <model>', 'model or alias (haiku, sonnet, opus, llama-3.3-70b-versatile, ...)')
    .option('--budget <usd>', 'budget in USD for the task')
    .option('--depends-on <id...>', 'ids of existing tasks this one waits for')
    .option('--title <title>', 'short title')
    .option(...HOME)
    .option('--json', 'print JSON')
    .action(
      async (arg: string, o: { engine?: string; model?: string; budget?: string; dependsOn?: string[]; title?: string; home?: string; json?: boolean }) => {
        const client = connectAdmin(o.home);
        const isFile = /\.(json|ya?ml)$/i.test(arg) && existsSync(arg);
        let body: unknown;
        if (isFile) {
          const graph = readGraphFile(arg);
          // Relative workspaces in a file mean "relative to the file", as with `colony run`.
          body = { graph: { ...graph, tasks: graph.tasks.map((t) => ({ ...t, workspace: resolve(arg, '..', t.workspace ?? '.') })) } };
        } else {
          const budget = o.budget === undefined ? undefined : Number(o.budget);
          if (budget !== undefined && (!Number.isFinite(budget) || budget < 0))
            throw new ColonyError('E_BAD_INPUT', `--budget must be a number ≥ 0, got "${o.budget}"`);
          body = { prompt: arg, engine: o.engine, model: o.model, budget_usd: budget, depends_on: o.dependsOn, title: o.title, workspace: process.cwd() };
        }
        const r = await client.request<{ graph_id: string; task_ids: string[] }>('POST', '/admin/execute', body);
        print(r, o.json, () => `submitted ${r.graph_id}: ${r.task_ids.join(', ')}`);
      },
    );

  for (const [name, desc] of [
    ['kill', 'halt: cancel every running task (local and remote) and stop dispatching'],
    ['pause', 'stop dispatching new tasks; running ones finish'],
    ['resume', 'dispatch again after pause or kill'],
  ] as const) {
    program
      .command(name)
      .description(desc)
      .option(...HOME)
      .action(async (o: { home?: string }) => {
        const r = await connectAdmin(o.home).request<{ state: string }>('POST', `/admin/${name}`);
        process.stdout.write(`kill switch: ${r.state}\n`);
      });
  }

  program
    .command('tasks')
    .description('list tasks on the running host')
    .option('--state <state>', 'only tasks in this state')
    .option('--graph <id>', 'only tasks of this graph')
    .option('--search <text>', 'only tasks whose id, title or prompt contains this')
    .option(...HOME)
    .option('--json', 'print JSON')
    .action(async (o: { state?: string; graph?: string; search?: string; home?: string; json?: boolean }) => {
      const q = new URLSearchParams();
      if (o.state) q.set('state', o.state);
      if (o.graph) q.set('graph_id', o.graph);
      if (o.search) q.set('q', o.search);
      const r = await connectAdmin(o.home).request<{ tasks: StoredTask[] }>('GET', `/admin/tasks?${q}`);
      print(r.tasks, o.json, () =>
        r.tasks.length === 0
          ? 'no tasks'
          : table([
              ['ID', 'STATE', 'ENGINE', 'ATTEMPTS', 'COST', 'TITLE'],
              ...r.tasks.map((t) => [t.id, t.state, t.engine, String(t.attempt), formatUsd(t.cost_unknown ? null : t.cost_usd), t.title.slice(0, 50)]),
            ]),
      );
    });

  program
    .command('logs')
    .description("a task's attempts (engine, model, route decision, cost) and output")
    .argument('<task>', 'task id (graph-id:task)')
    .option(...HOME)
    .option('--json', 'print JSON')
    .action(async (id: string, o: { home?: string; json?: boolean }) => {
      const r = await connectAdmin(o.home).request<{
        task: StoredTask;
        attempts: {
          attempt: number;
          state: string;
          engine: string | null;
          model: string | null;
          route_rule: string | null;
          route_explanation: string | null;
          cost_usd: number | null;
          summary: string | null;
          worker_id: string;
        }[];
        output: { attempt: number; text: string }[];
      }>('GET', `/admin/tasks/${encodeURIComponent(id)}`);
      print(r, o.json, () => {
        const lines = [`${r.task.id} — ${r.task.state}${r.task.state_reason ? ` (${r.task.state_reason})` : ''}`, `prompt: ${r.task.prompt}`];
        for (const a of r.attempts) {
          lines.push(
            `\n# attempt ${a.attempt} on ${a.worker_id}: ${a.engine ?? '?'}${a.model ? ` / ${a.model}` : ''} — ${a.state}, cost ${formatUsd(a.cost_usd)}`,
          );
          if (a.route_explanation) lines.push(`  route (${a.route_rule}): ${a.route_explanation}`);
          if (a.summary) lines.push(`  result: ${a.summary}`);
          lines.push(
            r.output
              .filter((o2) => o2.attempt === a.attempt)
              .map((o2) => o2.text)
              .join(''),
          );
        }
        return lines.join('\n');
      });
    });

  program
    .command('open')
    .description('print the admin URL with its token (open it in a browser on this machine)')
    .option(...HOME)
    .action((o: { home?: string }) => {
      const c = connectAdmin(o.home);
      process.stdout.write(`${c.base}/?token=${c.token}\n`);
    });
}
