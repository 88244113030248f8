/**
 * `colony budget list|set|resume` (issue 18): spend against budget per user
 * and per graph on the running host; set a budget; resume a scope paused at
 * its budget (refused while the spend still reaches it).
 */
import type { Command } from 'commander';
import { ColonyError } from '../core/errors.js';
import { connectAdmin } from './client.js';
import { table } from './output.js';

interface Row {
  scope: 'graph' | 'user';
  key: string;
  name: string;
  spent_usd: number;
  budget_usd: number | null;
  level: string;
  paused: boolean;
}

const usd = (n: number | null): string => (n === null ? '—' : `$${n.toFixed(4)}`);

function scopeOf(s: string): 'graph' | 'user' {
  if (s !== 'graph' && s !== 'user') throw new ColonyError('E_BAD_INPUT', `scope must be "graph" or "user", got "${s}"`);
  return s;
}

function print(rows: Row[]): void {
  const lines = [
    ['SCOPE', 'KEY', 'NAME', 'SPENT', 'BUDGET', 'LEVEL', 'PAUSED'],
    ...rows.map((r) => [r.scope, r.key, r.name, usd(r.spent_usd), usd(r.budget_usd), r.level, r.paused ? 'yes' : '']),
  ];
  process.stdout.write(table(lines) + '\n');
}

export function registerBudget(program: Command): void {
  const budget = program.command('budget').description('budgets per user and per graph on the running host');
  budget
    .command('list')
    .description('spend against budget per user and per graph, with the level and whether the tasks are paused')
    .option('--home <dir>', 'colony home (default $COLONY_HOME or ./.colony)')
    .option('--json', 'print JSON')
    .action(async (o: { home?: string; json?: boolean }) => {
      const r = await connectAdmin(o.home).request<{ warn_share: number; users: Row[]; graphs: Row[] }>('GET', '/admin/budgets');
      if (o.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      else print([...r.users, ...r.graphs]);
    });
  budget
    .command('set')
    .description('set the budget of a user or a graph ("none": back to its default); a spend at or over it pauses its tasks')
    .argument('<scope>', 'graph or user')
    .argument('<key>', 'graph id, or user id (admin, session:<id>)')
    .argument('<usd>', 'budget in USD, or none')
    .option('--home <dir>', 'colony home (default $COLONY_HOME or ./.colony)')
    .action(async (scope: string, key: string, value: string, o: { home?: string }) => {
      const n = value === 'none' ? null : Number(value);
      if (n !== null && (!Number.isFinite(n) || n < 0)) throw new ColonyError('E_BAD_INPUT', `budget must be a number ≥ 0 or "none", got "${value}"`);
      const r = await connectAdmin(o.home).request<{ budget: Row }>('POST', '/admin/budgets', { scope: scopeOf(scope), key, budget_usd: n });
      print([r.budget]);
    });
  budget
    .command('resume')
    .description('resume the tasks of a user or graph paused at its budget (raise the budget first)')
    .argument('<scope>', 'graph or user')
    .argument('<key>', 'graph id, or user id')
    .option('--home <dir>', 'colony home (default $COLONY_HOME or ./.colony)')
    .action(async (scope: string, key: string, o: { home?: string }) => {
      const r = await connectAdmin(o.home).request<{ budget: Row }>('POST', '/admin/budgets/resume', { scope: scopeOf(scope), key });
      print([r.budget]);
    });
}
