/**
 * The audit hash is SHA-256 over `prev_hash \n canonical JSON of the record`:
 * a database written by any earlier version must keep verifying, so the bytes
 * are pinned here (a fixed record and its digest from the definition),
 * whichever hashing call computes them.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { auditHash, GENESIS_HASH, type AuditEntry } from '../../src/core/audit-chain.js';

const entry: AuditEntry = {
  at: 1733350000000,
  actor: 'system',
  origin: 'local',
  action: 'safety.gate',
  target: 'g-1:t',
  detail: { verdict: 'allow', checks: [{ check: 'intent', verdict: 'allow', rule: null, reason: 'é ✓' }] },
};

describe('auditHash', () => {
  it('is SHA-256 of the previous hash, a newline and the canonical record', () => {
    const body =
      '{"action":"safety.gate","actor":"system","at":1733350000000,"detail":{"checks":[{"check":"intent","reason":"é ✓","rule":null,"verdict":"allow"}],"verdict":"allow"},"id":3,"origin":"local","target":"g-1:t"}';
    const want = createHash('sha256').update(`${GENESIS_HASH}\n${body}`, 'utf8').digest('hex');
    expect(auditHash(3, entry, GENESIS_HASH)).toBe(want);
  });

  it('changes with any field, the id or the previous hash (a tampered record does not verify)', () => {
    const base = auditHash(3, entry, GENESIS_HASH);
    expect(auditHash(4, entry, GENESIS_HASH)).not.toBe(base);
    expect(auditHash(3, { ...entry, target: 'g-1:u' }, GENESIS_HASH)).not.toBe(base);
    expect(auditHash(3, entry, 'f'.repeat(64))).not.toBe(base);
  });
});
