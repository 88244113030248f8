/** `colony doctor` with the real CLIs: versions, credentials named but never printed, endpoints reachable or not. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_CLI_VERSIONS, requireAgentCli } from '../helpers/agent-clis.js';
import { assertBuilt, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/engine-harness.js';
import { startFakeAnthropic, startFakeResponses, type FakeModelServer } from '../helpers/fake-models.js';

let anthropic: FakeModelServer;
let responses: FakeModelServer;
beforeAll(async () => {
  assertBuilt();
  anthropic = await startFakeAnthropic();
  responses = await startFakeResponses();
});
afterAll(async () => {
  await anthropic.close();
  await responses.close();
});

describe('colony doctor', () => {
  it('lists every engine with binary version, credentials and endpoint, never printing a secret', async () => {
    const dir = await tempDir('colony-doctor-');
    const cfg = join(dir, 'colony.config.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        engines: {
          claude: { bin: requireAgentCli('claude') },
          codex: { bin: requireAgentCli('codex'), default_model: 'gpt-5-codex', base_url: `${responses.baseUrl}/v1` },
          gemini: { bin: requireAgentCli('gemini'), default_model: 'gemini-2.5-flash', base_url: 'http://127.0.0.1:9' },
          providers: {},
        },
      }),
    );
    const secret = 'sk-ant-THIS-MUST-NOT-BE-PRINTED';
    const r = await runCli(['doctor', '--config', cfg, '--json', '--timeout-ms', '60000'], {
      cwd: dir,
      env: { HOME: dir, ANTHROPIC_API_KEY: secret, ANTHROPIC_BASE_URL: anthropic.baseUrl, OPENAI_API_KEY: 'sk-openai-SECRET', GEMINI_API_KEY: undefined },
      timeoutMs: 120_000,
    });
    expect(r.stdout + r.stderr).not.toContain(secret);
    expect(r.stdout).not.toContain('sk-openai-SECRET');
    expect(r.code).toBe(1); // gemini has no key and no endpoint
    const checks = JSON.parse(r.stdout) as {
      engine: string;
      ok: boolean;
      binary: { version: string | null } | null;
      credentials: { present: boolean; source: string | null };
      endpoint: { reachable: boolean | null };
    }[];
    const by = Object.fromEntries(checks.map((c) => [c.engine, c]));
    expect(by.claude).toMatchObject({ ok: true, credentials: { present: true, source: 'ANTHROPIC_API_KEY' }, endpoint: { reachable: true } });
    expect(by.claude?.binary?.version).toContain(AGENT_CLI_VERSIONS.claude);
    expect(by.codex).toMatchObject({ ok: true, credentials: { present: true, source: 'OPENAI_API_KEY' }, endpoint: { reachable: true } });
    expect(by.codex?.binary?.version).toContain(AGENT_CLI_VERSIONS.codex);
    expect(by.gemini).toMatchObject({ ok: false, credentials: { present: false }, endpoint: { reachable: false } });
    expect(by.gemini?.binary?.version).toContain(AGENT_CLI_VERSIONS.gemini);
    expect(by.exec?.ok).toBe(true);
    // The text form names the same facts.
    const text = await runCli(['doctor', '--config', cfg], {
      cwd: dir,
      env: { HOME: dir, ANTHROPIC_API_KEY: secret, ANTHROPIC_BASE_URL: anthropic.baseUrl },
      timeoutMs: 120_000,
    });
    expect(text.stdout).toMatch(/claude\s+2\.1\.197/);
    expect(text.stdout).toContain('present (ANTHROPIC_API_KEY)');
    expect(text.stdout).not.toContain(secret);
  }, 180_000);
});
