/**
 * Which host paths an attempt's bubblewrap mounts keep the task from writing (coverage.ts), and the
 * planner's promise to the guard (planner.coverage, then every wrap re-checks its real mounts).
 */
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/core/config.js';
import { sandboxCovers } from '../../src/safety/os-sandbox/coverage.js';
import { createSandboxPlanner } from '../../src/safety/os-sandbox/index.js';
import { bwrapMounts, type PathKind } from '../../src/safety/os-sandbox/linux-bwrap.js';
import type { SandboxSpec } from '../../src/safety/os-sandbox/types.js';
import { makeTempDir } from '../helpers/proc.js';

const net = { proxySocket: null, forwardPorts: [], bridgeScript: null, nodeBin: '/usr/bin/node' };
const spec = (over: Partial<SandboxSpec>): SandboxSpec => ({
  command: '/bin/sh',
  args: [],
  cwd: '/w',
  env: {},
  workspace: '/w',
  home: '/root',
  system: ['/usr'],
  ro: [],
  rw: [],
  hide: [],
  network: net,
  ...over,
});
const dirs = (p: string): PathKind => (p.endsWith('.yaml') ? { kind: 'file' } : { kind: 'dir' });

describe('sandboxCovers', () => {
  it('a path outside every bind is covered; inside the writable workspace it is not, unless hidden there', () => {
    const plain = bwrapMounts(spec({}), dirs);
    expect(sandboxCovers(plain, '/srv/colony')).toBe(true);
    expect(sandboxCovers(plain, '/w/.colony')).toBe(false);
    expect(sandboxCovers(plain, '/w')).toBe(false);
    const hidden = bwrapMounts(spec({ hide: ['/w/.colony', '/w/colony.yaml'] }), dirs);
    expect(sandboxCovers(hidden, '/w/.colony')).toBe(true);
    expect(sandboxCovers(hidden, '/w/.colony/colony.db')).toBe(true);
    expect(sandboxCovers(hidden, '/w/colony.yaml')).toBe(true);
    expect(sandboxCovers(hidden, '/w/.env')).toBe(false);
  });

  it('a writable bind inside the path uncovers it, except inside an excepted folder; a read-only one does not', () => {
    const rw = bwrapMounts(spec({ hide: ['/w/.colony'], rw: [{ src: '/w/.colony/shared' }] }), dirs);
    expect(sandboxCovers(rw, '/w/.colony')).toBe(false);
    expect(sandboxCovers(rw, '/w/.colony', ['/w/.colony/shared'])).toBe(true);
    const ro = bwrapMounts(spec({ hide: ['/w/.colony'], ro: [{ src: '/w/.colony/keys' }] }), dirs);
    expect(sandboxCovers(ro, '/w/.colony')).toBe(true);
    // a writable bind of the home elsewhere inside (dest ≠ src) also uncovers it
    const moved = bwrapMounts(spec({ rw: [{ src: '/srv/colony', dest: '/root/c' }] }), dirs);
    expect(sandboxCovers(moved, '/srv/colony')).toBe(false);
    expect(sandboxCovers(moved, '/srv/colony/colony.db')).toBe(false);
  });

  it('a hide mounted after a writable bind of the same path covers it; a bind after the hide does not', () => {
    const sameDepth = bwrapMounts(spec({ hide: ['/srv/colony'], rw: [{ src: '/srv/colony' }] }), dirs);
    expect(sandboxCovers(sameDepth, '/srv/colony')).toBe(true);
  });
});

describe('planner.coverage and the wrap check', () => {
  let tmp: ReturnType<typeof makeTempDir> | null = null;
  afterEach(() => tmp?.cleanup());

  function planner() {
    tmp = makeTempDir('colony-cov-');
    const ws = realpathSync(tmp.dir);
    const home = join(ws, '.colony');
    mkdirSync(join(home, 'agent-state', 't1'), { recursive: true });
    mkdirSync(join(home, 'keys'));
    const configFile = join(ws, 'colony.yaml');
    writeFileSync(configFile, 'x: 1\n');
    const p = createSandboxPlanner({
      safety: defaultConfig().safety,
      colonyHome: home,
      configFile,
      probe: () => ({ ok: true, kind: 'bwrap', bin: '/usr/bin/bwrap' }),
    });
    return { p, ws, home, configFile };
  }
  const inv = (ws: string, rw: string[] = []) => ({ command: '/bin/sh', args: ['-c', 'true'], env: { PATH: '/usr/bin:/bin' }, cwd: ws, access: { rw } });

  it('covers the hidden home and config file (the task agent-state folder bound writable is no exception the guard reads)', () => {
    const { p, ws, home, configFile } = planner();
    const ctx = { taskId: 't1', engine: 'exec', workspace: ws, env: {}, stateDir: join(home, 'agent-state', 't1') };
    expect(p.coverage?.(ctx, [home, configFile, join(ws, '.env')])).toEqual([home, configFile]);
    const plan = p.planFor({ ...ctx, mustCover: [home, configFile] });
    expect(() => plan?.wrap(inv(ws))).not.toThrow();
  });

  it('a wrap whose engine binds a folder of the covered home writable refuses to start (fail closed)', () => {
    const { p, ws, home } = planner();
    const ctx = { taskId: 't1', engine: 'exec', workspace: ws, env: {}, mustCover: [home] };
    const plan = p.planFor(ctx);
    expect(() => plan?.wrap(inv(ws, [join(home, 'keys')]))).toThrow(/E_SANDBOX_UNAVAILABLE|no longer covers/);
    // without the promise the same wrap starts (the guard then reads the home as before)
    expect(() => p.planFor({ ...ctx, mustCover: [] })?.wrap(inv(ws, [join(home, 'keys')]))).not.toThrow();
  });
});
