/**
 * An API model cannot open files, so a diff it writes against a file it has
 * never seen will not apply. For files the task names explicitly, we include
 * their current text in the prompt, conservatively:
 *
 *  - only relative paths named in the task, resolved (symlinks too) inside the workspace;
 *  - never dotfiles or dot-directories (.env, .git/, .ssh/), nor names that look
 *    like secrets or keys: this text leaves the machine for the provider;
 *  - small text files only (no NUL byte, at most `maxBytes` each), a few files.
 */
import { realpath, readFile, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { mentionedFiles } from '../core/complexity.js';
import { unsafePath } from './diff-apply.js';

export interface FileContext {
  path: string;
  content: string;
}

const SECRET_NAME =
  /(^|[._-])(env|secrets?|credentials?|private|passwords?|passwd|tokens?|apikeys?|keys?)([._-]|$)|\.(pem|key|p12|pfx|jks|keystore|der|crt|cer|asc|gpg)$|^id_(rsa|dsa|ecdsa|ed25519)/i;

export function isShareablePath(p: string): boolean {
  if (unsafePath(p)) return false;
  const parts = p.split('/');
  if (parts.some((s) => s.startsWith('.'))) return false;
  return !SECRET_NAME.test(parts[parts.length - 1] ?? '');
}

export async function gatherFileContext(
  workspace: string,
  prompt: string,
  opts: { maxFiles?: number; maxBytes?: number } = {},
): Promise<FileContext[]> {
  const maxFiles = opts.maxFiles ?? 5;
  const maxBytes = opts.maxBytes ?? 20_000;
  const root = await realpath(workspace).catch(() => null);
  if (!root) return [];
  const out: FileContext[] = [];
  for (const p of mentionedFiles(prompt)) {
    if (out.length >= maxFiles) break;
    if (!isShareablePath(p)) continue;
    const real = await realpath(resolve(root, p)).catch(() => null);
    if (!real) continue;
    const rel = relative(root, real);
    if (!rel || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel) || !isShareablePath(rel.split(sep).join('/'))) continue;
    const st = await stat(real).catch(() => null);
    if (!st?.isFile() || st.size > maxBytes) continue;
    const buf = await readFile(real);
    if (buf.includes(0)) continue;
    out.push({ path: p, content: buf.toString('utf8') });
  }
  return out;
}

/** Renders the files as fenced blocks for the user message. */
export function renderFileContext(files: readonly FileContext[]): string {
  if (files.length === 0) return '';
  const parts = files.map((f) => {
    // A fence longer than any backtick run inside, so a Markdown file cannot close it early.
    const longest = Math.max(0, ...(f.content.match(/`+/g) ?? []).map((m) => m.length));
    const fence = '`'.repeat(Math.max(3, longest + 1));
    return `File: ${f.path}\n${fence}\n${f.content.replace(/\n$/, '')}\n${fence}`;
  });
  return `Current contents of the files named in the task:\n\n${parts.join('\n\n')}`;
}
