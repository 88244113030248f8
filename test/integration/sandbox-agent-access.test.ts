/**
 * What an agent CLI's engine asks of the sandbox plan (SandboxAccess): its
 * install folder read-only, its state folder writable, its configured
 * endpoint reachable through the attempt's proxy (a loopback one forwarded).
 * The attacker's side: an engine asking for a folder that holds a private
 * place as a whole (the user's home, the colony home) gets nothing bound.
 */
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/core/config.js';
import { installRootOf } from '../../src/engines/agent-paths.js';
import { createSandboxPlanner } from '../../src/safety/os-sandbox/index.js';
import { makeTempDir } from '../helpers/proc.js';

const tmp = makeTempDir('colony-sbx-access-');

function setup() {
  const dir = realpathSync(tmp.dir);
  const realHome = join(dir, 'home');
  const colonyHome = join(realHome, '.colony');
  const ws = join(dir, 'ws');
  const cli = join(realHome, '.cache', 'clis', 'tool@1', 'node_modules', 'tool', 'bin');
  const state = join(colonyHome, 'agent-state', 't1', 'tool');
  for (const d of [ws, cli, state]) mkdirSync(d, { recursive: true });
  writeFileSync(join(cli, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
  const planner = createSandboxPlanner({ safety: defaultConfig().safety, colonyHome, configFile: null, realHome });
  const plan = planner.planFor({ taskId: 't1', engine: 'codex', workspace: ws, env: { PATH: '/usr/bin:/bin' } });
  if (!plan) throw new Error('sandbox off');
  return { realHome, colonyHome, ws, cli, state, plan };
}

/** The `--ro-bind`/`--bind` sources of a bwrap argument list. */
function binds(args: readonly string[], flag: '--ro-bind' | '--bind'): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1] as string] : []));
}

describe('agent CLI access in the sandbox plan', () => {
  it('binds the install folder read-only, the state folder writable, and forwards a loopback endpoint', () => {
    const s = setup();
    const root = installRootOf(join(s.cli, 'tool'));
    expect(root).toBe(join(s.realHome, '.cache', 'clis', 'tool@1'));
    const { invocation, run } = s.plan.wrap({
      command: join(s.cli, 'tool'),
      args: [],
      env: { PATH: '/usr/bin:/bin' },
      cwd: s.ws,
      access: { ro: [root as string], rw: [s.state], endpoints: ['http://127.0.0.1:45678/v1'] },
    });
    try {
      expect(binds(invocation.args, '--ro-bind')).toContain(root);
      expect(binds(invocation.args, '--bind')).toContain(s.state);
      // The bridge inside forwards the endpoint's loopback port through the proxy.
      const sep = invocation.args.indexOf('--');
      expect(invocation.args.slice(sep)).toContain('45678');
    } finally {
      run.finished({ code: 0, signal: null });
    }
  });

  it('never binds a folder that holds the home or the colony home as a whole', () => {
    const s = setup();
    const { invocation, run } = s.plan.wrap({
      command: '/bin/sh',
      args: ['-c', 'true'],
      env: { PATH: '/usr/bin:/bin' },
      cwd: s.ws,
      access: { ro: [s.realHome, '/'], rw: [s.colonyHome, join(s.colonyHome, '..')] },
    });
    try {
      const all = [...binds(invocation.args, '--ro-bind'), ...binds(invocation.args, '--bind')];
      for (const p of [s.realHome, s.colonyHome, '/']) expect(all).not.toContain(p);
    } finally {
      run.finished({ code: 0, signal: null });
    }
  });
});
