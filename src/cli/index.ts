#!/usr/bin/env node
/**
 * The `colony` command. Each subcommand is a thin adapter over a service; all
 * errors end here as one readable line and an exit code: 0 ok, 1 task(s)
 * failed or a check failed, 2 bad input, 3 no running host.
 */
import { Command, CommanderError } from 'commander';
import { isColonyError, type ColonyError } from '../core/errors.js';
import { registerRun } from './run.js';
import { registerGraph } from './graph.js';
import { registerAudit } from './audit.js';
import { registerExtraCommands } from './commands.js';
import { registerRouter } from './router.js';
import { registerWorker } from './worker.js';
import { registerDoctor } from './doctor.js';
import { registerBudget } from './budget.js';
import { registerChanges } from './changes.js';

export function exitCodeFor(e: ColonyError): number {
  if (e.code === 'E_NO_HOST') return 3;
  if (e.status >= 400 && e.status < 500 && e.code !== 'E_SAFETY_DENIED') return 2;
  if (e.code === 'E_CONFIG') return 2;
  return 1;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('colony')
    .description('Orchestrate AI coding agents (Claude Code, Groq/OpenAI-compatible, shell commands) over a dependency graph of tasks.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerRun(program);
  registerGraph(program);
  registerAudit(program);
  registerExtraCommands(program);
  registerWorker(program); // colony worker (src/cli/worker.ts)
  registerRouter(program); // colony router explain (src/cli/router.ts)
  registerDoctor(program); // colony doctor (src/cli/doctor.ts)
  registerBudget(program); // colony budget list|set|resume (src/cli/budget.ts)
  registerChanges(program); // colony changes list|approve|reject|request-changes (src/cli/changes.ts)
  return program;
}

async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    if (isColonyError(e)) {
      process.stderr.write(`colony: ${e.message}\n`);
      process.exitCode = exitCodeFor(e);
      return;
    }
    process.stderr.write(`colony: unexpected error: ${(e as Error).message}\n`);
    if (process.env['COLONY_DEBUG']) process.stderr.write(`${(e as Error).stack}\n`);
    process.exitCode = 1;
  }
}

void main();
