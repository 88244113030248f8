/**
 * "Request changes" on a pending change continues the agent's session: the
 * REAL Claude Code CLI (pinned, scripts/agent-clis.mjs) against a fake
 * Anthropic API on 127.0.0.1, on a real host (pool, OS sandbox, store, admin
 * and user apps, git worktree).
 *
 * The first attempt writes hello.txt: a pending change. The admin requests
 * changes with a comment; the task runs again in the same worktree with
 * `--resume <session>`: the fake API sees the earlier conversation (the first
 * prompt, the tool call and its result) followed by the comment; the updated
 * pending change holds both files and replaces the old one (superseded, then
 * pending again with the new head; every step audited). Who may call: a LAN
 * user cannot (the user app has no /admin routes), a caller without the admin
 * token cannot; the admin can. A follow-up that fails (the API refuses the key
 * mid-run) leaves the reviewed change pending, its worktree clean at the
 * reviewed head, and the task succeeded as before.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agentStateDirOf } from '../../src/runner/agent-state.js';
import { startHost, type RunningHost } from '../../src/server/host-server.js';
import { adminApi, makeHome, portOf, rawRequest, testConfig, type TestHome } from '../helpers/admin-host.js';
import { requireAgentCli } from '../helpers/agent-clis.js';
import { pollFor as waitFor } from '../helpers/agent-run.js';
import { startFakeAnthropic, type FakeModelServer } from '../helpers/fake-models.js';

const BIN = requireAgentCli('claude');
const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();

let api: FakeModelServer;
let home: TestHome;
let running: RunningHost;
let call: ReturnType<typeof adminApi>;

beforeEach(async () => {
  api = await startFakeAnthropic();
  home = makeHome('colony-followup-');
  const repo = home.workspace;
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'config', 'user.email', 't@example.com');
  git(repo, 'config', 'user.name', 't');
  writeFileSync(join(repo, 'README.md'), 'project\n');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'init');
  const cliHome = join(home.dir, 'user-home');
  execFileSync('mkdir', ['-p', cliHome]);
  running = await startHost({
    paths: home.paths,
    config: testConfig({
      engines: { claude: { bin: BIN } },
      safety: { allowed_roots: [home.dir], network_allow: ['127.0.0.1'] },
    }),
    adminPort: 0,
    userPort: 0,
    lan: true,
    insecureHttp: true,
    hostIp: '127.0.0.1',
    concurrency: 1,
    logger: false,
    webRoot: null,
    lanCode: null,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cliHome, ANTHROPIC_BASE_URL: api.baseUrl, ANTHROPIC_API_KEY: 'sk-ant-fake' },
  });
  call = adminApi(portOf(running), running.ctx.adminToken);
});
afterEach(async () => {
  await running.close();
  await api.close();
  home.cleanup();
});

interface Change {
  task_id: string;
  status: string;
  head_commit: string;
  files: { path: string }[];
}

/** Claude Code's session transcripts under a config dir (`projects/<cwd>/<session>.jsonl`). */
const sessionFiles = (configDir: string): string[] =>
  existsSync(join(configDir, 'projects'))
    ? (readdirSync(join(configDir, 'projects'), { recursive: true }) as string[]).filter((f) => f.endsWith('.jsonl'))
    : [];

const changeOf = async (id: string): Promise<Change> => (await call('GET', `/admin/pending-changes/${id}`)).json.change as Change;
const h = (): RunningHost['host'] => running.host;
const taskOf = async (id: string): Promise<Record<string, unknown>> => (await call('GET', `/admin/tasks/${id}`)).json.task as Record<string, unknown>;

describe('request changes resumes the agent session (real Claude Code CLI)', () => {
  it('continues the same conversation with the comment and produces an updated pending change; only the admin may ask', async () => {
    api.enqueue(
      { kind: 'tool', name: 'Bash', input: { command: "printf 'hello\\n' > hello.txt", description: 'write the greeting' } },
      { kind: 'text', text: 'Created hello.txt.' },
    );
    const r = await call('POST', '/admin/execute', {
      prompt: 'Create hello.txt with a greeting',
      engine: 'claude',
      workspace: home.workspace,
      run_timeout_s: 240,
    });
    expect(r.status, r.body).toBe(201);
    const id = (r.json.task_ids as string[])[0] as string;
    const first = await waitFor(
      async () => {
        const c = (await call('GET', `/admin/pending-changes/${id}`)).json.change as Change | undefined;
        const t = await taskOf(id);
        if (t && ['failed', 'timed_out', 'cancelled'].includes(String(t.state))) throw new Error(`task ended ${String(t.state)}: ${JSON.stringify(t)}`);
        return c?.status === 'pending' && t?.state === 'succeeded' ? c : undefined;
      },
      'the first pending change',
      200_000,
      200,
    );
    expect(first.files.map((f) => f.path)).toEqual(['hello.txt']);
    const firstCalls = api.modelRequests().length;

    // Who may call: not a LAN user (no /admin route on the user app), not a caller without the admin token.
    const user = running.user;
    if (!user) throw new Error('the user app did not start');
    const session = await user.inject({ method: 'POST', url: '/api/session', remoteAddress: '10.0.0.2', payload: { display_name: 'Mallory' } });
    expect(session.statusCode).toBe(201);
    const cookie = `colony_session=${session.cookies.find((k) => k.name === 'colony_session')?.value}`;
    const lan = await user.inject({
      method: 'POST',
      url: `/admin/pending-changes/${id}/request-changes`,
      remoteAddress: '10.0.0.2',
      headers: { cookie, authorization: `Bearer ${running.ctx.adminToken}` },
      payload: { comment: 'rm -rf everything' },
    });
    expect(lan.statusCode).toBe(404);
    const port = portOf(running);
    const anon = await rawRequest(port, {
      method: 'POST',
      path: `/admin/pending-changes/${id}/request-changes`,
      headers: { host: `127.0.0.1:${port}`, 'content-type': 'application/json' },
      body: JSON.stringify({ comment: 'no token' }),
    });
    expect([401, 403]).toContain(anon.status);
    expect((await changeOf(id)).status).toBe('pending');
    expect((await call('POST', `/admin/pending-changes/${id}/request-changes`, { comment: '   ' })).status).toBe(400);
    expect(api.modelRequests().length).toBe(firstCalls);

    // The admin asks for changes.
    api.enqueue(
      { kind: 'tool', name: 'Bash', input: { command: "printf 'bye\\n' > bye.txt", description: 'write the farewell' } },
      { kind: 'text', text: 'Added bye.txt.' },
    );
    const COMMENT = 'Please also add bye.txt with a farewell.';
    const asked = await call('POST', `/admin/pending-changes/${id}/request-changes`, { comment: COMMENT });
    expect(asked.status, asked.body).toBe(202);
    const followUp = asked.json.follow_up as { seq: number; engine: string; resume_session: string | null; previous_head: string };
    expect(followUp).toMatchObject({ seq: 1, engine: 'claude', previous_head: first.head_commit });
    expect(followUp.resume_session).toMatch(/^[0-9a-f-]{36}$/);
    expect((asked.json.change as Change).status).toBe('superseded');
    // While the follow-up runs the old change cannot be approved.
    expect((await call('POST', `/admin/approve/${id}`)).status).not.toBe(200);

    const updated = await waitFor(
      async () => {
        const c = await changeOf(id);
        const t = await taskOf(id);
        return c.status === 'pending' && c.head_commit !== first.head_commit && t.state === 'succeeded' ? c : undefined;
      },
      'the updated pending change',
      200_000,
      200,
    );
    expect(updated.files.map((f) => f.path).sort()).toEqual(['bye.txt', 'hello.txt']);

    // The resumed conversation: the request carrying the comment also carries the first prompt, the first tool call and its result.
    const resumed = api
      .modelRequests()
      .slice(firstCalls)
      .map((q) => JSON.stringify(q.body))
      .find((b) => b.includes(COMMENT));
    expect(resumed !== undefined, 'no model request carried the comment').toBe(true);
    // (booleans, not toContain: the request body is ~100 KB of system prompt)
    expect(resumed?.includes('Create hello.txt with a greeting'), 'the first prompt is not in the resumed conversation').toBe(true);
    expect(resumed?.includes('write the greeting'), 'the first tool call is not in the resumed conversation').toBe(true);
    expect(resumed?.includes('tool_result'), 'the first tool result is not in the resumed conversation').toBe(true);
    const msgs = (api.modelRequests().find((q) => JSON.stringify(q.body).includes(COMMENT))?.body as { messages: { role: string }[] }).messages;
    expect(msgs.length).toBeGreaterThanOrEqual(4); // prompt, tool use, tool result, answer… then the comment

    const attempts = (await call('GET', `/admin/tasks/${id}`)).json.attempts as { attempt: number; state: string }[] | undefined;
    if (attempts) expect(attempts.map((a) => a.state)).toEqual(['succeeded', 'succeeded']);
    const audit = (await call('GET', '/admin/audit?limit=500')).json.records as { action: string; actor: string; target: string }[];
    const mine = audit.filter((a) => a.target === id).map((a) => `${a.action}:${a.actor}`);
    expect(mine).toEqual(expect.arrayContaining(['change.superseded:admin', 'change.changes_requested:admin', 'change.follow_up_done:system']));

    // The session lives in the task's own agent-state folder (0700), not in the shared ~/.claude.
    const stateDir = agentStateDirOf(home.paths.home, id);
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    expect(sessionFiles(stateDir).some((f) => f.endsWith(`${followUp.resume_session}.jsonl`))).toBe(true);
    expect(sessionFiles(join(home.dir, 'user-home', '.claude'))).toEqual([]);

    // Approving the updated change merges both files, and the task's agent state goes with its worktree.
    expect((await call('POST', `/admin/approve/${id}`)).status).toBe(200);
    expect(git(home.workspace, 'show', 'main:hello.txt')).toBe('hello');
    expect(git(home.workspace, 'show', 'main:bye.txt')).toBe('bye');
    expect(existsSync(stateDir)).toBe(false);
  }, 420_000);

  it("two claude tasks cannot read each other's sessions: each has its own agent-state folder", async () => {
    const SECRET = 'Q7#zebra%quartz'; // punctuation: the task id (a slug of the prompt) cannot carry it
    api.enqueue({ kind: 'tool', name: 'Bash', input: { command: "printf 'a\\n' > a.txt", description: 'write a' } }, { kind: 'text', text: 'Done.' });
    const a = await call('POST', '/admin/execute', { prompt: `Write a.txt ${SECRET}`, engine: 'claude', workspace: home.workspace, run_timeout_s: 240 });
    const idA = (a.json.task_ids as string[])[0] as string;
    await waitFor(async () => ((await taskOf(idA)).state === 'succeeded' ? true : undefined), 'task A', 200_000, 200); // its change is pending
    const dirA = agentStateDirOf(home.paths.home, idA);
    const fileA = sessionFiles(dirA).map((f) => join(dirA, 'projects', f))[0];
    expect(fileA, 'task A kept no session in its folder').toBeDefined();
    expect(readFileSync(fileA as string, 'utf8')).toContain(SECRET); // the legitimate side: A's own transcript is there

    // Task B (the attacker) tries to read A's transcript by its host path, and looks for sessions in its own config dir and ~/.claude.
    const probe = `cat '${fileA}' 2>&1; echo "own:"; ls -R "$CLAUDE_CONFIG_DIR/projects" 2>&1; echo "home:"; ls -R ~/.claude 2>&1; true`;
    api.enqueue({ kind: 'tool', name: 'Bash', input: { command: probe, description: 'look around' } }, { kind: 'text', text: 'Looked.' });
    const before = api.modelRequests().length;
    const b = await call('POST', '/admin/execute', { prompt: 'Look around', engine: 'claude', workspace: home.workspace, run_timeout_s: 240 });
    const idB = (b.json.task_ids as string[])[0] as string;
    await waitFor(async () => (['succeeded', 'failed'].includes(String((await taskOf(idB)).state)) ? true : undefined), 'task B', 200_000, 200);
    const seen = api
      .modelRequests()
      .slice(before)
      .map((q) => JSON.stringify(q.body))
      .find((body) => body.includes('own:'));
    expect(seen !== undefined, 'task B never ran its probe').toBe(true);
    const at = seen?.indexOf(SECRET) ?? -1;
    expect(at, `task B read task A's session: …${seen?.slice(Math.max(0, at - 1500), at + 300)}…`).toBe(-1);
    expect(seen?.includes('No such file'), 'the path of A was not refused').toBe(true);
    // B left no change: its worktree and its agent state are gone; A's (pending) stays.
    expect(existsSync(agentStateDirOf(home.paths.home, idB))).toBe(false);
    expect(existsSync(fileA as string)).toBe(true);
  }, 420_000);

  it('a follow-up that fails leaves the reviewed change pending again, the worktree at its head and the task succeeded', async () => {
    api.enqueue(
      { kind: 'tool', name: 'Bash', input: { command: "printf 'hello\\n' > hello.txt", description: 'write the greeting' } },
      { kind: 'text', text: 'Created hello.txt.' },
    );
    const r = await call('POST', '/admin/execute', { prompt: 'Create hello.txt', engine: 'claude', workspace: home.workspace, run_timeout_s: 240 });
    const id = (r.json.task_ids as string[])[0] as string;
    const first = await waitFor(
      async () => {
        const c = (await call('GET', `/admin/pending-changes/${id}`)).json.change as Change | undefined;
        return c?.status === 'pending' && (await taskOf(id)).state === 'succeeded' ? c : undefined;
      },
      'the first pending change',
      200_000,
      200,
    );
    // The follow-up writes a file, then the API refuses the key: the attempt fails (E_ENGINE_AUTH).
    api.enqueue(
      { kind: 'tool', name: 'Bash', input: { command: "printf 'half\\n' > half-done.txt", description: 'partial work' } },
      { kind: 'error', status: 401, message: 'invalid x-api-key', times: 'forever' },
    );
    const asked = await call('POST', `/admin/pending-changes/${id}/request-changes`, { comment: 'Add half-done.txt and more.' });
    expect(asked.status, asked.body).toBe(202);
    await waitFor(
      async () => {
        const t = await taskOf(id);
        const c = await changeOf(id);
        const attempts = h().store.attemptsOf(id);
        return attempts.length === 2 && attempts[1]?.finished_at !== null && t.state === 'succeeded' && c.status === 'pending' ? true : undefined;
      },
      'the follow-up to fail and the change to be pending again',
      200_000,
      200,
    );
    const attempts = h().store.attemptsOf(id);
    expect(attempts[1]?.error_code).toBe('E_ENGINE_AUTH');
    const c = await changeOf(id);
    expect(c.head_commit).toBe(first.head_commit);
    expect(c.files.map((f) => f.path)).toEqual(['hello.txt']);
    const wt = (await call('GET', `/admin/pending-changes/${id}`)).json.change as { worktree_path: string };
    expect(git(wt.worktree_path, 'rev-parse', 'HEAD')).toBe(first.head_commit);
    expect(git(wt.worktree_path, 'status', '--porcelain')).toBe(''); // the partial file is gone
    const audit = (await call('GET', '/admin/audit?limit=500')).json.records as { action: string; target: string }[];
    expect(audit.filter((a) => a.target === id).map((a) => a.action)).toEqual(expect.arrayContaining(['change.follow_up_failed', 'change.restored']));
    // It can be approved as reviewed.
    expect((await call('POST', `/admin/approve/${id}`)).status).toBe(200);
    expect(git(home.workspace, 'show', 'main:hello.txt')).toBe('hello');
  }, 420_000);
});
