import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config.js';
import { resolveHome } from '../../src/runner/home.js';
import { startHost, type RunningHost } from '../../src/server/host-server.js';
import { waitFor } from '../helpers/proc.js';

const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();

function makeRepo(): string {
  const dir = mkdtempSync(join(tmpdir(), 'colony-repo-'));
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'config', 'user.email', 't@example.com');
  git(dir, 'config', 'user.name', 't');
  writeFileSync(join(dir, 'app.txt'), 'line 1\nline 2\n');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'init');
  return dir;
}

describe('pending changes end to end', () => {
  let host: RunningHost | null = null;
  const dirs: string[] = [];
  afterEach(async () => {
    await host?.close(0);
    host = null;
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function start(
    extra: Record<string, unknown> = {},
  ): Promise<{ repo: string; call: <T>(m: string, p: string, b?: unknown) => Promise<{ status: number; body: T }> }> {
    const repo = makeRepo();
    const home = mkdtempSync(join(tmpdir(), 'colony-home-'));
    dirs.push(repo, home);
    const cfg = parseConfig({ runner: { worktrees: 'all', concurrency: 2 }, safety: { allowed_roots: [repo, join(tmpdir(), 'colony-worktrees')], ...extra } });
    if (!cfg.ok) throw new Error(cfg.problems.join());
    host = await startHost({ paths: resolveHome(home), config: cfg.config, adminPort: 0, userPort: 0, lan: false, logger: false, webRoot: null });
    const token = host.ctx.adminToken;
    const base = host.adminUrl.replace(/\/$/, '');
    const call = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
      const res = await fetch(base + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: res.status, body: (await res.json()) as T };
    };
    return { repo, call };
  }

  it('turns a task edit into a pending change, and approve merges it into the target branch', async () => {
    const { repo, call } = await start();
    const sub = await call<{ task_ids: string[] }>('POST', '/admin/execute', {
      prompt: "printf 'line 1\\nline 2 changed\\n' > app.txt && echo new > added.txt",
      engine: 'exec',
      workspace: repo,
    });
    expect(sub.status).toBe(201);
    const id = sub.body.task_ids[0] as string;
    const change = await waitFor(
      async () => {
        const r = await call<{ change?: { stat: { files_changed: number }; patch: string; files: { path: string }[] } }>(
          'GET',
          `/admin/pending-changes/${encodeURIComponent(id)}`,
        );
        return r.status === 200 ? (r.body.change ?? null) : null;
      },
      'the pending change',
      15_000,
      100,
    );
    expect(change.stat.files_changed).toBe(2);
    expect(change.patch).toContain('+line 2 changed');
    expect(change.files.map((f) => f.path).sort()).toEqual(['added.txt', 'app.txt']);
    // The user's checkout is untouched until approval.
    expect(readFileSync(join(repo, 'app.txt'), 'utf8')).toBe('line 1\nline 2\n');
    const list = await call<{ changes: { task_id: string }[] }>('GET', '/admin/pending-changes');
    expect(list.body.changes.map((c) => c.task_id)).toContain(id);
    const ok = await call<{ change: { status: string; merge_commit: string } }>('POST', `/admin/approve/${encodeURIComponent(id)}`);
    expect(ok.status).toBe(200);
    expect(ok.body.change.status).toBe('approved');
    expect(git(repo, 'show', 'main:app.txt')).toBe('line 1\nline 2 changed');
    expect(git(repo, 'show', 'main:added.txt')).toBe('new');
    expect(readFileSync(join(repo, 'added.txt'), 'utf8')).toBe('new\n');
  });

  it('reject removes the branch and leaves the target untouched', async () => {
    const { repo, call } = await start();
    const before = git(repo, 'rev-parse', 'main');
    const sub = await call<{ task_ids: string[] }>('POST', '/admin/execute', { prompt: 'echo gone > app.txt', engine: 'exec', workspace: repo });
    const id = sub.body.task_ids[0] as string;
    await waitFor(
      async () => ((await call('GET', `/admin/pending-changes/${encodeURIComponent(id)}`)).status === 200 ? true : null),
      'the admin API to report it',
      15_000,
      100,
    );
    const r = await call<{ change: { status: string; branch: string } }>('POST', `/admin/reject/${encodeURIComponent(id)}`);
    expect(r.body.change.status).toBe('rejected');
    expect(git(repo, 'rev-parse', 'main')).toBe(before);
    expect(git(repo, 'branch', '--list', 'colony/*')).toBe('');
  });

  it('reports a conflict and leaves the target branch and checkout untouched', async () => {
    const { repo, call } = await start();
    const sub = await call<{ task_ids: string[] }>('POST', '/admin/execute', { prompt: "printf 'task version\\n' > app.txt", engine: 'exec', workspace: repo });
    const id = sub.body.task_ids[0] as string;
    await waitFor(
      async () => ((await call('GET', `/admin/pending-changes/${encodeURIComponent(id)}`)).status === 200 ? true : null),
      'the admin API to report it',
      15_000,
      100,
    );
    writeFileSync(join(repo, 'app.txt'), 'user version\n');
    git(repo, 'commit', '-qam', 'user edit');
    const head = git(repo, 'rev-parse', 'main');
    const r = await call<{ code: string; message: string }>('POST', `/admin/approve/${encodeURIComponent(id)}`);
    expect(r.status).toBe(409);
    expect(r.body.code).toBe('E_CONFLICT');
    expect(r.body.message).toContain('app.txt');
    expect(git(repo, 'rev-parse', 'main')).toBe(head);
    expect(git(repo, 'status', '--porcelain')).toBe('');
    expect(readFileSync(join(repo, 'app.txt'), 'utf8')).toBe('user version\n');
  });

  it('holds dependents until the change is approved when configured', async () => {
    const { repo, call } = await start({ require_approval_of_changes: true });
    const graph = {
      name: 'held',
      tasks: [
        { id: 'edit', engine: 'exec', prompt: 'echo edited > app.txt', workspace: repo },
        { id: 'after', engine: 'exec', prompt: 'true', workspace: repo, depends_on: ['edit'] },
      ],
    };
    const sub = await call<{ task_ids: string[] }>('POST', '/admin/execute', { graph });
    const [edit, after] = sub.body.task_ids as [string, string];
    await waitFor(
      async () =>
        (await call<{ task: { state: string } }>('GET', `/admin/tasks/${encodeURIComponent(edit)}`)).body.task.state === 'awaiting_approval' ? true : null,
      'the admin API to report it',
      15_000,
      100,
    );
    await new Promise((r) => setTimeout(r, 600));
    expect((await call<{ task: { state: string } }>('GET', `/admin/tasks/${encodeURIComponent(after)}`)).body.task.state).toBe('waiting');
    await call('POST', `/admin/approve/${encodeURIComponent(edit)}`);
    await waitFor(
      async () => ((await call<{ task: { state: string } }>('GET', `/admin/tasks/${encodeURIComponent(after)}`)).body.task.state === 'succeeded' ? true : null),
      'the admin API to report it',
      15_000,
      100,
    );
    expect((await call<{ task: { state: string } }>('GET', `/admin/tasks/${encodeURIComponent(edit)}`)).body.task.state).toBe('succeeded');
    expect(existsSync(join(repo, 'app.txt'))).toBe(true);
  });

  it('fails a task that writes a protected file and restores the file', async () => {
    const { repo, call } = await start();
    // Tracked, so it exists in the task's worktree: changing an existing protected file is tampering
    // (creating a new one there would be normal work).
    writeFileSync(join(repo, '.env'), 'SECRET=1\n');
    execFileSync('git', ['-C', repo, 'add', '.env']);
    execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'env']);
    const sub = await call<{ task_ids: string[] }>('POST', '/admin/execute', { prompt: 'echo SECRET=stolen >> .env', engine: 'exec', workspace: repo });
    const id = sub.body.task_ids[0] as string;
    const t = await waitFor(
      async () => {
        const r = await call<{ task: { state: string; state_reason: string } }>('GET', `/admin/tasks/${encodeURIComponent(id)}`);
        return r.body.task.state === 'failed' ? r.body.task : null;
      },
      'the task to fail',
      15_000,
      100,
    );
    expect(t.state_reason).toMatch(/protected file/);
    expect(readFileSync(join(repo, '.env'), 'utf8')).toBe('SECRET=1\n');
  });

  it('in a task worktree (protected files from git, no walk): a new git hook fails the task, a new dev key does not', async () => {
    const { repo, call } = await start();
    const hook = await call<{ task_ids: string[] }>('POST', '/admin/execute', {
      prompt: `printf '#!/bin/sh\\n' > "$(git rev-parse --git-common-dir)/hooks/post-merge"`,
      engine: 'exec',
      workspace: repo,
    });
    const key = await call<{ task_ids: string[] }>('POST', '/admin/execute', { prompt: 'echo not-a-real-key > dev.key', engine: 'exec', workspace: repo });
    const ended = async (id: string) =>
      waitFor(
        async () => {
          const r = await call<{ task: { state: string; state_reason: string } }>('GET', `/admin/tasks/${encodeURIComponent(id)}`);
          return ['failed', 'succeeded'].includes(r.body.task.state) ? r.body.task : null;
        },
        `task ${id} to end`,
        30_000,
      );
    const h = await ended(hook.body.task_ids[0] as string);
    expect(h.state).toBe('failed');
    // The OS sandbox mounts the main .git read-only (the write fails); without it the guard reports the new hook.
    expect(h.state_reason).toMatch(/protected file.*hooks\/post-merge|E_ENGINE: exit/);
    expect(existsSync(join(repo, '.git', 'hooks', 'post-merge'))).toBe(false);
    expect((await ended(key.body.task_ids[0] as string)).state).toBe('succeeded');
  });
});
