/**
 * `colony run --resume` on a PostgreSQL database shared by several hosts: the
 * unfinished run of the file belongs to another host. While that host is live
 * the resume is refused (E_FOREIGN_TASK, exit 2, naming the owner) and runs
 * nothing; once it stopped (its lease ended), the run takes the graph over by
 * the normal claim (audited host.claimed) and runs it to the end.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostIdFile } from '../../src/runner/host-id.js';
import { readGraphFile } from '../../src/runner/graph-file.js';
import { openHost } from '../../src/runner/host.js';
import { dbOf } from '../../src/store/internal.js';
import { makeHome, testConfig } from '../helpers/admin-host.js';
import { assertBuilt, runCli } from '../helpers/cli.js';
import { pgMissing, pgQuery, startPg, type PgCluster } from '../helpers/pg.js';

const missing = pgMissing();
let pgc: PgCluster | null = null;
let url = '';

beforeAll(async () => {
  if (missing) return;
  pgc = await startPg();
  url = await pgc.createDatabase('run_resume');
}, 120_000);

afterAll(() => pgc?.destroy());

describe.skipIf(missing !== null)(`colony run --resume with several hosts${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('refuses a graph of a live host naming it, and takes over the graph of a stopped one by the claim', async () => {
    assertBuilt();
    const owner = makeHome('colony-resume-owner-');
    const runner = makeHome('colony-resume-run-');
    const store = { url, lease_ms: 1_000, heartbeat_ms: 200 };
    const ws = runner.workspace;
    writeFileSync(join(ws, 'colony.config.json'), JSON.stringify({ store, runner: { worktrees: 'off', kill_grace_ms: 500 }, safety: testConfig().safety }));
    const file = join(ws, 'graph.json');
    writeFileSync(file, JSON.stringify({ name: 'resumed', tasks: [1, 2, 3].map((i) => ({ id: `t${i}`, engine: 'exec', prompt: `echo resumed-${i}` })) }));

    // The owner submits the file's graph and is interrupted before running it (its pool never starts).
    const host = openHost({ paths: owner.paths, config: testConfig({ store, runner: { worktrees: 'off' } }), hostId: 'resume-owner' });
    let open = true;
    try {
      const sub = host.service.submitGraph(
        readGraphFile(file),
        { submittedBy: 'admin', who: { actor: 'admin', origin: 'local' }, workspace: dirname(file), defaultTarget: 'host', holdHostTasks: false, source: file },
        file,
      );
      const run = (): ReturnType<typeof runCli> => runCli(['run', file, '--resume', '--home', runner.paths.home], { cwd: ws, timeoutMs: 60_000 });

      const refused = await run();
      expect(refused.code, refused.stdout + refused.stderr).toBe(2);
      expect(refused.stderr).toContain('which is running');
      expect(refused.stderr).toContain('resume-owner');
      const db = dbOf(host.store);
      expect(db.prepare("SELECT COUNT(*) AS n FROM attempts WHERE task_id LIKE ? || ':%'").get(sub.graph_id)).toEqual({ n: 0 });
      expect(db.prepare('SELECT owner_host FROM graphs WHERE id = ?').pluck().get(sub.graph_id)).toBe('resume-owner');

      await host.close(); // a clean stop ends its lease at once
      open = false;
      const resumed = await run();
      expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
      expect(resumed.stdout).toContain('taking it over');
      expect(resumed.stdout).toContain(`resuming ${sub.graph_id}`);
      expect(resumed.stdout).toContain(`graph ${sub.graph_id}: all 3 tasks succeeded`);
      const me = readFileSync(hostIdFile(runner.paths.home), 'utf8').trim();
      expect(await pgQuery(url, 'SELECT owner_host FROM graphs WHERE id = $1', [sub.graph_id])).toEqual([{ owner_host: me }]);
      const claims = await pgQuery<{ target: string; detail: string }>(
        url,
        "SELECT target, detail FROM log WHERE action = 'host.claimed' AND target = 'resume-owner'",
      ); // (the owner may have claimed the refused run's ended lease too)
      expect(claims.map((r) => [r.target, (JSON.parse(r.detail) as { by: string }).by])).toEqual([['resume-owner', me]]);
    } finally {
      if (open) await host.close();
      owner.cleanup();
      runner.cleanup();
    }
  }, 120_000);
});
