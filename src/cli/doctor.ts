/** `colony doctor`: every engine's binary and version, credentials (named, never printed) and endpoint. */
import type { Command } from 'commander';
import { runDoctor, type EngineCheck } from '../engines/doctor.js';
import { loadConfig } from '../runner/home.js';
import { table } from './output.js';

export function formatDoctor(checks: EngineCheck[]): string {
  const rows = [['ENGINE', 'BINARY', 'CREDENTIALS', 'ENDPOINT', '']];
  for (const c of checks) {
    const bin = c.binary === null ? '-' : c.binary.problem ? `MISSING (${c.binary.problem})` : `${c.binary.version ?? '?'} (${c.binary.path})`;
    const cred = c.credentials.present ? `present (${c.credentials.source})` : `MISSING (${c.credentials.problem})`;
    const ep = c.endpoint.url === null ? '-' : c.endpoint.reachable ? `reachable ${c.endpoint.url}` : `UNREACHABLE ${c.endpoint.problem ?? c.endpoint.url}`;
    rows.push([c.engine, bin, cred, ep, c.ok ? 'ok' : 'NOT READY']);
  }
  return table(rows);
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check every engine: binary found and its version, credentials present (never printed), endpoint reachable')
    .option('--config <file>', 'config file (default ./colony.config.json)')
    .option('--json', 'print JSON')
    .option('--timeout-ms <n>', 'per check', '10000')
    .addHelpText(
      'after',
      '\nExit codes: 0 every configured engine is ready, 1 some engine is not.\nHow to point each engine at a provider or gateway: see "Agent engines" in the README.',
    )
    .action(async (o: { config?: string; json?: boolean; timeoutMs: string }) => {
      const { config } = loadConfig(o.config);
      const checks = await runDoctor(config, { timeoutMs: Math.max(100, Number(o.timeoutMs) || 10_000) });
      process.stdout.write(`${o.json ? JSON.stringify(checks, null, 2) : formatDoctor(checks)}\n`);
      process.exitCode = checks.every((c) => c.ok) ? 0 : 1;
    });
}
