import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hostIdFile, legacyHostId, loadOrCreateHostId } from '../../src/runner/host-id.js';

const dirs: string[] = [];
const home = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'colony-host-id-'));
  dirs.push(d);
  return d;
};
const never = (): boolean => false;

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('host id', () => {
  it('is made once per home: the machine name and a random suffix, kept 0600 and stable across restarts', () => {
    const h = home();
    const id = loadOrCreateHostId(h, never);
    const name =
      hostname()
        .replace(/[^A-Za-z0-9._-]/g, '-')
        .slice(0, 40) || 'host';
    expect(id).toMatch(new RegExp(`^${name.replace(/[.]/g, '\\.')}-[0-9a-f]{12}$`));
    expect(statSync(hostIdFile(h)).mode & 0o777).toBe(0o600);
    expect(loadOrCreateHostId(h, never)).toBe(id);
    expect(readFileSync(hostIdFile(h), 'utf8').trim()).toBe(id);
  });

  it('does not derive from the home path: the same path on another machine (a fresh file) gets another id', () => {
    const h = home();
    const first = loadOrCreateHostId(h, never);
    rmSync(hostIdFile(h)); // the same path and name, another machine
    const second = loadOrCreateHostId(h, never);
    expect(second).not.toBe(first);
    expect(first).not.toBe(legacyHostId(h));
  });

  it('keeps the old id of an upgraded home whose host the database knows, and only then', () => {
    const h = home();
    const asked: string[] = [];
    expect(
      loadOrCreateHostId(h, (id) => {
        asked.push(id);
        return true;
      }),
    ).toBe(legacyHostId(h));
    expect(asked).toEqual([legacyHostId(h)]);
    expect(loadOrCreateHostId(h, never)).toBe(legacyHostId(h)); // kept in the file from then on
  });

  it('refuses a damaged file instead of silently becoming another host', () => {
    const h = home();
    writeFileSync(hostIdFile(h), 'not a host id!\n');
    expect(() => loadOrCreateHostId(h, never)).toThrow(/host-id: not a host id/);
  });
});
