/** `colony doctor`: every engine's binary and version, credentials (named, never printed) and endpoint. */
import type { Command } from 'commander';
import { runDoctor, type EngineCheck } from '../engines/doctor.js';
import { loadConfig } from '../runner/home.js';
import { checkPgStore, type StoreCheck } from '../store/pg/doctor.js';
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

export function formatStoreCheck(c: StoreCheck): string {
  const schema = c.schema_version === null ? '-' : `${c.schema_version} (this colony: ${c.expected_version})`;
  const rows = [['STORE', 'DATABASE', 'SCHEMA', '']];
  rows.push(['postgresql', c.reachable ? `reachable ${c.url}` : `UNREACHABLE ${c.url}`, schema, c.ok ? (c.problem ?? 'ok') : `NOT READY: ${c.problem ?? ''}`]);
  if (!c.hosts?.length) return table(rows);
  // Several hosts on the database: each one's lease (on the database's clock) and the graphs it owns.
  const hosts = [['HOST', 'MACHINE', 'PID', 'LEASE', 'GRAPHS']];
  for (const h of c.hosts) {
    const secs = Math.round(Math.abs(h.lease_left_ms) / 100) / 10;
    const lease = h.lease === 'live' ? `live (${secs} s left)` : h.lease === 'expired' ? `EXPIRED ${secs} s ago` : `claimed by ${h.claimed_by ?? '?'}`;
    hosts.push([h.id, h.hostname, String(h.pid), lease, String(h.graphs)]);
  }
  return `${table(rows)}\n\n${table(hosts)}`;
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
      const timeoutMs = Math.max(100, Number(o.timeoutMs) || 10_000);
      const checks = await runDoctor(config, { timeoutMs });
      // The store is checked only when it is PostgreSQL (store.url); then --json prints { engines, store }.
      const store = config.store.url === null ? null : checkPgStore(config.store.url, timeoutMs);
      const json = store === null ? checks : { engines: checks, store };
      const text = store === null ? formatDoctor(checks) : `${formatDoctor(checks)}\n\n${formatStoreCheck(store)}`;
      process.stdout.write(`${o.json ? JSON.stringify(json, null, 2) : text}\n`);
      process.exitCode = checks.every((c) => c.ok) && (store?.ok ?? true) ? 0 : 1;
    });
}
