#!/usr/bin/env node
/**
 * Installs the pinned real agent CLIs (Claude Code, Codex, Gemini CLI, opencode)
 * from the npm registry into a cache OUTSIDE the repo, for the conformance tests.
 * They are not dependencies of colony: a newcomer's `npm install` stays lean.
 *
 *   node scripts/agent-clis.mjs install [claude codex gemini opencode]   # default: all
 *   node scripts/agent-clis.mjs paths                                     # JSON name -> binary (or null)
 *
 * Cache: $COLONY_AGENT_CLI_CACHE, else ~/.cache/colony-agent-clis; one folder per
 * `<pkg>@<version>`, reused when its binary is there (CI keeps it between runs).
 * Install scripts are not run: the native platform binaries are called directly
 * (THIRD-PARTY.md: the wrappers' postinstall stubs and Node-20 double processes).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

const hasAvx2 = (() => {
  try {
    return /\bavx2\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return true;
  }
})();

/** Pinned versions (re-check THIRD-PARTY.md when bumping one; keep test/helpers/agent-clis.ts in step). `bin` is relative to the install folder. */
export const AGENT_CLIS = {
  claude: {
    pkg: '@anthropic-ai/claude-code',
    version: '2.1.197',
    bin: 'node_modules/@anthropic-ai/claude-code-linux-x64/claude',
    node: false,
  },
  codex: {
    pkg: '@openai/codex',
    version: '0.169.0',
    bin: 'node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex',
    node: false,
  },
  gemini: {
    pkg: '@google/gemini-cli',
    version: '0.61.0',
    bin: 'node_modules/@google/gemini-cli/bundle/gemini.js',
    node: true, // a JavaScript bundle: run with the current node
  },
  opencode: {
    pkg: 'opencode-ai',
    version: '1.18.33',
    bin: hasAvx2 ? 'node_modules/opencode-linux-x64/bin/opencode' : 'node_modules/opencode-linux-x64-baseline/bin/opencode',
    node: false,
    extra: hasAvx2 ? [] : ['opencode-linux-x64-baseline@1.18.33'],
  },
};

export function cacheRoot(env = process.env) {
  return env.COLONY_AGENT_CLI_CACHE || path.join(homedir(), '.cache', 'colony-agent-clis');
}

export function installDir(name, env = process.env) {
  const c = AGENT_CLIS[name];
  return path.join(cacheRoot(env), `${c.pkg.replace('/', '+')}@${c.version}`);
}

export function binaryPath(name, env = process.env) {
  const p = path.join(installDir(name, env), AGENT_CLIS[name].bin);
  return existsSync(p) ? p : null;
}

function install(name) {
  const c = AGENT_CLIS[name];
  if (binaryPath(name)) {
    console.log(`${name}: ${c.pkg}@${c.version} cached in ${installDir(name)}`);
    return true;
  }
  const dir = installDir(name);
  const tmp = `${dir}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  console.log(`${name}: installing ${c.pkg}@${c.version} into ${dir} …`);
  const r = spawnSync(
    'npm',
    [
      'install',
      '--prefix',
      tmp,
      '--no-save',
      '--no-audit',
      '--no-fund',
      '--no-package-lock',
      '--ignore-scripts',
      '--loglevel=error',
      `${c.pkg}@${c.version}`,
      ...(c.extra ?? []),
    ],
    { stdio: 'inherit', env: { ...process.env, npm_config_update_notifier: 'false' } },
  );
  if (r.status !== 0 || !existsSync(path.join(tmp, c.bin))) {
    rmSync(tmp, { recursive: true, force: true });
    console.error(`${name}: install failed (npm exit ${r.status}); the binary ${c.bin} is missing`);
    return false;
  }
  // Moved into place only when complete, so an interrupted install is never taken for a cached one.
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return true;
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname);
if (isMain) {
  const [cmd = 'install', ...rest] = process.argv.slice(2);
  const names = rest.length ? rest : Object.keys(AGENT_CLIS);
  const unknown = names.filter((n) => !(n in AGENT_CLIS));
  if (unknown.length) {
    console.error(`unknown CLI(s): ${unknown.join(', ')}; known: ${Object.keys(AGENT_CLIS).join(', ')}`);
    process.exit(2);
  }
  if (cmd === 'paths') {
    console.log(JSON.stringify(Object.fromEntries(names.map((n) => [n, binaryPath(n)])), null, 2));
  } else if (cmd === 'install') {
    mkdirSync(cacheRoot(), { recursive: true });
    const failed = names.filter((n) => !install(n));
    if (failed.length) process.exit(1);
  } else {
    console.error('usage: agent-clis.mjs install|paths [claude codex gemini opencode]');
    process.exit(2);
  }
}
