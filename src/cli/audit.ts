/** `colony audit verify`: walk the hash chain and name the first broken link. */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { ColonyError } from '../core/errors.js';
import { loadConfig, resolveHome } from '../runner/home.js';
import { openStore } from '../store/open.js';
import { Store } from '../store/store.js';
import { checkAnchors } from '../core/audit-anchor.js';
import { listCheckpoints, logFacts } from '../store/checkpoints.js';
import { readCheckpointFile } from '../server/audit-anchor.js';
import { fingerprint, loadKeyPair } from '../remote/signing.js';

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the append-only, hash-chained audit log');
  audit
    .command('verify')
    .description('verify every link of the audit hash chain and the host-signed checkpoints (deleted records, a cut tail, re-hashing); exit 1 on any finding')
    .option('--home <dir>', 'colony home (default $COLONY_HOME or ./.colony)')
    .option('--config <file>', 'config file (default ./colony.config.json); its store.url selects a PostgreSQL database')
    .option('--store <url>', 'verify this PostgreSQL database (postgres://…) instead of the SQLite file of the home')
    .action(async (opts: { home?: string; config?: string; store?: string }) => {
      const paths = resolveHome(opts.home);
      const url = opts.store ?? loadConfig(opts.config).config.store.url;
      if (url === null && !existsSync(paths.db)) throw new ColonyError('E_NOT_FOUND', `no database at ${paths.db}`);
      const key = await loadKeyPair(paths.keysDir, 'host');
      const store = url === null ? Store.open(paths.db) : openStore(url);
      try {
        const r = store.verifyAudit();
        if (r.ok) {
          // Several hosts on one PostgreSQL each sign checkpoints with their own key: this home's key checks its host's.
          const all = listCheckpoints(store);
          const mine = key ? fingerprint(key.publicKey) : null;
          const inDb = url === null ? all : all.filter((c) => c.key_fingerprint === mine);
          if (inDb.length < all.length) process.stderr.write(`note: ${all.length - inDb.length} checkpoint(s) signed by other hosts' keys not checked here\n`);
          const findings = checkAnchors(logFacts(store), inDb, readCheckpointFile(paths.home), key?.publicKey ?? null);
          if (findings.length > 0) {
            process.stdout.write(
              `tampered: the hash chain links, but ${findings.length} finding(s):\n${findings.map((f) => `  ${f.kind}: ${f.message}`).join('\n')}\n`,
            );
            process.exitCode = 1;
            return;
          }
          if (inDb.length === 0) process.stderr.write('note: no signed checkpoint yet (colony serve writes them): a deleted tail could not be detected\n');
          const anchored = inDb.length > 0 ? `, anchored by ${inDb.length} signed checkpoint(s), the latest at id ${inDb[inDb.length - 1]?.head_id}` : '';
          process.stdout.write(`ok ${r.count} records${anchored}\n`);
        } else {
          process.stdout.write(`broken at record ${r.broken_id}: ${r.reason} (${r.count} records before it are intact)\n`);
          process.exitCode = 1;
        }
      } finally {
        store.close();
      }
    });
}
