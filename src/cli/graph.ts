/** `colony graph validate <file>`: check a graph file without running anything. */
import type { Command } from 'commander';
import { compileGraph, type GraphInput } from '../core/graph-schema.js';
import { dependencyDepths } from '../core/dag.js';
import { readGraphFile } from '../runner/graph-file.js';
import { defaultConfig } from '../core/config.js';

export function registerGraph(program: Command): void {
  const graph = program.command('graph').description('work with graph files');
  graph
    .command('validate')
    .description('check a graph file: schema, unknown or duplicate ids, self-dependencies, cycles')
    .argument('<file>', 'graph file (.json, .yaml, .yml)')
    .action((file: string) => {
      const g: GraphInput = readGraphFile(file);
      const cfg = defaultConfig();
      const specs = compileGraph(
        g,
        {
          graphId: 'g',
          workspace: '.',
          resolveWorkspace: (w) => w,
          defaultBudgetUsd: cfg.budget.default_task_usd,
          defaultMaxAttempts: cfg.runner.max_attempts,
          defaultTarget: 'host',
        },
        file,
      );
      let depth = 0;
      for (const d of dependencyDepths(specs).values()) depth = Math.max(depth, d); // no spread: graphs may have 100k tasks
      process.stdout.write(
        `${file}: ok — ${specs.length} task(s), ${specs.reduce((n, s) => n + s.depends_on.length, 0)} edge(s), longest chain ${depth + 1}\n`,
      );
    });
}
