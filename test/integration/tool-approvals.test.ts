/** ToolApprovals on a real store: verdicts audited, a held call answered by approve, reject, timeout or cancel. */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config.js';
import type { ToolCall } from '../../src/core/engine.js';
import { ToolApprovals } from '../../src/runner/tool-approvals.js';
import { describeToolCall } from '../../src/safety/tool-check.js';
import { Store } from '../../src/store/store.js';
import type { StoredTask } from '../../src/store/rows.js';
import { makeTempDir } from '../helpers/proc.js';

const ADMIN = { actor: 'admin', origin: '127.0.0.1' };
const task = { id: 'g:t', title: 'release' } as StoredTask;
const bash = (command: string): ToolCall => ({ tool: 'Bash', input: { command }, ...describeToolCall('Bash', { command }) });

let tmp: ReturnType<typeof makeTempDir>;
let store: Store;
beforeEach(() => {
  tmp = makeTempDir('colony-toolapprovals-');
  store = Store.open(join(tmp.dir, 'colony.db'));
});
afterEach(() => {
  store.close();
  tmp.cleanup();
});

function approvals(timeoutS = 60): ToolApprovals {
  const r = parseConfig({ engines: { claude: { tool_approval_timeout_s: timeoutS } }, safety: { extra_approval_patterns: ['\\bdeploy\\b'] } });
  if (!r.ok) throw new Error(r.problems.join('; '));
  return new ToolApprovals({ store, config: r.config, home: join(tmp.dir, 'home'), configFile: null, providerHosts: [] });
}
const audit = () => store.listAudit({ limit: 100 }).map((a) => ({ action: a.action, actor: a.actor, detail: a.detail as Record<string, unknown> }));

describe('tool calls held for the admin', () => {
  it('allows, denies and holds, auditing each verdict', async () => {
    const a = approvals();
    const gate = a.gateFor(task, 1, '/work/repo');
    const signal = new AbortController().signal;
    expect(await gate(bash('npm test'), signal)).toEqual({ behavior: 'allow' });
    const denied = await gate(bash('rm -rf /'), signal);
    expect(denied.behavior).toBe('deny');
    expect(a.list()).toEqual([]);
    const held = gate(bash('make deploy'), signal);
    const [item] = a.list();
    expect(item).toMatchObject({ kind: 'tool_call', task_id: 'g:t', tool: 'Bash', command: 'make deploy' });
    a.approve(item?.id ?? '', ADMIN);
    expect(await held).toEqual({ behavior: 'allow' });
    expect(a.list()).toEqual([]);
    const verdicts = audit()
      .filter((r) => r.action === 'safety.tool_call')
      .map((r) => r.detail.verdict);
    expect(verdicts).toEqual(expect.arrayContaining(['allow', 'deny', 'needs_approval']));
    expect(audit().some((r) => r.action === 'tool_call.approve' && r.actor === 'admin')).toBe(true);
    expect(() => a.approve(item?.id ?? '', ADMIN)).toThrow(/no tool call/); // answered once only
  });

  it('a rejection, a timeout or a cancelled task denies', async () => {
    const a = approvals(0.3);
    const gate = a.gateFor(task, 1, '/work/repo');
    const rejected = gate(bash('make deploy'), new AbortController().signal);
    a.reject(a.list()[0]?.id ?? '', ADMIN);
    expect(await rejected).toMatchObject({ behavior: 'deny', message: expect.stringContaining('rejected') });

    const timedOut = await gate(bash('make deploy'), new AbortController().signal);
    expect(timedOut).toMatchObject({ behavior: 'deny', message: expect.stringContaining('within 0.3 s') });
    expect(audit().some((r) => r.action === 'tool_call.timeout')).toBe(true);

    const ac = new AbortController();
    const cancelled = gate(bash('make deploy'), ac.signal);
    ac.abort();
    expect(await cancelled).toMatchObject({ behavior: 'deny', message: 'the task was cancelled' });
    expect(a.list()).toEqual([]);
  });
});
