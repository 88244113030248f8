/** The small deterministic pieces of remote execution: pairing codes, workspace mapping, the host's lease book. */
import { describe, expect, it } from 'vitest';
import { grantLease, activate } from '../../src/core/lease.js';
import { remoteWorkspace } from '../../src/remote/host/assign.js';
import { LeaseBook, type LeaseRec } from '../../src/remote/host/lease-book.js';
import { hashPairingCode, newPairingCode, normalisePairingCode } from '../../src/remote/pairing.js';

const T0 = 1_700_000_000_000;

function rec(task: string, worker: string, attempt = 1, nonce = 'nonce-aaaaaaaaaaaaaaaa'): LeaseRec {
  return {
    lease: grantLease({ task_id: task, attempt, worker_id: worker }, T0, 10_000, T0 + 5000),
    nonce,
    budget: 1,
    title: task,
    owner: 'session:u',
    graph: 'g1',
    maxAttempts: 1,
    taskEngine: 'exec',
    assignedAt: T0,
    progressSeq: null,
    outputBytes: 0,
    truncated: false,
    engine: null,
    model: null,
    cost: 0,
    tokens: { input: 0, output: 0, cache_read: 0, cache_write: 0 },
  };
}

describe('pairing codes', () => {
  it('are 8 Crockford base32 characters shown as XXXX-XXXX', () => {
    expect(newPairingCode(Buffer.from([0, 0, 0, 0, 0]))).toBe('0000-0000');
    expect(newPairingCode(Buffer.from([255, 255, 255, 255, 255]))).toBe('ZZZZ-ZZZZ');
    for (let i = 0; i < 50; i++) expect(newPairingCode()).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
  });

  it('match however they are typed (case, dash, spaces, O for 0, I/L for 1), and only then', () => {
    expect(normalisePairingCode(' ab1o-xyz9 ')).toBe('AB10XYZ9');
    expect(hashPairingCode('AB10-XYZ9')).toBe(hashPairingCode('ab1o xyz9'));
    expect(hashPairingCode('ABL0-XYZ9')).toBe(hashPairingCode('AB10-XYZ9'));
    expect(hashPairingCode('AB10-XYZ8')).not.toBe(hashPairingCode('AB10-XYZ9'));
  });
});

describe('remoteWorkspace', () => {
  it("maps the graph's default workspace to the worker root and sub-directories to relative paths", () => {
    expect(remoteWorkspace('/srv/host', '/srv/host')).toBe('.');
    expect(remoteWorkspace('/srv/host/app/web', '/srv/host')).toBe('app/web');
    expect(remoteWorkspace('/srv/hostile', '/srv/host')).toBe('/srv/hostile'); // not inside: passed as written, the worker decides
    expect(remoteWorkspace('/home/ada/proj', '/srv/host')).toBe('/home/ada/proj');
  });
});

describe('LeaseBook fencing', () => {
  it('accepts only the holder, for the current attempt and assignment, while the lease lives', () => {
    const book = new LeaseBook();
    const r = rec('t1', 'w1');
    book.add(r);
    const msg = { task_id: 't1', attempt: 1, nonce: r.nonce };
    expect(book.fence('w1', msg, T0 + 1)).toMatchObject({ ok: true });
    expect(book.fence('w2', msg, T0 + 1)).toMatchObject({ ok: false, code: 'not_yours' });
    expect(book.fence('w1', { ...msg, attempt: 2 }, T0 + 1)).toMatchObject({ ok: false, code: 'stale_attempt' });
    expect(book.fence('w1', { ...msg, nonce: 'other-nonce-bbbbbbbbb' }, T0 + 1)).toMatchObject({ ok: false, code: 'stale_attempt' });
    expect(book.fence('w1', { ...msg, task_id: 'nope' }, T0 + 1)).toMatchObject({ ok: false, code: 'stale_attempt' });
    const lapsed = book.fence('w1', msg, T0 + 5000);
    expect(lapsed).toMatchObject({ ok: false, code: 'expired' });
    expect(lapsed.lapsed).toBe(r);
  });

  it('drops a record once, and never a newer record for the same task through an old handle', () => {
    const book = new LeaseBook();
    const old = rec('t1', 'w1', 1);
    book.add(old);
    expect(book.drop(old)).toBe(true);
    expect(book.drop(old)).toBe(false);
    const fresh = rec('t1', 'w2', 2);
    book.add(fresh);
    expect(book.drop(old)).toBe(false);
    expect(book.get('t1')).toBe(fresh);
    expect(book.countOf('w1')).toBe(0);
    expect(book.countOf('w2')).toBe(1);
  });

  it('renews what a heartbeat reports and names what it runs without a lease', () => {
    const book = new LeaseBook();
    const r = rec('t1', 'w1');
    const a = activate(r.lease, T0 + 10);
    if (a.ok) r.lease = a.lease;
    book.add(r);
    const unknown = book.heartbeat(
      'w1',
      [
        { task_id: 't1', attempt: 1 },
        { task_id: 'ghost', attempt: 3 },
      ],
      T0 + 9000,
    );
    expect(unknown).toEqual([{ task_id: 'ghost', attempt: 3 }]);
    expect(book.get('t1')?.lease.expires_at).toBe(T0 + 9000 + 10_000);
    expect(book.lapsed(T0 + 18_999)).toEqual([]);
    expect(book.lapsed(T0 + 19_000)).toEqual([r]);
  });
});
