import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkWorkspace, globToRegExp, isProtectedPath, matchesGlob, protectedReason, scrubEnv } from '../../src/safety/sandbox.js';

/** A fake filesystem for realpath: known directories plus symlinks (no disk needed). */
function fakeRealpath(dirs: string[], links: Record<string, string>): (p: string) => string {
  const existing = new Set(dirs);
  return (p: string) => {
    let abs = path.resolve(p);
    for (const [link, target] of Object.entries(links)) {
      if (abs === link || abs.startsWith(`${link}/`)) abs = target + abs.slice(link.length);
    }
    if (!existing.has(abs)) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
    return abs;
  };
}

const realpath = fakeRealpath(
  ['/', '/etc', '/srv/projects', '/srv/projects/app', '/srv/projects/app/src', '/srv/projects/app/.colony', '/srv/other', '/home/u/.ssh'],
  { '/srv/projects/app/etc-link': '/etc', '/srv/projects/alias': '/srv/projects/app' },
);
const roots = ['/srv/projects'];
const opts = { realpath, home: '/srv/projects/app/.colony' };

describe('checkWorkspace', () => {
  it('allows a workspace inside an allowed root and returns its real path', () => {
    expect(checkWorkspace('/srv/projects/app', roots, opts)).toMatchObject({ verdict: 'allow', path: '/srv/projects/app' });
    expect(checkWorkspace('/srv/projects/app/src', roots, opts).path).toBe('/srv/projects/app/src');
    expect(checkWorkspace('/srv/projects/alias', roots, opts).path).toBe('/srv/projects/app'); // symlink inside the root
  });

  it('denies ../ traversal out of the root', () => {
    const v = checkWorkspace('/srv/projects/app/../../other', roots, opts);
    expect(v).toMatchObject({ verdict: 'deny', rule: 'sandbox.outside-roots' });
  });

  it('denies an absolute path outside the roots', () => {
    expect(checkWorkspace('/etc', roots, opts)).toMatchObject({ verdict: 'deny', rule: 'sandbox.outside-roots' });
  });

  it('denies a symlink that escapes to /etc and says where it resolves', () => {
    const v = checkWorkspace('/srv/projects/app/etc-link', roots, opts);
    expect(v).toMatchObject({ verdict: 'deny', rule: 'sandbox.outside-roots' });
    expect(v.reason).toContain('resolves to /etc');
  });

  it('denies relative, missing, and protected workspaces', () => {
    expect(checkWorkspace('app', roots, opts).rule).toBe('sandbox.relative');
    expect(checkWorkspace('/srv/projects/nope', roots, opts).rule).toBe('sandbox.missing');
    expect(checkWorkspace('/srv/projects/app/.colony', roots, opts).rule).toBe('sandbox.protected');
    expect(checkWorkspace('/home/u/.ssh', ['/home/u'], { realpath: fakeRealpath(['/home/u', '/home/u/.ssh'], {}) }).rule).toBe('sandbox.protected');
  });

  it('allows nothing without usable roots, and never treats / as a root', () => {
    expect(checkWorkspace('/srv/projects/app', [], opts).rule).toBe('sandbox.no-roots');
    expect(checkWorkspace('/srv/projects/app', ['/'], opts).rule).toBe('sandbox.no-roots');
    expect(checkWorkspace('/srv/projects/app', ['/does/not/exist', 'relative'], opts).rule).toBe('sandbox.no-roots');
  });

  it('does not confuse a sibling with a common prefix for the root', () => {
    const rp = fakeRealpath(['/srv/projects', '/srv/projects-evil'], {});
    expect(checkWorkspace('/srv/projects-evil', ['/srv/projects'], { realpath: rp }).rule).toBe('sandbox.outside-roots');
  });
});

describe('isProtectedPath', () => {
  const o = { home: '/data/.colony', configFile: '/srv/app/colony.config.json', globs: ['secrets/**', '*.sqlite', '/opt/vault/*'], root: '/srv/app' };
  it.each([
    ['/srv/app/.env', 'environment file'],
    ['/srv/app/.env.local', 'environment file'],
    ['/srv/app/config/.env.production', 'environment file'],
    ['/srv/app/.git/config', 'git config'],
    ['/srv/app/.git/hooks/pre-commit', 'git hooks'],
    ['/srv/app/tls/server.pem', 'key or certificate'],
    ['/srv/app/tls/server.key', 'key or certificate'],
    ['/home/u/.ssh/id_ed25519', 'SSH'],
    ['/srv/app/deploy/id_rsa', 'SSH key'],
    ['/srv/app/deploy/id_rsa.pub', 'SSH key'],
    ['/home/u/.netrc', 'credentials'],
    ['/data/.colony/admin.token', 'colony home'],
    ['/srv/app/colony.config.json', 'config file'],
    ['/srv/app/secrets/prod/db.txt', 'secrets/**'],
    ['/srv/app/cache/local.sqlite', '*.sqlite'],
    ['/opt/vault/token', '/opt/vault/*'],
  ])('protects %s', (p, why) => {
    expect(protectedReason(p, o)).toContain(why);
  });

  it.each([
    '/srv/app/.env.example',
    '/srv/app/.env.sample',
    '/srv/app/.env.template',
    '/srv/app/src/env.ts',
    '/srv/app/src/id_generator.ts',
    '/srv/app/.gitignore',
    '/srv/app/.github/workflows/ci.yml',
    '/srv/app/src/keys.ts',
    '/srv/app/src/git/config.ts',
    '/srv/app/docs/secrets.md',
    '/opt/vault/sub/token',
  ])('does not protect %s', (p) => {
    expect(isProtectedPath(p, o)).toBe(false);
  });

  it('compiles globs with *, **, ? and braces', () => {
    expect(globToRegExp('src/**/*.{ts,tsx}').test('src/a/b/c.tsx')).toBe(true);
    expect(globToRegExp('src/**/*.{ts,tsx}').test('src/c.ts')).toBe(true);
    expect(globToRegExp('src/*.ts').test('src/a/c.ts')).toBe(false);
    expect(globToRegExp('file?.txt').test('file1.txt')).toBe(true);
    expect(matchesGlob('/srv/app/x/.secret', '.secret')).toBe(true);
    expect(matchesGlob('/elsewhere/secrets/a', 'secrets/**', '/srv/app')).toBe(false);
  });
});

describe('scrubEnv', () => {
  const env = {
    PATH: '/usr/bin',
    HOME: '/home/u',
    LANG: 'C.UTF-8',
    LC_ALL: 'C',
    TERM: 'xterm',
    NODE_ENV: 'test',
    NODE_OPTIONS: '--require /tmp/evil.js',
    GROQ_API_KEY: 'gsk_secret',
    ANTHROPIC_API_KEY: 'sk-ant-secret',
    AWS_SECRET_ACCESS_KEY: 'aws-secret',
    AWS_REGION: 'eu-west-1',
    GITHUB_TOKEN: 'ghp_secret',
    MY_FLAG: '1',
    EMPTY: undefined,
  };

  it('keeps the base allow-list and drops everything else, including NODE_OPTIONS', () => {
    expect(scrubEnv(env)).toEqual({ PATH: '/usr/bin', HOME: '/home/u', LANG: 'C.UTF-8', LC_ALL: 'C', TERM: 'xterm', NODE_ENV: 'test' });
  });

  it('passes only the API key of the engine that needs it', () => {
    const out = scrubEnv(env, { engineKeys: ['GROQ_API_KEY'] });
    expect(out.GROQ_API_KEY).toBe('gsk_secret');
    expect(out.ANTHROPIC_API_KEY).toBeUndefined();
  });

  it('lets configured names through, but a wildcard never passes a secret-looking name', () => {
    const out = scrubEnv(env, { allow: ['MY_FLAG', 'AWS_*'] });
    expect(out.MY_FLAG).toBe('1');
    expect(out.AWS_REGION).toBe('eu-west-1');
    expect(out.AWS_SECRET_ACCESS_KEY).toBeUndefined();
    expect(scrubEnv(env, { allow: ['GITHUB_TOKEN'] }).GITHUB_TOKEN).toBe('ghp_secret'); // exact names are deliberate
    expect(Object.keys(scrubEnv(env, { allow: ['*'] }))).not.toContain('MY_FLAG'); // a bare * is ignored
  });
});
