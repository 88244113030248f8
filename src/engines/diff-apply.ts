/**
 * Applies the fenced unified diffs of a model's answer to the task workspace
 * (DESIGN §3: "a fenced unified diff in the answer is applied to the task's
 * worktree"). Each block is checked with `git apply --check` before it is
 * applied, so a block that does not apply changes nothing, and blocks already
 * applied are reverted: the workspace ends up with all of the answer or none.
 *
 * Paths are checked before git sees them: no absolute paths, no `..`, nothing
 * under `.git`. git itself refuses paths through symlinks. `git apply` works
 * in a plain directory too, and in a subdirectory of a repository it applies
 * paths relative to that subdirectory, which is what a workspace wants.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type ApplyResult = { ok: true; files: string[] } | { ok: false; reason: string };

const OPEN_FENCE = /^ {0,3}(`{3,}|~{3,})[ \t]*(diff|patch|udiff)\b[^\n`]*$/i;

/** The contents of ```diff / ```patch fenced blocks, in order. An unterminated last block counts (truncated answers). */
export function extractDiffBlocks(answer: string): string[] {
  const lines = answer.split('\n');
  const blocks: string[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const open = OPEN_FENCE.exec(lines[i] ?? '');
    if (!open?.[1]) continue;
    const fence = open[1];
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j += 1) {
      const l = (lines[j] ?? '').replace(/\r$/, '');
      if (new RegExp(`^ {0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`).test(l)) break;
      body.push(l);
    }
    blocks.push(`${body.join('\n').replace(/\s+$/, '')}\n`);
    i = j;
  }
  return blocks;
}

export type PatchCheck = { ok: true; strip: 0 | 1; paths: string[] } | { ok: false; reason: string };

/**
 * Reads the file names of a unified diff and decides the strip level: with
 * `a/` and `b/` prefixes everywhere (git style) strip one component, else none.
 */
export function checkPatch(diff: string): PatchCheck {
  const raw: { side: 'a' | 'b'; path: string }[] = [];
  let hunks = 0;
  for (const line of diff.split('\n')) {
    if (line.startsWith('--- ')) raw.push({ side: 'a', path: headerPath(line.slice(4)) });
    else if (line.startsWith('+++ ')) raw.push({ side: 'b', path: headerPath(line.slice(4)) });
    else if (line.startsWith('@@ ')) hunks += 1;
    else if (line.startsWith('rename from ') || line.startsWith('copy from ')) raw.push({ side: 'a', path: `a/${line.replace(/^(rename|copy) from /, '')}` });
    else if (line.startsWith('rename to ') || line.startsWith('copy to ')) raw.push({ side: 'b', path: `b/${line.replace(/^(rename|copy) to /, '')}` });
  }
  if (raw.length === 0) return { ok: false, reason: 'the diff has no file headers (--- a/file, +++ b/file)' };
  if (hunks === 0 && !/^(rename|copy) (from|to) /m.test(diff)) return { ok: false, reason: 'the diff has no hunks (@@ … @@)' };
  const named = raw.filter((r) => r.path !== '/dev/null');
  const gitStyle = named.length > 0 && named.every((r) => r.path.startsWith(`${r.side}/`));
  const strip: 0 | 1 = gitStyle ? 1 : 0;
  const paths = new Set<string>();
  for (const r of named) {
    const p = strip ? r.path.slice(2) : r.path;
    const bad = unsafePath(p);
    if (bad) return { ok: false, reason: `refusing path '${p}': ${bad}` };
    paths.add(p);
  }
  return { ok: true, strip, paths: [...paths] };
}

function headerPath(rest: string): string {
  // "a/x.ts\t2024-01-01 …" (GNU diff timestamps) or a quoted path.
  let p = rest.split('\t')[0] ?? '';
  p = p.trim();
  if (p.startsWith('"') && p.endsWith('"')) p = p.slice(1, -1);
  return p;
}

export function unsafePath(p: string): string | null {
  if (!p) return 'empty path';
  if (p.startsWith('/') || /^[a-z]:[\\/]/i.test(p) || p.startsWith('~')) return 'absolute paths are not allowed';
  if (p.includes('\\') || p.includes('\0')) return 'backslashes and NUL are not allowed';
  const parts = p.split('/');
  if (parts.includes('..')) return "'..' is not allowed";
  if (parts.some((s) => s.toLowerCase() === '.git')) return 'the .git directory is off limits';
  return null;
}

interface GitRun {
  code: number;
  stderr: string;
}

function git(args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<GitRun> {
  return new Promise((resolve) => {
    execFile('git', args, { cwd, env, timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, _stdout, stderr) => {
      if (!err) return resolve({ code: 0, stderr: String(stderr) });
      const e = err as NodeJS.ErrnoException & { code?: number | string };
      const missing = e.code === 'ENOENT';
      resolve({ code: typeof e.code === 'number' ? e.code : 1, stderr: missing ? 'git is not installed or not on PATH' : String(stderr || e.message) });
    });
  });
}

export interface ApplyOptions {
  path?: string; // PATH for finding git; default process.env.PATH
  timeoutMs?: number;
}

/** Checks then applies each block in the workspace; on any failure reverts what was applied and says why. */
export async function applyDiffs(workspace: string, blocks: readonly string[], opts: ApplyOptions = {}): Promise<ApplyResult> {
  // A controlled environment: English messages, no GIT_DIR or the like inherited from the host.
  const env: NodeJS.ProcessEnv = { PATH: opts.path ?? process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', HOME: tmpdir() };
  const timeout = opts.timeoutMs ?? 30_000;
  const dir = await mkdtemp(join(tmpdir(), 'colony-patch-'));
  const applied: { file: string; strip: 0 | 1 }[] = [];
  const files = new Set<string>();
  try {
    for (const [i, block] of blocks.entries()) {
      const which = blocks.length > 1 ? `diff block ${i + 1} of ${blocks.length}` : 'the diff';
      const check = checkPatch(block);
      if (!check.ok) return await revert(`${which}: ${check.reason}`);
      const file = join(dir, `block-${i}.diff`);
      await writeFile(file, block);
      // --recount: models miscount hunk line numbers far more often than they get the context wrong.
      const base = ['apply', '--recount', '--whitespace=nowarn', `-p${check.strip}`];
      const dry = await git([...base, '--check', file], workspace, env, timeout);
      if (dry.code !== 0) return await revert(`${which} does not apply: ${cleanGit(dry.stderr, file)}`);
      const real = await git([...base, file], workspace, env, timeout);
      if (real.code !== 0) return await revert(`${which} failed to apply: ${cleanGit(real.stderr, file)}`);
      applied.push({ file, strip: check.strip });
      for (const p of check.paths) files.add(p);
    }
    return { ok: true, files: [...files] };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  async function revert(reason: string): Promise<ApplyResult> {
    for (const a of [...applied].reverse()) {
      const r = await git(['apply', '--recount', '--whitespace=nowarn', '-R', `-p${a.strip}`, a.file], workspace, env, timeout);
      if (r.code !== 0) return { ok: false, reason: `${reason}; reverting an earlier block also failed: ${cleanGit(r.stderr, a.file)}` };
    }
    return { ok: false, reason };
  }
}

function cleanGit(stderr: string, file: string): string {
  const text = stderr.split(file).join('<diff>').trim().replace(/\n+/g, '; ');
  return text.length > 800 ? `${text.slice(0, 800)}…` : text || 'git apply failed without a message';
}
