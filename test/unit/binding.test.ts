/** Worker-side binding and own-clock expiry checks (core/replay.ts), and the pairing MACs (remote/pairing-mac.ts). */
import { describe, expect, it } from 'vitest';
import { MAX_HOST_CLOCK_OFFSET_MS } from '../../src/core/protocol.js';
import { checkBinding, checkLocalExpiry } from '../../src/core/replay.js';
import { hostProof, normalisePairingCode, pairingSecret, sameProof, workerProof } from '../../src/remote/pairing-mac.js';

describe('checkBinding', () => {
  const mine = { workerId: 'w-a', session: 'session-nonce-0123456789' };
  it('accepts an order for this worker on this connection', () => {
    expect(checkBinding({ worker_id: 'w-a', session: mine.session }, mine)).toEqual({ ok: true });
  });
  it("refuses another worker's order and another connection's", () => {
    expect(checkBinding({ worker_id: 'w-b', session: mine.session }, mine)).toMatchObject({ ok: false, code: 'not_yours' });
    expect(checkBinding({ worker_id: 'w-a', session: 'an-older-session-nonce' }, mine)).toMatchObject({ ok: false, code: 'replayed' });
  });
  it('refuses everything before the connection has a session', () => {
    expect(checkBinding({ worker_id: 'w-a', session: '' }, { workerId: 'w-a', session: '' })).toMatchObject({ ok: false, code: 'replayed' });
  });
});

describe('checkLocalExpiry', () => {
  const now = 1_800_000_000_000;
  const window = 120_000;
  it('accepts an expiry near this clock, either side within the tolerance', () => {
    expect(checkLocalExpiry(now + 60_000, now, window).ok).toBe(true);
    expect(checkLocalExpiry(now - MAX_HOST_CLOCK_OFFSET_MS + 1, now, window).ok).toBe(true);
    expect(checkLocalExpiry(now + window + MAX_HOST_CLOCK_OFFSET_MS, now, window).ok).toBe(true);
  });
  it('refuses one that expired beyond the tolerance or lives too far ahead, whatever the host clock says', () => {
    expect(checkLocalExpiry(now - MAX_HOST_CLOCK_OFFSET_MS, now, window)).toMatchObject({ ok: false, code: 'expired' });
    expect(checkLocalExpiry(now + window + MAX_HOST_CLOCK_OFFSET_MS + 1, now, window)).toMatchObject({ ok: false, code: 'expired' });
  });
});

describe('pairing MACs', () => {
  const t = { host_public_key: 'H'.repeat(43), cert_fingerprint: 'AB:CD:' + '00:'.repeat(29) + 'EF', worker_public_key: 'W'.repeat(43) };
  const secret = pairingSecret('ABCD-EFGH');
  it('the same code as typed differently gives the same key; another code another proof', () => {
    expect(normalisePairingCode('abcd efgh')).toBe('ABCDEFGH');
    expect(pairingSecret('abcdefgh')).toBe(secret);
    expect(sameProof(workerProof(pairingSecret('ABCD-EFGJ'), t), workerProof(secret, t))).toBe(false);
  });
  it('the proof covers each key and the certificate (format-insensitive), and the two directions differ', () => {
    const p = workerProof(secret, t);
    expect(sameProof(workerProof(secret, { ...t, cert_fingerprint: t.cert_fingerprint.toLowerCase().replace(/:/g, '') }), p)).toBe(true);
    for (const other of [
      { ...t, host_public_key: 'X'.repeat(43) },
      { ...t, worker_public_key: 'X'.repeat(43) },
      { ...t, cert_fingerprint: null },
    ]) {
      expect(sameProof(workerProof(secret, other), p)).toBe(false);
    }
    const answer = hostProof(secret, t, { worker_id: 'w-1', owner: 'session:a' });
    expect(answer).not.toBe(p);
    expect(sameProof(hostProof(secret, t, { worker_id: 'w-2', owner: 'session:a' }), answer)).toBe(false);
  });
});
