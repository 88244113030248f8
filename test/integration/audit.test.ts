/**
 * `colony audit verify` through the real CLI: an intact chain prints
 * `ok N records` and exits 0; a row edited behind colony's back (raw SQL, the
 * attacker's view) is found and named, exit 1. The audit records are the
 * rows of the `log` table with an audit_id (`audit` is a read-only view).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { auditHash } from '../../src/core/audit-chain.js';
import { Scheduler } from '../../src/core/scheduler.js';
import { Store, SYSTEM } from '../../src/store/store.js';
import { assertBuilt, runCli } from '../helpers/cli.js';
import { makeHome } from '../helpers/admin-host.js';
import { makeTempDir } from '../helpers/proc.js';
import { submit, task } from './store-conformance.js';

vi.setConfig({ testTimeout: 120_000 }); // each test spawns the CLI; only a hang should hit this on a busy 2-core box
const RECORDS = 8;

/** A home (the shared makeHome) whose store holds exactly RECORDS audit records. */
function auditHome(): { home: string; db: string; cleanup: () => void } {
  const tmp = makeHome('colony-audit-');
  const db = tmp.paths.db;
  const store = Store.open(db);
  const sched = new Scheduler();
  submit(store, sched, 'g', [task('g:a'), task('g:b'), task('g:c', ['g:a', 'g:b'])]); // graph.submitted + 2 → ready
  store.applyTransitions(sched.claim('host', 2), SYSTEM); // 2 → assigned
  store.appendAudit({ actor: 'admin', origin: 'local', action: 'killswitch.halt', target: null, detail: { reason: 'test' } });
  store.appendAudit({ actor: 'admin', origin: 'local', action: 'killswitch.resume', target: null, detail: { reason: 'test' } });
  store.appendAudit({ actor: 'session:abc', origin: '10.0.0.7', action: 'lan.refused', target: null, detail: { why: 'rate limited' } });
  const check = store.verifyAudit();
  store.close();
  if (!check.ok || check.count !== RECORDS) throw new Error(`fixture has ${check.count} records, expected ${RECORDS}`);
  return { home: tmp.paths.home, db, cleanup: tmp.cleanup };
}

function tamper(db: string, fn: (raw: Database.Database) => void): void {
  const raw = new Database(db);
  try {
    fn(raw);
  } finally {
    raw.close();
  }
}

describe('colony audit verify', () => {
  beforeAll(() => assertBuilt());
  let cleanup: (() => void) | undefined;
  afterEach(() => cleanup?.());

  it('prints "ok N records" and exits 0 on an intact chain', async () => {
    const h = auditHome();
    cleanup = h.cleanup;
    const r = await runCli(['audit', 'verify', '--home', h.home], { cwd: h.home });
    expect(r.stdout.trim()).toBe(`ok ${RECORDS} records`);
    expect(r.code).toBe(0);
  });

  it('names the edited record when its detail was changed, exit 1', async () => {
    const h = auditHome();
    cleanup = h.cleanup;
    tamper(h.db, (raw) =>
      raw.prepare('UPDATE log SET detail = ? WHERE audit_id = 4').run(JSON.stringify({ from: 'ready', to: 'succeeded', reason: 'forged' })),
    );
    const r = await runCli(['audit', 'verify', '--home', h.home], { cwd: h.home });
    expect(r.stdout).toMatch(/^broken at record 4: record content does not match its hash/);
    expect(r.stdout).toContain('3 records before it are intact');
    expect(r.code).toBe(1);
  });

  it('names the record after a deleted one, exit 1', async () => {
    const h = auditHome();
    cleanup = h.cleanup;
    tamper(h.db, (raw) => raw.prepare('DELETE FROM log WHERE audit_id = 5').run());
    const r = await runCli(['audit', 'verify', '--home', h.home], { cwd: h.home });
    expect(r.stdout).toMatch(/^broken at record 6: prev_hash does not match/);
    expect(r.code).toBe(1);
  });

  it('names the record whose prev_hash was changed, exit 1', async () => {
    const h = auditHome();
    cleanup = h.cleanup;
    tamper(h.db, (raw) => raw.prepare('UPDATE log SET prev_hash = ? WHERE audit_id = 3').run('f'.repeat(64)));
    const r = await runCli(['audit', 'verify', '--home', h.home], { cwd: h.home });
    expect(r.stdout).toMatch(/^broken at record 3: prev_hash does not match/);
    expect(r.code).toBe(1);
  });

  it('catches an edit whose own hash was recomputed, at the next link', async () => {
    const h = auditHome();
    cleanup = h.cleanup;
    tamper(h.db, (raw) => {
      const row = raw.prepare('SELECT * FROM audit WHERE id = 7').get() as {
        id: number;
        at: number;
        actor: string;
        origin: string;
        action: string;
        target: string | null;
        prev_hash: string;
      };
      const detail = { reason: 'nothing to see' };
      const hash = auditHash(row.id, { ...row, detail }, row.prev_hash);
      raw.prepare('UPDATE log SET detail = ?, hash = ? WHERE audit_id = 7').run(JSON.stringify(detail), hash);
    });
    const r = await runCli(['audit', 'verify', '--home', h.home], { cwd: h.home });
    expect(r.stdout).toMatch(/^broken at record 8: prev_hash does not match/);
    expect(r.code).toBe(1);
  });

  it('refuses a home without a database, exit non-zero', async () => {
    const tmp = makeTempDir('colony-audit-empty-');
    cleanup = tmp.cleanup;
    const r = await runCli(['audit', 'verify', '--home', join(tmp.dir, 'nothing')], { cwd: tmp.dir });
    expect(r.stderr).toMatch(/no database at .*colony\.db/);
    expect(r.code).not.toBe(0);
  });
});
