import { describe, expect, it } from 'vitest';
import { hostnameOf } from '../../src/server/user/host-allow.js';
import { accessCodeBits } from '../../src/core/access-code.js';

describe('hostnameOf (the user app Host allow-list)', () => {
  it('takes the name from name:port, [v6]:port and a trailing dot, lower case', () => {
    expect(hostnameOf('Colony.LAN:8081')).toBe('colony.lan');
    expect(hostnameOf('colony.lan.:8081')).toBe('colony.lan');
    expect(hostnameOf('[FE80::1%eth0]:8081')).toBe('fe80::1');
    expect(hostnameOf('[::1]')).toBe('::1');
    expect(hostnameOf('10.0.0.5')).toBe('10.0.0.5');
  });

  it('refuses malformed values rather than guessing', () => {
    for (const bad of [undefined, '', 'a b', 'evil.example@10.0.0.5', 'x:y:z', '[::1', 'host:99999999']) expect(hostnameOf(bad), String(bad)).toBeNull();
  });
});

describe('accessCodeBits', () => {
  it('counts what survives normalisation (case, spaces, dashes) and distrusts repeats', () => {
    expect(accessCodeBits('abcd-efgh')).toBeCloseTo(accessCodeBits('ABCDEFGH'));
    expect(accessCodeBits('ABCDEFGH')).toBeLessThan(40);
    expect(accessCodeBits('ABCDEFGHJ')).toBeGreaterThanOrEqual(40);
    expect(accessCodeBits('1'.repeat(40))).toBeLessThan(5);
  });
});
