/**
 * Issue 14, audit anchoring, through the real CLI: `colony serve` writes
 * Ed25519-signed checkpoints (record count, head id, head hash) at start,
 * periodically and at shutdown; `colony audit verify` then catches what the
 * hash chain alone cannot: a record deleted and the rest re-hashed (ids kept,
 * or renumbered to hide the gap), a deleted tail, a count that no longer
 * matches, a forged checkpoint — naming each, exit 1. The attacker edits the
 * SQLite file directly and recomputes every hash, as someone with the file would.
 */
import Database from 'better-sqlite3';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { auditHash, GENESIS_HASH, type AuditEntry } from '../../src/core/audit-chain.js';
import { assertBuilt, runCli, startCli } from '../helpers/cli.js';
import { makeTempDir, processGone, waitFor } from '../helpers/proc.js';

vi.setConfig({ testTimeout: 120_000 });

const tmp = makeTempDir('colony-anchor-');
let pristine: string; // a home after a served session, never modified
afterAll(() => tmp.cleanup());

interface Row extends AuditEntry {
  id: number;
}

/** Rewrites the audit table as `rows` (renumbered or not), recomputing every hash: a valid chain. */
function rewrite(db: string, edit: (rows: Row[]) => Row[]): void {
  const raw = new Database(db);
  try {
    const rows = (raw.prepare('SELECT * FROM audit ORDER BY id').all() as (Row & { detail: string })[]).map((r) => ({
      ...r,
      detail: JSON.parse(r.detail) as unknown,
    }));
    const next = edit(rows);
    raw.transaction(() => {
      // The records are the log rows with an audit_id (`audit` is a read-only view of them).
      raw.prepare('DELETE FROM log WHERE audit_id IS NOT NULL').run();
      let prev = GENESIS_HASH;
      const ins = raw.prepare('INSERT INTO log (audit_id, at, actor, origin, action, target, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
      for (const r of next) {
        const hash = auditHash(r.id, r, prev);
        ins.run(r.id, r.at, r.actor, r.origin, r.action, r.target, JSON.stringify(r.detail), prev, hash);
        prev = hash;
      }
    })();
  } finally {
    raw.close();
  }
}

function copyHome(name: string): { home: string; db: string } {
  const home = join(tmp.dir, name);
  cpSync(pristine, home, { recursive: true });
  return { home, db: join(home, 'colony.db') };
}

const verify = (home: string) => runCli(['audit', 'verify', '--home', home], { cwd: tmp.dir });

beforeAll(async () => {
  assertBuilt();
  pristine = join(tmp.dir, 'pristine');
  const config = join(tmp.dir, 'colony.config.json');
  writeFileSync(config, JSON.stringify({ retention: { checkpoint_interval_s: 0.3 } })); // several checkpoints along the session
  const host = startCli(['serve', '--home', pristine, '--config', config, '--admin-port', '0', '--quiet'], { cwd: tmp.dir, timeoutMs: 60_000 });
  await waitFor(() => existsSync(join(pristine, 'host.json')), 'host.json', 30_000);
  const { admin_port: port } = JSON.parse(readFileSync(join(pristine, 'host.json'), 'utf8')) as { admin_port: number };
  const token = readFileSync(join(pristine, 'admin.token'), 'utf8').trim();
  const api = (path: string, body: unknown) =>
    fetch(`http://127.0.0.1:${port}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const pause = () => new Promise((r) => setTimeout(r, 700));
  expect((await api('/admin/pause', {})).status).toBe(200);
  await pause();
  expect((await api('/admin/resume', {})).status).toBe(200);
  await pause();
  expect(
    (
      await api('/admin/execute', {
        graph: {
          name: 'anchored',
          tasks: [
            { id: 'a', engine: 'exec', prompt: 'echo one' },
            { id: 'b', engine: 'exec', prompt: 'echo two', depends_on: ['a'] },
          ],
        },
      })
    ).status,
  ).toBe(201);
  await new Promise((r) => setTimeout(r, 1500));
  process.kill(host.child.pid as number, 'SIGTERM'); // the shutdown checkpoint covers everything up to here
  const out = await host.result;
  expect(out.code, out.stderr).toBe(0);
  await waitFor(() => processGone(host.child.pid as number), 'host exit');
});

describe('colony audit verify with signed checkpoints', () => {
  it('says ok on the untouched log, anchored by the checkpoints serve wrote (periodically and at shutdown)', async () => {
    const { home } = copyHome('ok');
    const r = await verify(home);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ok (\d+) records, anchored by ([3-9]|\d\d+) signed checkpoint\(s\), the latest at id \1\n$/);
    expect(readFileSync(join(home, 'audit-checkpoints.jsonl'), 'utf8').trim().split('\n').length).toBeGreaterThanOrEqual(3);
  });

  it('finds a record deleted from the middle with the rest re-hashed (ids kept)', async () => {
    const { home, db } = copyHome('middle');
    rewrite(db, (rows) => rows.filter((r) => r.id !== 3));
    const r = await verify(home);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^tampered: the hash chain links/);
    expect(r.stdout).toContain('missing_records: records id 3 is missing');
    expect(r.stdout).toMatch(/count_mismatch: count mismatch: the signed checkpoint of .* counts \d+ records up to id \d+, the log has \d+/);
  });

  it('finds a re-chained middle whose ids were renumbered to hide the gap', async () => {
    const { home, db } = copyHome('renumbered');
    rewrite(db, (rows) => rows.filter((r) => r.id !== 2).map((r, i) => ({ ...r, id: i + 1 })));
    const r = await verify(home);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain('missing_records');
    expect(r.stdout).toMatch(/re_chained: re-chained: record \d+ has another hash than in the signed checkpoint/);
    expect(r.stdout).toContain('deleted_tail'); // the newest checkpoint's head id is past the new end
  });

  it('finds a deleted tail (the chain itself still links)', async () => {
    const { home, db } = copyHome('tail');
    rewrite(db, (rows) => rows.slice(0, rows.length - 3));
    const r = await verify(home);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/deleted_tail: deleted tail: the signed checkpoint of .* covers (\d+) records up to id \1, but the log ends at id (\d+)/);
  });

  it('finds an edited record re-hashed so the chain links (content changed, count kept)', async () => {
    const { home, db } = copyHome('edited');
    rewrite(db, (rows) => rows.map((r) => (r.id === 2 ? { ...r, actor: 'nobody' } : r)));
    const r = await verify(home);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('re_chained');
    expect(r.stdout).not.toContain('count_mismatch');
  });

  it('refuses checkpoints not signed by the host key, and notices checkpoints deleted from the database', async () => {
    const { home, db } = copyHome('forged');
    // The attacker re-hashes after a deletion, then rewrites the checkpoints to match — without the key.
    rewrite(db, (rows) => rows.filter((r) => r.id !== 4).map((r, i) => ({ ...r, id: i + 1 })));
    const raw = new Database(db);
    const head = raw.prepare('SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1').get() as { id: number; hash: string };
    raw.prepare('DELETE FROM audit_checkpoints').run();
    raw
      .prepare('INSERT INTO audit_checkpoints (at, record_count, head_id, head_hash, key_fingerprint, signature) VALUES (?, ?, ?, ?, ?, ?)')
      .run(Date.now(), head.id, head.id, head.hash, 'x', Buffer.alloc(64, 7).toString('base64url'));
    raw.close();
    const r = await verify(home);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('bad_signature: the checkpoint of');
    expect(r.stdout).toContain('checkpoints_deleted');
  });
});
