/** `colony router explain "<prompt>" [--budget USD]`: what the running host's router would choose for a task, and why. */
import type { Command } from 'commander';
import { ColonyError } from '../core/errors.js';
import { connectAdmin } from './client.js';
import { table } from './output.js';

interface Step {
  id: string;
  p: number;
  n: number;
  ok: number;
  weight: number;
  cost_usd: number;
  cost_source: string;
}
interface Plan {
  steps: Step[];
  success: number;
  cost_usd: number;
  value_usd: number;
}
interface Explained {
  decision: { engine: string; model: string | null; rule: string; cls: string; explanation: string; complexity: { score: number }; plans: Plan[] };
}

export function registerRouter(program: Command): void {
  const router = program.command('router').description('the adaptive router');
  router
    .command('explain')
    .description('print what the running host would choose for a task with this text, and why (its current statistics; no exploration)')
    .argument('<prompt>', 'task text')
    .option('--budget <usd>', 'remaining budget in USD (default: the default task budget)')
    .option('--depth <n>', 'dependency depth of the task (default 0)')
    .option('--home <dir>', 'colony home (default $COLONY_HOME or ./.colony)')
    .option('--json', 'print JSON')
    .action(async (prompt: string, o: { budget?: string; depth?: string; home?: string; json?: boolean }) => {
      const budget = o.budget === undefined ? undefined : Number(o.budget);
      if (budget !== undefined && (!Number.isFinite(budget) || budget < 0))
        throw new ColonyError('E_BAD_INPUT', `--budget must be a number ≥ 0, got "${o.budget}"`);
      const depth = o.depth === undefined ? undefined : Number(o.depth);
      if (depth !== undefined && (!Number.isInteger(depth) || depth < 0))
        throw new ColonyError('E_BAD_INPUT', `--depth must be a whole number ≥ 0, got "${o.depth}"`);
      const r = await connectAdmin(o.home).request<Explained>('POST', '/admin/router/explain', { prompt, budget_usd: budget, depends_on_depth: depth });
      if (o.json) {
        process.stdout.write(JSON.stringify(r, null, 2) + '\n');
        return;
      }
      const d = r.decision;
      const lines = [
        `choice: ${d.engine}/${d.model ?? 'default'} (rule ${d.rule}, class ${d.cls}, complexity ${d.complexity.score.toFixed(2)})`,
        `why: ${d.explanation}`,
      ];
      if (d.plans.length > 0) {
        const rows = [...d.plans]
          .sort((a, b) => b.value_usd - a.value_usd)
          .map((p) => [
            p.steps.map((s) => s.id).join(' → '),
            p.success.toFixed(3),
            `$${p.cost_usd.toFixed(4)}`,
            `$${p.value_usd.toFixed(4)}`,
            p.steps.map((s) => `${s.ok}/${s.n}`).join(' → '),
          ]);
        lines.push('', table([['plan', 'success', 'cost', 'value', 'runs ok/n'], ...rows]));
      }
      process.stdout.write(lines.join('\n') + '\n');
    });
}
