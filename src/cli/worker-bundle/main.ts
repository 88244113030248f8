/**
 * Entry of the self-contained worker the host serves to LAN visitors
 * (dist/worker/colony-worker.mjs, built by scripts/build-worker.mjs): only
 * `colony worker`, bundled with its dependencies so a machine with nothing
 * but Node.js 20 runs it. The pasted bootstrap (server/user/worker-bootstrap.ts)
 * verifies its sha256 before importing it.
 */
import { Command, CommanderError } from 'commander';
import { isColonyError } from '../../core/errors.js';
import { AGENT_CLI_ENGINES, findBinary } from '../../engines/agent-engines.js';
import { registerWorker } from '../worker.js';
import { withSystemPath } from './system-path.js';

async function main(): Promise<void> {
  // A pasted command may run from a minimal shell whose PATH holds only node: the OS sandbox (bwrap) and /bin/sh live in the system dirs.
  process.env['PATH'] = withSystemPath(process.env['PATH'] ?? '', process.platform);
  const program = new Command().name('colony-worker').exitOverride();
  registerWorker(program);
  try {
    await program.parseAsync(withDetectedEngines(process.argv));
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    process.stderr.write(`colony worker: ${isColonyError(e) ? e.message : `unexpected error: ${(e as Error).message}`}\n`);
    process.exitCode = isColonyError(e) && e.status < 500 ? 2 : 1;
  }
}

/**
 * The pasted command names no engines: offer what this machine has, exec plus
 * each agent CLI on PATH — Claude Code, Codex, Gemini CLI, opencode — (the
 * host's task form then offers exactly these, and defaults to one that will run).
 */
function withDetectedEngines(argv: string[]): string[] {
  if (argv.some((a) => a === '--engines' || a.startsWith('--engines='))) return argv;
  const agents = AGENT_CLI_ENGINES.filter((name) => findBinary(name) !== null);
  const engines = ['exec', ...(findBinary(process.env['CLAUDE_BIN'] ?? 'claude') ? ['claude'] : []), ...agents];
  return [...argv, '--engines', engines.join(',')];
}

await main();
