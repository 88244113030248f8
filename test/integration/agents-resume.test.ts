/**
 * A follow-up continues the agent CLI's own session: the REAL codex, gemini
 * and opencode CLIs (pinned) against fake model APIs on 127.0.0.1. The first
 * attempt runs a tool in the task's agent-state folder and reports its session
 * id; the second attempt, with that id as `resume_session` and the same
 * folder, sends only the reviewer's comment: the fake API must see the first
 * prompt and the first answer before the comment. Both attempts run inside the
 * OS sandbox (the product default): the agent-state folder lies in the colony
 * home, which the sandbox hides except for this task's own folder.
 */
import { realpathSync } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/core/config.js';
import type { EngineEvent } from '../../src/core/engine.js';
import { createSandboxPlanner } from '../../src/safety/os-sandbox/index.js';
import { agentCliPath } from '../helpers/agent-clis.js';
import { cliEnv } from '../helpers/agent-run.js';
import { collect, doneOf, request, tempDir } from '../helpers/engine-harness.js';
import type { FakeModelServer } from '../helpers/fake-models.js';
import { AGENT_CASES, type AgentCase } from '../helpers/agent-cases.js';

let server: FakeModelServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

const sessionOf = (events: EngineEvent[]): string | undefined => events.flatMap((e) => (e.type === 'info' && e.session_id ? [e.session_id] : [])).at(-1);

describe.each(AGENT_CASES)('$name resumes its session from the task agent-state folder (real CLI)', (c) => {
  const bin = agentCliPath(c.name);
  it.skipIf(!bin)(
    'the resumed request carries the first prompt and answer, then the comment',
    async () => {
      server = await c.start();
      const engine = c.engine(bin as string, server);
      const dir = realpathSync(await tempDir(`colony-resume-${c.name}-`));
      const ws = join(dir, 'ws');
      const stateDir = join(dir, 'colony-home', 'agent-state', 't1');
      await mkdir(ws);
      const env = { ...cliEnv(join(dir, 'user-home'), c.env) };
      const planner = createSandboxPlanner({ safety: defaultConfig().safety, colonyHome: join(dir, 'colony-home'), configFile: null });
      const sandbox = () => planner.planFor({ taskId: 't1', engine: c.name, workspace: ws, env, stateDir });
      expect(sandbox()).not.toBeNull();
      const FIRST = 'Create hello.txt with a greeting';
      server.enqueue(c.writeTurn(join(ws, 'hello.txt'), 'hello'), { kind: 'text', text: 'Created hello.txt.' });
      const one = await collect(engine, request({ workspace: ws, prompt: FIRST, env, state_dir: stateDir, sandbox: sandbox(), run_timeout_ms: c.timeoutMs }));
      expect(doneOf(one).ok, doneOf(one).summary).toBe(true);
      expect(await readFile(join(ws, 'hello.txt'), 'utf8')).toBe('hello');
      const session = sessionOf(one);
      expect(session, 'no session id in the stream').toBeTruthy();
      expect((await stat(stateDir)).mode & 0o777).toBe(0o700);

      const before = server.modelRequests().length;
      const COMMENT = 'Please also add bye.txt with a farewell.';
      server.enqueue(c.writeTurn(join(ws, 'bye.txt'), 'bye'), { kind: 'text', text: 'Added bye.txt.' });
      const two = await collect(
        engine,
        request({
          workspace: ws,
          attempt: 2,
          prompt: COMMENT,
          env,
          state_dir: stateDir,
          sandbox: sandbox(),
          resume_session: session ?? null,
          run_timeout_ms: c.timeoutMs,
        }),
      );
      expect(doneOf(two).ok, doneOf(two).summary).toBe(true);
      expect(await readFile(join(ws, 'bye.txt'), 'utf8')).toBe('bye');
      const resumed = server
        .modelRequests()
        .slice(before)
        .map((q) => JSON.stringify(q.body))
        .find((b) => b.includes(COMMENT));
      expect(resumed !== undefined, 'no request carried the comment').toBe(true);
      expect(resumed?.includes(FIRST), 'the first prompt is not in the resumed conversation').toBe(true);
      expect(resumed?.includes('Created hello.txt.'), 'the first answer is not in the resumed conversation').toBe(true);
    },
    400_000,
  );
});
