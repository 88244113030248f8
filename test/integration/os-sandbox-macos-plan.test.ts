/**
 * The macOS plan (Seatbelt) wired end to end on Linux: the planner is told
 * sandbox-exec is available, and a stand-in `sandbox-exec` (records the
 * profile, then runs the command unconfined) takes its place. What is
 * checked is colony's side: the profile it passes, the fresh HOME/TMPDIR,
 * the ~/.claude link for an agent, the proxy on 127.0.0.1 with its
 * variables, and the temp dir removed afterwards. Seatbelt's enforcement
 * itself can only be checked on a Mac (README, security model).
 */
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config.js';
import { createExecEngine } from '../../src/engines/exec.js';
import { createSandboxPlanner } from '../../src/safety/os-sandbox/index.js';
import { makeTempDir } from '../helpers/proc.js';

const tmp = makeTempDir('colony-sbx-mac-');
const root = realpathSync(tmp.dir);
const workspace = join(root, 'ws');
const fakeHome = join(root, 'home');
mkdirSync(workspace);
mkdirSync(join(fakeHome, '.claude'), { recursive: true });
const profileFile = join(root, 'profile.sb');
const fakeSandboxExec = join(root, 'sandbox-exec');
writeFileSync(fakeSandboxExec, `#!/bin/sh\n[ "$1" = -p ] || exit 64\nprintf '%s' "$2" > '${profileFile}'\nshift 2\nexec "$@"\n`, { mode: 0o755 });
afterAll(() => tmp.cleanup());

describe('macOS plan through a stand-in sandbox-exec', () => {
  it('passes the profile, a fresh HOME with the agent link, and the proxy; cleans up', async () => {
    const c = parseConfig({ safety: { network_allow: ['registry.npmjs.org'] } });
    if (!c.ok) throw new Error(c.problems.join('; '));
    const planner = createSandboxPlanner({
      safety: c.config.safety,
      colonyHome: join(workspace, '.colony'),
      configFile: null,
      realHome: fakeHome,
      probe: () => ({ ok: true, kind: 'seatbelt', bin: fakeSandboxExec }),
    });
    await new Promise((r) => setTimeout(r, 100)); // the shared proxy starts listening with the planner
    const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: fakeHome };
    const sandbox = planner.planFor({ taskId: 't', engine: 'claude', workspace, env });
    let out = '';
    for await (const ev of createExecEngine().run({
      task_id: 't',
      attempt: 1,
      prompt: `echo "home=$HOME"; echo "tmp=$TMPDIR"; echo "proxy=$HTTPS_PROXY"; readlink "$HOME/.claude"; curl -s -m 5 -o /dev/null -w '%{http_code}\\n' http://10.255.255.1/; curl -s -m 5 -o /dev/null -w '%{http_code}\\n' -x "$(echo "$HTTP_PROXY" | sed 's/colony:[^@]*@/colony:forged@/')" http://10.255.255.1/`,
      model: null,
      workspace,
      budget_usd: 0,
      env,
      run_timeout_ms: 20_000,
      silence_timeout_ms: null,
      signal: new AbortController().signal,
      sandbox,
    })) {
      if (ev.type === 'output') out += ev.text;
    }
    const [home, tmpdir, proxy, link, ...rest] = out.trim().split('\n');
    // both requests refused by the proxy (not allowed; a forged secret is no attempt at all), and only the real attempt's refusal is named in its output
    expect(rest.filter((l) => l === '403')).toHaveLength(2);
    expect(rest.filter((l) => l.startsWith('[colony sandbox'))).toEqual([
      '[colony sandbox: connection to 10.255.255.1:80 denied: 10.255.255.1:80 is not in safety.network_allow]',
    ]);
    expect(home).toMatch(/^home=.*\/colony-task-[^/]+\/home$/);
    expect(tmpdir?.slice(4)).toBe(home?.slice(5, -'/home'.length));
    expect(proxy).toMatch(/^proxy=http:\/\/colony:[\w-]+@127\.0\.0\.1:\d+$/);
    expect(link).toBe(join(fakeHome, '.claude'));
    const profile = readFileSync(profileFile, 'utf8');
    expect(profile).toContain('(deny default)');
    expect(profile).toContain(`(deny file-read* (subpath "${fakeHome}"))`);
    expect(profile).toContain(`(subpath "${workspace}")`);
    expect(profile).toContain(`(remote ip "localhost:${proxy?.split(':').pop()}")`);
    expect(profile).toMatch(/\(deny file-read\* file-write\* .*\/ws\/\.colony/);
    expect(existsSync(home?.slice(5) ?? '/nonexistent')).toBe(false); // the temp HOME is gone after the attempt
  });
});
