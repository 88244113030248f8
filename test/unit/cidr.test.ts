import { describe, expect, it } from 'vitest';
import { formatIp, ipInAnyCidr, ipInCidr, isLoopbackIp, isPrivateIp, parseCidr, parseIp, tryParseCidr, unmapIp } from '../../src/core/cidr.js';
import { isColonyError } from '../../src/core/errors.js';

describe('parseIp', () => {
  it.each([
    ['127.0.0.1', 4, '127.0.0.1'],
    ['0.0.0.0', 4, '0.0.0.0'],
    ['255.255.255.255', 4, '255.255.255.255'],
    ['::1', 6, '::1'],
    ['::', 6, '::'],
    ['[::1]', 6, '::1'],
    ['fe80::1%eth0', 6, 'fe80::1'],
    ['2001:db8::8a2e:370:7334', 6, '2001:db8::8a2e:370:7334'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', 6, '2001:db8::1'],
    ['::ffff:192.168.1.5', 6, '::ffff:c0a8:105'],
    ['1:2:3:4:5:6:7:8', 6, '1:2:3:4:5:6:7:8'],
    ['1::', 6, '1::'],
  ])('parses %s', (text, family, canonical) => {
    const ip = parseIp(text);
    expect(ip?.family).toBe(family);
    expect(ip && formatIp(ip)).toBe(canonical);
  });

  it.each([
    '256.0.0.1',
    '1.2.3',
    '1.2.3.4.5',
    '01.2.3.4',
    '127.1',
    '1.2.3.-4',
    'localhost',
    '',
    ':::',
    '1:2:3:4:5:6:7:8:9',
    '1::2::3',
    '12345::',
    '1:2:3:4:5:6:7::8',
    'g::1',
    '::ffff:1.2.3.256',
  ])('rejects %s', (text) => {
    expect(parseIp(text)).toBeNull();
  });

  it('unmaps IPv4-mapped IPv6 to IPv4', () => {
    const ip = parseIp('::ffff:10.1.2.3');
    expect(ip && formatIp(unmapIp(ip))).toBe('10.1.2.3');
  });
});

describe('parseCidr / ipInCidr', () => {
  it('matches IPv4 ranges at the boundaries', () => {
    expect(ipInCidr('10.255.255.255', '10.0.0.0/8')).toBe(true);
    expect(ipInCidr('11.0.0.0', '10.0.0.0/8')).toBe(false);
    expect(ipInCidr('172.31.255.1', '172.16.0.0/12')).toBe(true);
    expect(ipInCidr('172.32.0.1', '172.16.0.0/12')).toBe(false);
    expect(ipInCidr('1.2.3.4', '0.0.0.0/0')).toBe(true);
    expect(ipInCidr('192.168.1.7', '192.168.1.7')).toBe(true); // bare address = /32
    expect(ipInCidr('192.168.1.8', '192.168.1.7/32')).toBe(false);
  });

  it('clears host bits written in the range', () => {
    expect(parseCidr('192.168.1.77/24').network).toBe(parseCidr('192.168.1.0/24').network);
    expect(ipInCidr('192.168.1.200', '192.168.1.77/24')).toBe(true);
  });

  it('matches IPv6 ranges', () => {
    expect(ipInCidr('fe80::abcd', 'fe80::/10')).toBe(true);
    expect(ipInCidr('fec0::1', 'fe80::/10')).toBe(false);
    expect(ipInCidr('fd12:3456::1', 'fc00::/7')).toBe(true);
    expect(ipInCidr('2001:db8::1', '2001:db8::/32')).toBe(true);
    expect(ipInCidr('2001:db9::1', '2001:db8::/32')).toBe(false);
    expect(ipInCidr('::1', '::1/128')).toBe(true);
    expect(ipInCidr('::2', '::1/128')).toBe(false);
  });

  it('matches IPv4-mapped IPv6 clients against IPv4 ranges and IPv4 clients against mapped ranges', () => {
    expect(ipInCidr('::ffff:192.168.1.5', '192.168.0.0/16')).toBe(true);
    expect(ipInCidr('::ffff:c0a8:105', '192.168.0.0/16')).toBe(true);
    expect(ipInCidr('::ffff:8.8.8.8', '192.168.0.0/16')).toBe(false);
    expect(ipInCidr('192.168.1.5', '::ffff:192.168.0.0/112')).toBe(true);
    expect(ipInCidr('10.0.0.1', '::/0')).toBe(true);
  });

  it('never matches across families without mapping', () => {
    expect(ipInCidr('2001:db8::1', '0.0.0.0/0')).toBe(false);
    expect(ipInCidr('::1', '127.0.0.0/8')).toBe(false); // ::1 is loopback, but not 127/8
  });

  it('rejects malformed ranges with an E_BAD_INPUT that names the entry', () => {
    for (const bad of ['10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/+8', '10.0.0.0/8/8', 'nope/8', '10.0.0.0/ 8']) {
      expect(tryParseCidr(bad)).toBeNull();
      try {
        parseCidr(bad);
        expect.unreachable();
      } catch (e) {
        expect(isColonyError(e) && e.code).toBe('E_BAD_INPUT');
        expect((e as Error).message).toContain(bad);
      }
    }
    expect(ipInCidr('10.0.0.1', 'garbage')).toBe(false);
    expect(ipInCidr('garbage', '10.0.0.0/8')).toBe(false);
  });

  it('classifies loopback and private addresses', () => {
    expect(isLoopbackIp('127.8.9.10')).toBe(true);
    expect(isLoopbackIp('::1')).toBe(true);
    expect(isLoopbackIp('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopbackIp('128.0.0.1')).toBe(false);
    expect(isPrivateIp('192.168.0.1')).toBe(true);
    expect(isPrivateIp('fd00::1')).toBe(true);
    expect(isPrivateIp('8.8.8.8')).toBe(false);
    expect(ipInAnyCidr('100.64.1.1', [parseCidr('100.64.0.0/10')])).toBe(true);
  });
});
