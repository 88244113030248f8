/**
 * `colony run`, `colony graph validate` and help through the real binary in a
 * temp dir: exit codes, the JSON summary, and bad files refused with one
 * readable line (file, task, problem), exit 2, before anything is written.
 */
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { assertBuilt, REPO, runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/proc.js';

interface RunJson {
  graph_id: string;
  ok: boolean;
  tasks: { id: string; state: string; reason: string | null; attempts: number; cost_usd: number }[];
}

// Tests run concurrently (each spawns node; that is most of the time), so each gets its own dir.
// Three at a time: each CLI start costs ~0.6 s of CPU, and CI machines have 2 cores.
vi.setConfig({ maxConcurrency: 3, testTimeout: 120_000 }); // generous: only a hang should hit it on a busy 2-core box
const cleanups: (() => void)[] = [];
beforeAll(() => assertBuilt());
afterAll(() => cleanups.forEach((c) => c()));
function tempDir(): string {
  const t = makeTempDir('colony-cli-');
  cleanups.push(t.cleanup);
  return t.dir;
}

const example = (dir: string, name: string): string => {
  copyFileSync(join(REPO, 'examples', name), join(dir, name)); // workspace = the file's dir, so outputs land in the temp dir
  return name;
};

function taskCount(home: string): number {
  const db = new Database(join(home, 'colony.db'), { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM tasks').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe.concurrent('colony run', () => {
  it('exits 0 when every task succeeded (examples/release.json)', async ({ expect }) => {
    const dir = tempDir();
    const r = await runCli(['run', example(dir, 'release.json'), '--home', 'H', '--json'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as RunJson;
    expect(out.ok).toBe(true);
    const declared = (JSON.parse(readFileSync(join(dir, 'release.json'), 'utf8')) as { tasks: unknown[] }).tasks.length;
    expect(out.tasks).toHaveLength(declared);
    expect(out.tasks.every((t) => t.state === 'succeeded' && t.attempts === 1)).toBe(true);
    expect(existsSync(join(dir, 'out', 'app.tgz'))).toBe(true); // ran in the graph file's directory
  });

  it('exits 1 with a failing branch: dependents upstream_failed, all_done report still runs (examples/flaky-pipeline.yaml)', async ({ expect }) => {
    const dir = tempDir();
    const r = await runCli(['run', example(dir, 'flaky-pipeline.yaml'), '--home', 'H', '--json'], { cwd: dir });
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as RunJson;
    expect(out.ok).toBe(false);
    expect(Object.fromEntries(out.tasks.map((t) => [t.id, t.state]))).toEqual({
      setup: 'succeeded',
      unit: 'succeeded',
      integration: 'failed',
      deploy: 'upstream_failed',
      notify: 'upstream_failed',
      report: 'succeeded',
    });
    expect(out.tasks.find((t) => t.id === 'integration')?.reason).toBe('E_ENGINE: exit 1');
    expect(out.tasks.find((t) => t.id === 'notify')?.attempts).toBe(0);
  });

  it('prints per-task lines and a summary table when not --json', async ({ expect }) => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'g.json'),
      JSON.stringify({
        name: 'two',
        tasks: [
          { id: 'one', engine: 'exec', prompt: 'true' },
          { id: 'two', engine: 'exec', prompt: 'exit 4', depends_on: ['one'] },
        ],
      }),
    );
    const r = await runCli(['run', 'g.json', '--home', 'H'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/✓ one succeeded/);
    expect(r.stdout).toMatch(/✗ two failed.*: E_ENGINE: exit 4/);
    expect(r.stdout).toMatch(/TASK\s+STATE\s+ATTEMPTS\s+COST\s+REASON/);
    expect(r.stdout).toMatch(/not all tasks succeeded/);
  });

  it('rejects a bad --concurrency with exit 2', async ({ expect }) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'g.json'), JSON.stringify({ tasks: [{ id: 'a', engine: 'exec', prompt: 'true' }] }));
    const r = await runCli(['run', 'g.json', '--home', 'H', '--concurrency', '0'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--concurrency must be an integer/);
    expect(existsSync(join(dir, 'H', 'colony.db'))).toBe(false);
  });
});

const task = (id: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ id, engine: 'exec', prompt: 'true', ...extra });

/** name, file name, content, what the one stderr line must contain (besides the file name). */
const BAD_FILES: { name: string; file: string; text: string; wants: (string | RegExp)[] }[] = [
  {
    name: 'a dependency cycle (with its path)',
    file: 'cycle.json',
    text: JSON.stringify({ tasks: [task('root'), task('a', { depends_on: ['c'] }), task('b', { depends_on: ['a'] }), task('c', { depends_on: ['b'] })] }),
    wants: ['dependency cycle', /[abc] → [abc] → [abc] → [abc]/],
  },
  {
    name: 'an unknown dependency',
    file: 'unknown.json',
    text: JSON.stringify({ tasks: [task('build'), task('test', { depends_on: ['biuld'] })] }),
    wants: ['task "test"', 'unknown task "biuld"'],
  },
  {
    name: 'malformed JSON',
    file: 'broken.json',
    text: '{ "tasks": [ { "id": "a", "prompt": "true" }, ]',
    wants: ['not valid JSON'],
  },
  {
    name: 'malformed YAML',
    file: 'broken.yaml',
    text: 'name: x\ntasks:\n  - id: a\n    prompt: [unclosed\n  - id: b\n',
    wants: ['not valid YAML'],
  },
  {
    name: 'a negative budget',
    file: 'budget.yaml',
    text: 'tasks:\n  - id: ok\n    prompt: "true"\n  - id: pricey\n    prompt: "true"\n    budget_usd: -0.5\n',
    wants: ['task "pricey"', 'budget_usd', 'must be ≥ 0'],
  },
  {
    name: 'duplicate task ids',
    file: 'dup.json',
    text: JSON.stringify({ tasks: [task('twin'), task('other'), task('twin')] }),
    wants: ['"twin"', 'more than once'],
  },
];

describe.concurrent('colony run refuses bad graph files with exit 2 and writes nothing', () => {
  it.for(BAD_FILES)('$name', async (bad, { expect }) => {
    const dir = tempDir();
    writeFileSync(join(dir, bad.file), bad.text);
    const r = await runCli(['run', bad.file, '--home', 'H', '--json'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const line = lines[0] ?? '';
    expect(line.startsWith(`colony: ${bad.file}: `)).toBe(true);
    for (const e of bad.wants) expect(line).toMatch(e);
    expect(existsSync(join(dir, 'H'))).toBe(false); // not even the home or the database was created
  });

  it('leaves an existing store untouched', async ({ expect }) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'good.json'), JSON.stringify({ tasks: [task('a'), task('b', { depends_on: ['a'] })] }));
    expect((await runCli(['run', 'good.json', '--home', 'H', '--json'], { cwd: dir })).code).toBe(0);
    const before = taskCount(join(dir, 'H'));
    expect(before).toBe(2);
    // The two problems found after parsing (graph structure), i.e. closest to the store.
    const late = BAD_FILES.filter((b) => b.file === 'cycle.json' || b.file === 'unknown.json');
    const results = await Promise.all(
      late.map((bad) => {
        writeFileSync(join(dir, bad.file), bad.text);
        return runCli(['run', bad.file, '--home', 'H'], { cwd: dir });
      }),
    );
    results.forEach((r, i) => expect(r.code, late[i]?.name).toBe(2));
    expect(taskCount(join(dir, 'H'))).toBe(before);
    const verify = await runCli(['audit', 'verify', '--home', 'H'], { cwd: dir });
    expect(verify.code).toBe(0);
  });
});

describe.concurrent('colony graph validate', () => {
  it('prints ok with the task and edge counts for a valid file', async ({ expect }) => {
    const dir = tempDir();
    const r = await runCli(['graph', 'validate', example(dir, 'flaky-pipeline.yaml')], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('flaky-pipeline.yaml: ok — 6 task(s), 7 edge(s), longest chain 4');
  });

  it('prints the problem with its path and exits 2 for an invalid file', async ({ expect }) => {
    const dir = tempDir();
    const bad = BAD_FILES.find((b) => b.file === 'budget.yaml');
    writeFileSync(join(dir, 'budget.yaml'), bad?.text ?? '');
    const r = await runCli(['graph', 'validate', 'budget.yaml'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('colony: budget.yaml: task "pricey" (tasks[1]): budget_usd: must be ≥ 0');

    const cyc = BAD_FILES.find((b) => b.file === 'cycle.json');
    writeFileSync(join(dir, 'cycle.json'), cyc?.text ?? '');
    const c = await runCli(['graph', 'validate', 'cycle.json'], { cwd: dir });
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/^colony: cycle\.json: dependency cycle: (\w) → \w → \w → \1\n$/);
  });
});

describe.concurrent('colony help', () => {
  it('colony --help lists the commands and exits 0', async ({ expect }) => {
    const dir = tempDir();
    const r = await runCli(['--help'], { cwd: dir });
    expect(r.code).toBe(0);
    for (const cmd of ['run', 'graph', 'audit']) expect(r.stdout).toMatch(new RegExp(`^\\s+${cmd}\\b`, 'm'));
  });

  it('colony run --help documents the options and exit codes, exit 0', async ({ expect }) => {
    const dir = tempDir();
    const r = await runCli(['run', '--help'], { cwd: dir });
    expect(r.code).toBe(0);
    for (const opt of ['--concurrency', '--resume', '--json', '--home', '--config']) expect(r.stdout).toContain(opt);
    expect(r.stdout).toMatch(/Exit codes: 0 all tasks succeeded/);
  });
});
