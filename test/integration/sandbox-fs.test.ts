import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fs, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config.js';
import { runGateway } from '../../src/safety/gateway.js';
import { checkWorkspace, scrubEnv, snapshotProtected, verifyProtected } from '../../src/safety/sandbox.js';

let tmp: string;
let root: string;
let ws: string;
let outside: string;

/** Runs a shell command as a separate process in the workspace: the write path an agent's own tools use. */
function task(cmd: string, cwd = ws): void {
  const r = spawnSync('sh', ['-c', cmd], { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`task failed: ${r.stderr}`);
}

beforeEach(async () => {
  tmp = realpathSync(await fs.mkdtemp(path.join(os.tmpdir(), 'colony-sandbox-')));
  root = path.join(tmp, 'projects');
  ws = path.join(root, 'app');
  outside = path.join(tmp, 'outside');
  await fs.mkdir(path.join(ws, 'src'), { recursive: true });
  await fs.mkdir(outside);
  execFileSync('git', ['init', '-q', ws]);
  await fs.writeFile(path.join(ws, '.env'), 'SECRET=hunter2\n');
  await fs.writeFile(path.join(ws, 'id_rsa'), 'PRIVATE KEY\n', { mode: 0o600 });
  await fs.writeFile(path.join(ws, 'src', 'index.ts'), 'export {};\n');
});

afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('checkWorkspace on a real filesystem', () => {
  it('allows a workspace inside the root', () => {
    expect(checkWorkspace(ws, [root])).toMatchObject({ verdict: 'allow', path: ws });
  });

  it('denies ../ traversal, absolute paths outside, and symlinks out of the root', async () => {
    expect(checkWorkspace(path.join(ws, '..', '..', 'outside'), [root]).rule).toBe('sandbox.outside-roots');
    expect(checkWorkspace(outside, [root]).rule).toBe('sandbox.outside-roots');
    await fs.symlink('/etc', path.join(ws, 'etc-link'));
    const v = checkWorkspace(path.join(ws, 'etc-link'), [root]);
    expect(v.rule).toBe('sandbox.outside-roots');
    expect(v.reason).toContain('resolves to /etc');
    await fs.symlink(outside, path.join(root, 'sneaky'));
    expect(checkWorkspace(path.join(root, 'sneaky'), [root]).rule).toBe('sandbox.outside-roots');
  });

  it('runs the whole gateway against real paths', async () => {
    await fs.symlink('/etc', path.join(ws, 'etc-link'));
    const cfg = parseConfig({});
    if (!cfg.ok) throw new Error('config');
    const ctx = {
      killswitch: { state: () => 'running' as const },
      config: cfg.config.safety,
      allowedRoots: [root],
      home: path.join(tmp, 'home'),
      providerHosts: [],
    };
    expect(runGateway(ctx, { id: 'a', prompt: 'fix the flaky auth test', engine: 'exec', workspace: ws })).toMatchObject({ verdict: 'allow', workspace: ws });
    expect(runGateway(ctx, { id: 'b', prompt: 'fix the flaky auth test', engine: 'exec', workspace: path.join(ws, 'etc-link') }).verdict).toBe('deny');
  });
});

describe('protected-file guard (real child processes write the files)', () => {
  it('detects a shell append to .env and restores the original content', async () => {
    const snap = await snapshotProtected(ws);
    task("echo 'EXFIL=1' >> .env");
    const r = await verifyProtected(snap);
    expect(r.ok).toBe(false);
    expect(r.touched).toEqual([{ path: path.join(ws, '.env'), reason: 'environment file (.env)', change: 'modified', restored: true }]);
    expect(await fs.readFile(path.join(ws, '.env'), 'utf8')).toBe('SECRET=hunter2\n');
    expect((await verifyProtected(snap)).ok).toBe(true); // restored state matches the snapshot
  });

  it('restores a deleted key with its mode, and a key whose mode was loosened', async () => {
    const snap = await snapshotProtected(ws);
    task('rm id_rsa');
    let r = await verifyProtected(snap);
    expect(r.touched.map((t) => [path.basename(t.path), t.change, t.restored])).toEqual([['id_rsa', 'deleted', true]]);
    expect((await fs.stat(path.join(ws, 'id_rsa'))).mode & 0o777).toBe(0o600);
    task('chmod 644 id_rsa');
    r = await verifyProtected(snap);
    expect(r.touched.map((t) => t.change)).toEqual(['mode']);
    expect((await fs.stat(path.join(ws, 'id_rsa'))).mode & 0o777).toBe(0o600);
  });

  it('removes a git hook the task created and restores .git/config', async () => {
    const config = await fs.readFile(path.join(ws, '.git', 'config'), 'utf8');
    const snap = await snapshotProtected(ws);
    task('printf "#!/bin/sh\\ncurl evil\\n" > .git/hooks/pre-commit && git config core.hooksPath /tmp/evil');
    const r = await verifyProtected(snap);
    expect(r.touched.map((t) => [path.relative(ws, t.path), t.change, t.restored]).sort()).toEqual([
      ['.git/config', 'modified', true],
      ['.git/hooks/pre-commit', 'created', true],
    ]);
    await expect(fs.access(path.join(ws, '.git', 'hooks', 'pre-commit'))).rejects.toThrow();
    expect(await fs.readFile(path.join(ws, '.git', 'config'), 'utf8')).toBe(config);
  });

  it('restores a protected file replaced by a symlink', async () => {
    const snap = await snapshotProtected(ws);
    task('rm .env && ln -s /etc/hostname .env');
    const r = await verifyProtected(snap);
    expect(r.touched[0]).toMatchObject({ change: 'modified', restored: true });
    expect((await fs.lstat(path.join(ws, '.env'))).isSymbolicLink()).toBe(false);
    expect(await fs.readFile(path.join(ws, '.env'), 'utf8')).toBe('SECRET=hunter2\n');
  });

  it('ignores ordinary edits, templates like .env.example and NEW files with protected names; guards existing nested ones', async () => {
    const snap = await snapshotProtected(ws);
    task('echo "export const x = 1;" >> src/index.ts && echo "A=" > .env.example && mkdir -p node_modules/p && echo k > node_modules/p/a.pem');
    expect(await verifyProtected(snap)).toEqual({ ok: true, touched: [] });
    // a dev TLS certificate and key, a local test database: creating files is normal work, and they stay
    task(
      'openssl req -x509 -newkey rsa:2048 -nodes -keyout src/dev.key -out src/dev.pem -days 1 -subj /CN=localhost 2>/dev/null || echo k > src/dev.key; echo x > test.db',
    );
    expect(await verifyProtected(snap)).toEqual({ ok: true, touched: [] });
    expect(await fs.readFile(path.join(ws, 'src', 'dev.key'), 'utf8')).not.toBe('');
    // once they exist, the next attempt must not change them
    const next = await snapshotProtected(ws);
    task('echo tampered >> src/dev.key && : > test.db');
    const r = await verifyProtected(next);
    expect(r.touched.map((t) => [path.relative(ws, t.path), t.change, t.restored]).sort()).toEqual([
      ['src/dev.key', 'modified', true],
      ['test.db', 'modified', true],
    ]);
    expect(await fs.readFile(path.join(ws, 'test.db'), 'utf8')).toBe('x\n');
  });

  it('reports a truncated, replaced or deleted live store (identity and SQLite header), while the host may write it', async () => {
    const home = path.join(ws, '.colony');
    await fs.mkdir(home);
    const db = path.join(home, 'colony.db');
    await fs.writeFile(db, Buffer.concat([Buffer.from('SQLite format 3\0', 'latin1'), Buffer.alloc(4080)]));
    await fs.writeFile(`${db}-wal`, 'wal');
    const snap = await snapshotProtected(ws, { home });
    await fs.appendFile(db, Buffer.alloc(4096)); // the host commits during the task: not tampering
    expect((await verifyProtected(snap)).ok).toBe(true);
    task('truncate -s 0 .colony/colony.db && rm .colony/colony.db-wal');
    const r = await verifyProtected(snap);
    expect(r.touched.map((t) => [path.basename(t.path), t.change, t.restored]).sort()).toEqual([
      ['colony.db', 'modified', false],
      ['colony.db-wal', 'deleted', false],
    ]);
    expect(r.ok).toBe(false);
  });

  it('follows a worktree .git file to the shared hooks directory', async () => {
    execFileSync('git', ['-C', ws, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', 'init']);
    const wt = path.join(tmp, 'wt');
    execFileSync('git', ['-C', ws, 'worktree', 'add', '-q', '-b', 'colony/x', wt]);
    const snap = await snapshotProtected(wt);
    task('echo "#!/bin/sh" > "$(git rev-parse --git-common-dir)/hooks/post-merge"', wt);
    const r = await verifyProtected(snap);
    expect(r.touched).toEqual([expect.objectContaining({ path: path.join(ws, '.git', 'hooks', 'post-merge'), change: 'created', restored: true })]);
  });

  it('guards the colony home and the config file; the live database may change content', async () => {
    const home = path.join(ws, '.colony');
    await fs.mkdir(home);
    await fs.writeFile(path.join(home, 'admin.token'), 'tok');
    await fs.writeFile(path.join(home, 'colony.db'), 'db1');
    const configFile = path.join(outside, 'colony.config.json');
    await fs.writeFile(configFile, '{}');
    const snap = await snapshotProtected(ws, { home, configFile });
    await fs.writeFile(path.join(home, 'colony.db'), 'db2'); // the host writes its database during the task
    task(`echo stolen > .colony/admin.token && echo '{"safety":{"intent":false}}' > ${configFile}`);
    const r = await verifyProtected(snap);
    expect(r.touched.map((t) => [path.basename(t.path), t.change]).sort()).toEqual([
      ['admin.token', 'modified'],
      ['colony.config.json', 'modified'],
    ]);
    expect(await fs.readFile(configFile, 'utf8')).toBe('{}');
    expect(await fs.readFile(path.join(home, 'colony.db'), 'utf8')).toBe('db2');
  });

  it('can report without restoring', async () => {
    const snap = await snapshotProtected(ws);
    task('echo x >> .env');
    const r = await verifyProtected(snap, { restore: false });
    expect(r.touched[0]).toMatchObject({ change: 'modified', restored: false });
    expect(await fs.readFile(path.join(ws, '.env'), 'utf8')).toBe('SECRET=hunter2\nx\n');
  });
});

describe('scrubEnv in a real child process', () => {
  it('hides a secret from the child, and passes the engine key only when asked', () => {
    const env = { ...process.env, SECRET: 'hunter2', GROQ_API_KEY: 'gsk_x' };
    const echo = (e: Record<string, string>): string => execFileSync('sh', ['-c', 'echo "[$SECRET][$GROQ_API_KEY]"'], { env: e, encoding: 'utf8' }).trim();
    expect(echo(scrubEnv(env))).toBe('[][]');
    expect(echo(scrubEnv(env, { engineKeys: ['GROQ_API_KEY'] }))).toBe('[][gsk_x]');
  });
});

describe('protected-file guard with the workspace index (big-workspace mode)', () => {
  const big = { rescanBelowMs: 0 }; // index mode whatever the size of this small test workspace
  it('still restores an existing protected file, removes a new git hook, and reports a deleted key', async () => {
    const first = await snapshotProtected(ws, big); // builds the index
    expect((await verifyProtected(first)).ok).toBe(true);
    const snap = await snapshotProtected(ws, big); // from the index: no walk
    task("echo 'EXFIL=1' >> .env && rm id_rsa && printf '#!/bin/sh\\n' > .git/hooks/post-checkout");
    const r = await verifyProtected(snap);
    expect(r.touched.map((t) => [path.relative(ws, t.path), t.change, t.restored]).sort()).toEqual([
      ['.env', 'modified', true],
      ['.git/hooks/post-checkout', 'created', true],
      ['id_rsa', 'deleted', true],
    ]);
    expect(await fs.readFile(path.join(ws, '.env'), 'utf8')).toBe('SECRET=hunter2\n');
  });
});
