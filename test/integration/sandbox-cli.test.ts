/**
 * The OS sandbox as a newcomer meets it, through the real CLI:
 * - bubblewrap missing: `colony serve --demo` names the one missing step
 *   (apt-get install bubblewrap), submits no demo (no wall of refused tasks),
 *   `colony status` says tasks are refused, and a submitted task is refused
 *   with E_SANDBOX_UNAVAILABLE, never run unsandboxed;
 * - `safety.sandbox: false` is explicit and `colony status` shows it in red
 *   letters ("UNSANDBOXED"), as does /api/status for the dashboards;
 * - the normal case: the demo is submitted and its tasks run sandboxed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { assertBuilt, CLI, runCli } from '../helpers/cli.js';
import { makeTempDir, waitFor } from '../helpers/proc.js';

assertBuilt();
const tmp = makeTempDir('colony-sbx-cli-');
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null) {
      c.kill('SIGTERM');
      await new Promise((r) => c.once('exit', r));
    }
  }
});
afterAll(() => tmp.cleanup());

// A PATH with the usual tools but no bwrap: a fresh Debian machine before `apt-get install bubblewrap`.
const noBwrapBin = join(tmp.dir, 'bin');
mkdirSync(noBwrapBin);
for (const t of ['sh', 'git', 'node', 'env']) symlinkSync(`/usr/bin/${t}`, join(noBwrapBin, t));

async function serve(name: string, o: { path?: string; config?: unknown } = {}): Promise<{ out: () => string; home: string; env: NodeJS.ProcessEnv }> {
  const dir = join(tmp.dir, name);
  mkdirSync(dir);
  const cfg = join(dir, 'colony.config.json');
  writeFileSync(cfg, JSON.stringify(o.config ?? {}));
  const home = join(dir, '.colony');
  const env = { ...process.env, COLONY_HOME: undefined, COLONY_CONFIG: undefined, ...(o.path ? { PATH: o.path } : {}) };
  const child = spawn(process.execPath, [CLI, 'serve', '--demo', '--admin-port', '0', '--home', home, '--config', cfg, '--quiet'], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (out += d));
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${out}`);
      return /kill switch:/.test(out);
    },
    'serve to start',
    20_000,
  );
  return { out: () => out, home, env };
}

const status = async (home: string, env: NodeJS.ProcessEnv, json = false): Promise<string> => {
  const r = await runCli(['status', '--home', home, ...(json ? ['--json'] : [])], { cwd: tmp.dir, env, timeoutMs: 20_000 });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
};

describe('bubblewrap missing', () => {
  it('serve --demo names the missing step and submits no demo; status and tasks say the sandbox is unavailable', async () => {
    const s = await serve('nobwrap', { path: noBwrapBin });
    expect(s.out()).toContain('SANDBOX UNAVAILABLE');
    expect(s.out()).toContain('sudo apt-get install bubblewrap');
    expect(s.out()).toContain('demo not submitted');
    expect(s.out()).not.toContain('demo: submitted');
    const st = await status(s.home, s.env);
    expect(st).toMatch(/sandbox: UNAVAILABLE: tasks are refused: .*apt-get install bubblewrap/);
    expect(st).toMatch(/tasks: none/);
    // A task submitted anyway is refused, naming the code and the fix; it never ran.
    const sub = await runCli(['submit', 'echo ran > ran.txt', '--engine', 'exec', '--home', s.home, '--json'], {
      cwd: join(tmp.dir, 'nobwrap'),
      env: s.env,
      timeoutMs: 20_000,
    });
    expect(sub.code, sub.stderr).toBe(0);
    const id = (JSON.parse(sub.stdout) as { task_ids: string[] }).task_ids[0] as string;
    let shown = '';
    for (let i = 0; i < 30 && !shown.includes('"failed"'); i++) {
      if (i) await new Promise((r) => setTimeout(r, 500));
      shown = (await runCli(['tasks', '--home', s.home, '--json'], { cwd: tmp.dir, env: s.env, timeoutMs: 20_000 })).stdout;
    }
    expect(shown).toContain(id);
    expect(shown).toContain('E_SANDBOX_UNAVAILABLE');
    expect(shown).toContain('apt-get install bubblewrap');
  });
});

describe('explicitly unsandboxed', () => {
  it('colony status and /api/status show UNSANDBOXED', async () => {
    const s = await serve('off', { config: { safety: { sandbox: false } } });
    expect(s.out()).toContain('tasks run UNSANDBOXED');
    expect(await status(s.home, s.env)).toContain('sandbox: UNSANDBOXED (safety.sandbox is false)');
    expect(JSON.parse(await status(s.home, s.env, true))).toMatchObject({ sandbox: { on: false, available: true } });
  });
});

describe('the normal first run', () => {
  it('submits the demo, and its tasks run inside the sandbox', async () => {
    const s = await serve('normal');
    expect(s.out()).toMatch(/sandbox: on \(bwrap; limits: processes, memory_mb, file_size_mb, cpu_s\)/);
    expect(s.out()).toContain('demo: submitted');
    let st = '';
    for (let i = 0; i < 60 && !/succeeded \d+/.test(st); i++) {
      if (i) await new Promise((r) => setTimeout(r, 500));
      st = await status(s.home, s.env);
    }
    expect(st).toMatch(/succeeded \d+/);
    expect(st).toContain('sandbox: on (bwrap)');
  });
});
