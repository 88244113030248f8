/**
 * `colony serve --demo` (what `npm start` runs) on an empty home: a demo worth
 * watching. It is still running when a browser has long loaded the page, one
 * task fails and takes its downstream with it while an all_done task still
 * runs, and one task waits for the admin's approval. Exec engine only, no keys.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertBuilt, runCli, startCli, type CliProcess } from '../helpers/cli.js';
import { makeTempDir, waitFor } from '../helpers/proc.js';

const tmp = makeTempDir('colony-demo-');
let serve: CliProcess | null = null;

afterAll(async () => {
  serve?.child.kill('SIGTERM');
  await serve?.result.catch(() => undefined);
  tmp.cleanup();
});

interface TaskRow {
  id: string;
  state: string;
}

describe('serve --demo', () => {
  it('shows a minute of progress, a failure with its downstream, and an approval waiting', async () => {
    assertBuilt();
    const home = join(tmp.dir, '.colony');
    mkdirSync(tmp.dir, { recursive: true });
    const env = { ANTHROPIC_API_KEY: undefined, OPENAI_API_KEY: undefined, GROQ_API_KEY: undefined };
    serve = startCli(['serve', '--demo', '--admin-port', '0', '--home', home, '--quiet'], { cwd: tmp.dir, env, timeoutMs: 300_000 });
    let out = '';
    serve.child.stdout?.on('data', (d: Buffer | string) => (out += String(d)));
    await waitFor(
      () => /demo: submitted nightly-build-\S+, deploy-staging-\S+ \(exec engine, no API keys needed\)/.test(out),
      'the demo to be submitted',
      30_000,
    );
    const started = Date.now();
    const tasks = async (): Promise<TaskRow[]> => {
      const r = await runCli(['tasks', '--home', home, '--json'], { cwd: tmp.dir, timeoutMs: 30_000 });
      expect(r.code, r.stderr).toBe(0);
      const parsed = JSON.parse(r.stdout) as TaskRow[] | { tasks: TaskRow[] };
      return Array.isArray(parsed) ? parsed : parsed.tasks;
    };
    const state = (list: TaskRow[], local: string): string | undefined => list.find((t) => t.id.endsWith(`:${local}`))?.state;

    // Something runs from the start, and the deploy waits for the admin.
    const early = await waitFor(async () => {
      const l = await tasks();
      return l.some((t) => t.state === 'running') ? l : null;
    }, 'a demo task to run');
    expect(state(early, 'deploy-staging')).toBe('awaiting_approval');
    // Long after a page has loaded the demo is still in progress (it used to be over in a few seconds).
    while (Date.now() - started < 15_000) await new Promise((r) => setTimeout(r, 500));
    const later = await tasks();
    expect(later.filter((t) => t.id.includes('nightly-build') && ['waiting', 'ready', 'assigned', 'running'].includes(t.state)).length).toBeGreaterThan(0);

    // The end: integration-tests failed; package and publish never ran; report (all_done) ran anyway.
    const end = await waitFor(
      async () => {
        const l = await tasks();
        return l.filter((t) => t.id.includes('nightly-build')).every((t) => !['waiting', 'ready', 'assigned', 'running'].includes(t.state)) ? l : null;
      },
      'the demo graph to finish',
      150_000,
      1000,
    );
    expect(state(end, 'integration-tests')).toBe('failed');
    expect(state(end, 'package')).toBe('upstream_failed');
    expect(state(end, 'publish')).toBe('upstream_failed');
    expect(state(end, 'report')).toBe('succeeded');
    expect(state(end, 'unit-tests')).toBe('succeeded');
    expect(state(end, 'deploy-staging')).toBe('awaiting_approval');
  }, 240_000);
});
