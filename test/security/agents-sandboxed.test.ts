/**
 * The agent-CLI engines (codex, gemini, opencode) run inside the OS sandbox
 * like claude and exec: the REAL pinned CLIs, real bwrap, a real sandbox plan
 * with the default safety config, fake model APIs on the host's 127.0.0.1
 * (reached through the attempt's proxy). The legitimate side: the agent
 * writes in its workspace and keeps its session in the task's agent-state
 * folder (under the colony home, otherwise hidden), and reaches a model API on
 * another machine's address through the attempt's proxy. The attacker's side: the
 * model scripts a shell tool call that reads a secret in the colony home and
 * writes outside the workspace; both must fail. Cancel leaves no process.
 */
import { existsSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/core/config.js';
import { createSandboxPlanner } from '../../src/safety/os-sandbox/index.js';
import { requireAgentCli } from '../helpers/agent-clis.js';
import { cliEnv, processesIn, toolResultsSent } from '../helpers/agent-run.js';
import { collect, doneOf, outputText, request, tempDir } from '../helpers/engine-harness.js';
import type { FakeModelServer } from '../helpers/fake-models.js';
import { AGENT_CASES, type AgentCase } from '../helpers/agent-cases.js';
import { waitFor } from '../helpers/proc.js';

const SECRET = 'colony-secret-7f3a9c';

let server: FakeModelServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

async function setup(c: AgentCase) {
  const dir = realpathSync(await tempDir(`colony-sbx-${c.name}-`));
  const ws = join(dir, 'ws');
  const colonyHome = join(dir, 'colony-home');
  const outside = join(dir, 'outside');
  const stateDir = join(colonyHome, 'agent-state', 't1');
  await mkdir(ws);
  await mkdir(outside);
  await mkdir(colonyHome, { recursive: true });
  await writeFile(join(colonyHome, 'secret.txt'), `${SECRET}\n`);
  const env = cliEnv(join(dir, 'user-home'), c.env);
  const planner = createSandboxPlanner({ safety: defaultConfig().safety, colonyHome, configFile: null });
  const sandbox = planner.planFor({ taskId: 't1', engine: c.name, workspace: ws, env, stateDir });
  expect(sandbox).not.toBeNull();
  return { dir, ws, colonyHome, outside, stateDir, env, sandbox };
}

describe.each(AGENT_CASES)('$name runs inside the OS sandbox (real CLI, real bwrap)', (c) => {
  const bin = requireAgentCli(c.name);

  it('writes in its workspace; a tool call cannot read the colony home nor write outside the workspace', async () => {
    server = await c.start();
    const s = await setup(c);
    const secretFile = join(s.colonyHome, 'secret.txt');
    const escaped = join(s.outside, 'pwned.txt');
    // Paths spelled in base64 so the CLI's own checks (opencode refuses a literal path outside the workspace) do not
    // stop the command first: the OS sandbox is what must hold. Each step runs whatever the one before did;
    // ran.txt proves the command ran at all (inside).
    // (no `$(…)`: gemini's shell tool refuses command substitution)
    const b64 = (p: string): string => `echo ${Buffer.from(p).toString('base64')} | base64 -d`;
    const attack = `${b64(secretFile)} | xargs cat > leak.txt 2>&1; ${b64(escaped)} | xargs -I{} sh -c 'echo pwned > {}'; echo ran > ran.txt`;
    server.enqueue(c.shellTurn(attack), { kind: 'text', text: 'Finished.' });
    const events = await collect(
      c.engine(bin, server),
      request({ workspace: s.ws, env: s.env, state_dir: s.stateDir, sandbox: s.sandbox, run_timeout_ms: c.timeoutMs }),
    );
    const done = doneOf(events);
    expect(done.ok, `${done.summary}\n${outputText(events)}`).toBe(true);
    expect(await readFile(join(s.ws, 'ran.txt'), 'utf8')).toBe('ran\n'); // the legitimate write inside the workspace
    expect(await readFile(join(s.ws, 'leak.txt'), 'utf8')).not.toContain(SECRET);
    expect(toolResultsSent(server.modelRequests().map((q) => q.body))).not.toContain(SECRET);
    expect(existsSync(escaped)).toBe(false);
    // The CLI kept its state in the task's folder (bound writable), not in a throwaway HOME.
    expect(existsSync(join(s.stateDir, c.name))).toBe(true);
    expect(processesIn(s.ws)).toEqual([]);
  }, 300_000);

  it('runs in its own namespaces and cancel leaves no process behind', async () => {
    server = await c.start();
    const s = await setup(c);
    server.enqueue({ kind: 'stall', text: 'Thinking' });
    const ac = new AbortController();
    const pending = collect(
      c.engine(bin, server),
      request({ workspace: s.ws, env: s.env, sandbox: s.sandbox, signal: ac.signal, run_timeout_ms: c.timeoutMs }),
    );
    await waitFor(() => server !== null && server.modelRequests().length > 0, 'the CLI reached the fake model server', 120_000);
    const procs = processesIn(s.ws);
    expect(procs.length).toBeGreaterThan(0);
    // The CLI's own processes are in another network namespace than ours (bwrap's --unshare-all).
    const ours = readlinkSync('/proc/self/ns/net');
    const cli = procs.flatMap((pid) => {
      try {
        const outer = readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'bwrap'; // bwrap itself sets the namespaces up from outside
        return !outer && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(bin) ? [readlinkSync(`/proc/${pid}/ns/net`)] : [];
      } catch {
        return []; // gone meanwhile
      }
    });
    expect(cli.length, 'no process of the CLI found').toBeGreaterThan(0);
    for (const ns of cli) expect(ns, 'the CLI runs in the host network namespace').not.toBe(ours);
    ac.abort();
    expect(doneOf(await pending).error_code).toBe('E_CANCELLED');
    await waitFor(() => processesIn(s.ws).length === 0, 'no process of the attempt left', 10_000);
  }, 300_000);

  // A model API that is not on the loopback (this machine's own LAN address stands for another machine).
  const lan = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  it.skipIf(!lan)(
    'reaches its configured endpoint on another address through the attempt proxy',
    async () => {
      server = await c.start(lan);
      const s = await setup(c);
      server.enqueue({ kind: 'text', text: 'Hello over the proxy.' });
      const events = await collect(c.engine(bin, server), request({ workspace: s.ws, env: s.env, sandbox: s.sandbox, run_timeout_ms: c.timeoutMs }));
      const done = doneOf(events);
      expect(done.ok, `${done.summary}\n${outputText(events)}`).toBe(true);
      expect(server.modelRequests().length).toBeGreaterThan(0);
    },
    300_000,
  );
});
