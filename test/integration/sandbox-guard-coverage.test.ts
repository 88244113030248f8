/**
 * Issue 24: with the OS sandbox on, the colony home and the config file are protected by the
 * sandbox's mounts, not by the guard reading them before and after every attempt — only where the
 * attempt's plan really covers them. Real host, real bwrap, exec tasks that attack each class.
 */
import { mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config.js';
import { resolveHome } from '../../src/runner/home.js';
import { openHost, type Host } from '../../src/runner/host.js';
import { guardWork } from '../../src/safety/guard-scan.js';
import { sandboxProbe } from '../../src/safety/os-sandbox/probe.js';
import { makeTempDir, waitFor } from '../helpers/proc.js';

const bwrap = sandboxProbe();
const CONFIG_TEXT = 'runner:\n  worktrees: off\n';

describe.skipIf(!bwrap.ok || bwrap.kind !== 'bwrap')('protected paths left to the OS sandbox', () => {
  let host: Host | null = null;
  let tmp: ReturnType<typeof makeTempDir> | null = null;
  afterEach(async () => {
    await host?.close();
    host = null;
    tmp?.cleanup();
  });

  /** A host whose home (`homeRel`) and config file (colony.yaml) lie inside the task's workspace, as with the default ./.colony. */
  function setup(homeRel: string, extra: (home: string) => Record<string, unknown> = () => ({})): { h: Host; ws: string; home: string; configFile: string } {
    tmp = makeTempDir('colony-cover-');
    const ws = realpathSync(tmp.dir);
    const home = join(ws, homeRel);
    const configFile = join(ws, 'colony.yaml');
    writeFileSync(configFile, CONFIG_TEXT);
    writeFileSync(join(ws, '.env'), 'SECRET=1\n');
    mkdirSync(home, { recursive: true });
    const cfg = parseConfig({ runner: { worktrees: 'off' }, safety: { allowed_roots: [ws], ...extra(home) } });
    if (!cfg.ok) throw new Error(cfg.problems.join('; '));
    host = openHost({ paths: resolveHome(home), config: cfg.config, configFile, concurrency: 1, env: { PATH: process.env['PATH'] ?? '', HOME: '/root' } });
    return { h: host, ws, home, configFile };
  }

  async function run(h: Host, ws: string, script: string): Promise<{ state: string; reason: string }> {
    const r = h.service.submitGraph(
      { name: 'g', tasks: [{ id: 't', prompt: script, engine: 'exec', depends_on: [], trigger: 'all_success' }] },
      { submittedBy: 'admin', who: { actor: 'admin', origin: 'local' }, workspace: ws, defaultTarget: 'host', holdHostTasks: false },
    );
    const id = r.task_ids[0] as string;
    h.pool.start();
    const t = await waitFor(
      () => {
        const s = h.store.getTask(id);
        return s && ['succeeded', 'failed'].includes(s.state) ? s : null;
      },
      `task ${id} to end (now ${h.store.getTask(id)?.state} ${h.store.getTask(id)?.state_reason})`,
    );
    const last = h.store.attemptsOf(id).at(-1);
    return { state: t.state, reason: `${last?.summary ?? ''} ${t.state_reason ?? ''}` };
  }

  it('a task cannot change the hidden home or config file; the guard reads neither, and still restores a workspace .env', async () => {
    const { h, ws, home, configFile } = setup('.colony');
    const before = readdirSync(home).sort();
    const reads = guardWork.homeReads;
    const attack = [
      'echo x >> .colony/colony.db',
      'echo x > .colony/evil',
      'rm -rf .colony/* ',
      'mv .colony gone',
      'echo x >> colony.yaml',
      'rm -f colony.yaml',
      'true',
    ].join('; ');
    const r = await run(h, ws, attack);
    expect(r.state).toBe('succeeded'); // every write landed in the sandbox's tmpfs or was refused
    expect(readdirSync(home).sort()).toEqual(before);
    expect(readFileSync(configFile, 'utf8')).toBe(CONFIG_TEXT);
    expect(guardWork.homeReads).toBe(reads); // left to the sandbox: not read before or after

    const r2 = await run(h, ws, 'echo STOLEN=1 >> .env');
    expect(r2.state).toBe('failed');
    expect(r2.reason).toContain('.env');
    expect(readFileSync(join(ws, '.env'), 'utf8')).toBe('SECRET=1\n');
    expect(guardWork.homeReads).toBe(reads);
  });

  it('a task that moves the folder holding the hidden home is caught by the identity check', async () => {
    const { h, ws, home } = setup('sub/.colony');
    const r = await run(h, ws, 'mv sub sub2 && mkdir -p sub/.colony');
    expect(r.state).toBe('failed');
    expect(r.reason).toContain(home);
    expect(r.reason).toContain('covered by the OS sandbox');
  });

  it('where the plan does not cover the home (a writable bind inside it), the guard reads it and catches a new file as before', async () => {
    const { h, ws, home } = setup('.colony', (home) => {
      mkdirSync(join(home, 'shared'));
      return { os_sandbox: { rw_paths: [join(home, 'shared')] } };
    });
    const reads = guardWork.homeReads;
    const r = await run(h, ws, 'echo x > .colony/shared/evil');
    expect(guardWork.homeReads).toBeGreaterThan(reads);
    expect(r.state).toBe('failed');
    expect(r.reason).toContain(join(home, 'shared', 'evil'));
    expect(readdirSync(join(home, 'shared'))).not.toContain('evil'); // removed by the guard
  });
});
