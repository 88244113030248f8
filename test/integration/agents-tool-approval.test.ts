/**
 * Tool calls of a real Claude Code CLI held by colony's safety gateway and
 * answered through the admin API, on a real host (pool, store, admin app).
 * The provider variables (ANTHROPIC_BASE_URL, key) reach the CLI through the
 * engine's environment allow-list, as they would for a user's gateway.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startHost, type RunningHost } from '../../src/server/host-server.js';
import { adminApi, makeHome, portOf, testConfig, type TestHome } from '../helpers/admin-host.js';
import { requireAgentCli } from '../helpers/agent-clis.js';
import { pollFor as waitFor, processesIn } from '../helpers/agent-run.js';
import { startFakeAnthropic, type FakeModelServer } from '../helpers/fake-models.js';

const BIN = requireAgentCli('claude');

let api: FakeModelServer;
let home: TestHome;
let running: RunningHost;
let call: ReturnType<typeof adminApi>;

beforeEach(async () => {
  api = await startFakeAnthropic();
  home = makeHome('colony-toolcall-');
  const cliHome = join(home.dir, 'user-home');
  mkdirSync(cliHome);
  running = await startHost({
    paths: home.paths,
    config: testConfig({
      engines: { claude: { bin: BIN, tool_approval_timeout_s: 120 } },
      safety: { allowed_roots: [home.dir], extra_approval_patterns: ['touch approved\\.txt'], network_allow: ['127.0.0.1'] },
    }),
    adminPort: 0,
    userPort: 0,
    lan: false,
    concurrency: 1,
    logger: false,
    webRoot: null,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cliHome, ANTHROPIC_BASE_URL: api.baseUrl, ANTHROPIC_API_KEY: 'sk-ant-fake' },
  });
  call = adminApi(portOf(running), running.ctx.adminToken);
});
afterEach(async () => {
  await running.close();
  await api.close();
  home.cleanup();
});

async function submit(prompt: string): Promise<string> {
  const r = await call('POST', '/admin/execute', { prompt, engine: 'claude', workspace: home.workspace, run_timeout_s: 240 });
  expect(r.status, r.body).toBe(201);
  return (r.json.task_ids as string[])[0] as string;
}

async function finalState(id: string): Promise<Record<string, unknown>> {
  return waitFor(
    async () => {
      const t = (await call('GET', `/admin/tasks/${id}`)).json.task as Record<string, unknown> | undefined;
      return t && ['succeeded', 'failed', 'timed_out', 'cancelled', 'awaiting_approval'].includes(String(t.state)) ? t : undefined;
    },
    `task ${id} to end`,
    200_000,
    200,
  );
}

interface Pending {
  kind: string;
  id: string;
  task_id: string;
  tool: string;
  command?: string;
}

describe('tool calls held for the admin (real Claude Code CLI)', () => {
  it('holds a Bash command, shows it in pending, and lets the CLI continue once approved', async () => {
    api.enqueue({ kind: 'tool', name: 'Bash', input: { command: 'touch approved.txt', description: 'mark the release' } }, { kind: 'text', text: 'Marked.' });
    const id = await submit('Do the release step');
    const held = await waitFor(
      async () => {
        const list = (await call('GET', '/admin/pending')).json.tool_calls as Pending[] | undefined;
        return list?.find((p) => p.task_id === id);
      },
      'the held tool call',
      150_000,
      100,
    );
    expect(held).toMatchObject({ kind: 'tool_call', task_id: id, tool: 'Bash', command: 'touch approved.txt' });
    expect(existsSync(join(home.workspace, 'approved.txt'))).toBe(false); // the CLI is waiting
    const r = await call('POST', `/admin/approve/${held.id}`);
    expect(r.status, r.body).toBe(200);
    const t = await finalState(id);
    expect(t.state, JSON.stringify(t)).toBe('succeeded');
    expect(existsSync(join(home.workspace, 'approved.txt'))).toBe(true);
    expect(((await call('GET', '/admin/pending')).json.tool_calls as Pending[]).length).toBe(0);
    const audit = (await call('GET', '/admin/audit?limit=500')).json.records as { action: string; actor: string; detail: Record<string, unknown> }[];
    expect(audit.some((a) => a.action === 'safety.tool_call' && a.detail.verdict === 'needs_approval' && a.detail.command === 'touch approved.txt')).toBe(true);
    expect(audit.some((a) => a.action === 'tool_call.approve' && a.actor === 'admin')).toBe(true);
  }, 240_000);

  it('a rejected call is denied: the agent is told, the command never runs', async () => {
    api.enqueue({ kind: 'tool', name: 'Bash', input: { command: 'touch approved.txt' } }, { kind: 'text', text: 'Understood, not done.' });
    const id = await submit('Do the release step');
    const held = await waitFor(
      async () => ((await call('GET', '/admin/pending')).json.tool_calls as Pending[] | undefined)?.find((p) => p.task_id === id),
      'held call',
      150_000,
      100,
    );
    expect((await call('POST', `/admin/reject/${held.id}`)).status).toBe(200);
    await finalState(id);
    expect(existsSync(join(home.workspace, 'approved.txt'))).toBe(false);
    const sent = JSON.stringify(api.modelRequests().at(-1)?.body);
    expect(sent).toContain('an admin rejected this tool call');
    expect(processesIn(home.workspace)).toEqual([]);
  }, 240_000);
});
