/**
 * Where an agent CLI lives and talks, for the OS sandbox of its attempts:
 * the CLI's install folder (bound read-only: the pinned CLIs sit in a cache
 * under the user's home, which the sandbox hides) and its default endpoint.
 */
import { existsSync, realpathSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, sep } from 'node:path';

/** Where an engine talks when no base_url is configured. */
export const DEFAULT_ENDPOINTS = {
  claude: 'https://api.anthropic.com',
  codex: 'https://api.openai.com/v1',
  gemini: 'https://generativelanguage.googleapis.com',
  opencode: 'https://opencode.ai',
} as const;

/** The binary as it would be run: a path, or the first match on PATH; null when not found. */
export function findBinary(bin: string, env: NodeJS.ProcessEnv = process.env): string | null {
  if (bin.includes('/')) return existsSync(bin) ? (isAbsolute(bin) ? bin : join(process.cwd(), bin)) : null;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, bin);
    if (existsSync(p)) return p;
  }
  return null;
}

/**
 * The folder a CLI needs to run: for an npm install (`…/node_modules/…`) the
 * folder holding the outermost node_modules (the package with its
 * dependencies and native parts), else the binary's own folder.
 */
export function installRootOf(bin: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const found = findBinary(bin, env);
  if (!found) return null;
  let file = found;
  try {
    file = realpathSync.native(found);
  } catch {
    /* reported when it is spawned */
  }
  const at = file.indexOf(`${sep}node_modules${sep}`);
  return at > 0 ? file.slice(0, at) : dirname(file);
}
