/**
 * A flood of wrong pairing codes (issue 14's leftover): the attempts are
 * limited per address (IPv6 by /64) and their audit records coalesced like
 * the other unauthenticated refusals, so the hash-chained log grows by a
 * bounded number of rows while still reporting how many attempts there were.
 * Next to it: a right code from elsewhere still pairs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ColonyError } from '../../src/core/errors.js';
import { generateKeyPair } from '../../src/remote/signing.js';
import { enrolBody, newSession, pairingCode, startRemoteHost, audits, type RemoteTestHost } from '../helpers/remote-host.js';
import type { EnrollRequest } from '../../src/remote/pairing.js';

let h: RemoteTestHost;
afterEach(async () => {
  await h?.close();
});

function attempt(body: EnrollRequest, ip: string): string {
  try {
    h.remote.pairing.enroll(body, ip);
    return 'paired';
  } catch (e) {
    return e instanceof ColonyError ? e.code : String(e);
  }
}

interface Refused {
  code: string;
  repeats_not_recorded?: number;
}
const refusedRows = () => audits(h, 'worker.enroll_refused').map((a) => a.detail as Refused);
/** Attempts the rows account for: each row is one refusal plus the repeats it reports. */
const accounted = (rows: Refused[]) => rows.reduce((n, r) => n + 1 + (r.repeats_not_recorded ?? 0), 0);

describe('a flood of wrong pairing codes', () => {
  it('writes a bounded number of audit rows that still count every attempt, and limits the address', async () => {
    h = await startRemoteHost();
    const wrong = enrolBody(h, 'AAAA-AAAA', generateKeyPair()) as EnrollRequest;
    const results = Array.from({ length: 300 }, () => attempt(wrong, '10.9.9.9'));
    expect(results.slice(0, 20).every((c) => c === 'E_UNAUTHORIZED')).toBe(true);
    expect(results.slice(20).every((c) => c === 'E_RATE_LIMITED')).toBe(true);
    const during = refusedRows();
    expect(during.length).toBeLessThanOrEqual(2); // one per source and second, not one per attempt
    expect(during.map((r) => r.code)).toContain('E_UNAUTHORIZED');

    // The next refusal after the window carries the count of those not written.
    await new Promise((r) => setTimeout(r, 1100));
    expect(attempt(wrong, '10.9.9.9')).toBe('E_RATE_LIMITED');
    const after = refusedRows();
    expect(after).toHaveLength(during.length + 1);
    expect(accounted(after)).toBe(301);
    expect(after.find((r) => r.code === 'E_RATE_LIMITED')).toMatchObject({ repeats_not_recorded: expect.any(Number) });
  });

  it('limits an IPv6 /64 as one source, while a right code from another address still pairs', async () => {
    h = await startRemoteHost();
    const wrong = enrolBody(h, 'AAAA-AAAA', generateKeyPair()) as EnrollRequest;
    const results = Array.from({ length: 40 }, (_, i) => attempt(wrong, `2001:db8:1:2::${(i + 1).toString(16)}`));
    expect(results.filter((c) => c === 'E_UNAUTHORIZED')).toHaveLength(20);
    expect(results.slice(20).every((c) => c === 'E_RATE_LIMITED')).toBe(true);
    expect(attempt(wrong, '2001:db8:1:3::1')).toBe('E_UNAUTHORIZED'); // another /64 is another source
    const ada = await newSession(h, 'Ada');
    const right = enrolBody(h, await pairingCode(h, ada), generateKeyPair()) as EnrollRequest;
    expect(attempt(right, '10.0.0.8')).toBe('paired');
  });
});
