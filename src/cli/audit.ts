/** `colony audit verify`: walk the hash chain and name the first broken link. */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { ColonyError } from '../core/errors.js';
import { resolveHome } from '../runner/home.js';
import { Store } from '../store/store.js';

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the append-only, hash-chained audit log');
  audit
    .command('verify')
    .description('verify every link of the audit hash chain; exit 1 at the first broken one')
    .option('--home <dir>', 'colony home (default $COLONY_HOME or ./.colony)')
    .action((opts: { home?: string }) => {
      const paths = resolveHome(opts.home);
      if (!existsSync(paths.db)) throw new ColonyError('E_NOT_FOUND', `no database at ${paths.db}`);
      const store = Store.open(paths.db);
      try {
        const r = store.verifyAudit();
        if (r.ok) {
          process.stdout.write(`ok ${r.count} records\n`);
        } else {
          process.stdout.write(`broken at record ${r.broken_id}: ${r.reason} (${r.count} records before it are intact)\n`);
          process.exitCode = 1;
        }
      } finally {
        store.close();
      }
    });
}
