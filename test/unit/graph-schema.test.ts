import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/core/config.js';
import { ColonyError } from '../../src/core/errors.js';
import { compileGraph, globalId, makeGraphId, parseGraph, type CompileOptions } from '../../src/core/graph-schema.js';

const cfg = defaultConfig();

function opts(over: Partial<CompileOptions> = {}): CompileOptions {
  return {
    graphId: 'rel-abc123',
    workspace: '/projects/app',
    resolveWorkspace: (ws) => (ws.startsWith('/') ? ws : `/projects/app/${ws}`),
    defaultBudgetUsd: cfg.budget.default_task_usd,
    defaultMaxAttempts: cfg.runner.max_attempts,
    defaultTarget: 'host',
    ...over,
  };
}

/** Runs fn and returns the ColonyError it throws. */
function thrown(fn: () => unknown): ColonyError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ColonyError) return e;
    throw e;
  }
  throw new Error('expected a ColonyError');
}

const compile = (raw: unknown, over: Partial<CompileOptions> = {}) => compileGraph(parseGraph(raw, 'g.json'), opts(over), 'g.json');

describe('parseGraph + compileGraph defaults', () => {
  it('fills every default from the config and the graph file location', () => {
    const [t] = compile({ tasks: [{ id: 'build', prompt: 'npm run build\nand more' }] });
    expect(t).toEqual({
      id: 'rel-abc123:build',
      title: 'npm run build',
      prompt: 'npm run build\nand more',
      engine: 'auto',
      model: null,
      budget_usd: cfg.budget.default_task_usd,
      depends_on: [],
      workspace: '/projects/app',
      target: 'host',
      wait_timeout_s: null,
      run_timeout_s: null,
      max_attempts: cfg.runner.max_attempts,
      trigger: 'all_success',
    });
  });

  it('keeps explicit values and resolves a relative workspace against the graph directory', () => {
    const [, t] = compile({
      name: 'release',
      tasks: [
        { id: 'a', prompt: 'x' },
        {
          id: 'b',
          title: 'B!',
          prompt: 'y',
          engine: 'exec',
          model: 'm1',
          budget_usd: 0,
          depends_on: ['a'],
          workspace: 'sub/dir',
          target: 'own-worker',
          wait_timeout_s: 5,
          run_timeout_s: 60,
          max_attempts: 3,
          trigger: 'all_done',
        },
      ],
    });
    expect(t).toEqual({
      id: 'rel-abc123:b',
      title: 'B!',
      prompt: 'y',
      engine: 'exec',
      model: 'm1',
      budget_usd: 0,
      depends_on: ['rel-abc123:a'],
      workspace: '/projects/app/sub/dir',
      target: 'own-worker',
      wait_timeout_s: 5,
      run_timeout_s: 60,
      max_attempts: 3,
      trigger: 'all_done',
    });
  });

  it('uses the budget default it is given (from config), and truncates long titles', () => {
    const [t] = compile({ tasks: [{ id: 'a', prompt: 'p'.repeat(200) }] }, { defaultBudgetUsd: 0.25, defaultMaxAttempts: 4, defaultTarget: 'own-worker' });
    expect(t).toMatchObject({ budget_usd: 0.25, max_attempts: 4, target: 'own-worker' });
    expect(t?.title).toHaveLength(80);
    expect(t?.title.endsWith('…')).toBe(true);
  });

  it('defaults the graph name to "graph"', () => {
    expect(parseGraph({ tasks: [{ id: 'a', prompt: 'x' }] }).name).toBe('graph');
  });
});

describe('parseGraph errors name the file, the task and the field', () => {
  const cases: [string, unknown, string][] = [
    ['negative budget', { tasks: [{ id: 'a', prompt: 'x', budget_usd: -1 }] }, 'g.json: task "a" (tasks[0]): budget_usd: must be ≥ 0'],
    [
      'empty prompt',
      {
        tasks: [
          { id: 'a', prompt: 'x' },
          { id: 'b', prompt: '' },
        ],
      },
      'g.json: task "b" (tasks[1]): prompt: must not be empty',
    ],
    ['id with a colon', { tasks: [{ id: 'a:b', prompt: 'x' }] }, 'g.json: task "a:b" (tasks[0]): id: must be 1-64 letters, digits, "_", "-" or "." (no ":")'],
    ['no tasks', { tasks: [] }, 'g.json: tasks: a graph needs at least one task'],
    ['negative graph budget', { budget_usd: -2, tasks: [{ id: 'a', prompt: 'x' }] }, 'g.json: budget_usd: must be ≥ 0'],
  ];
  it.each(cases)('%s', (_name, raw, message) => {
    const e = thrown(() => parseGraph(raw, 'g.json'));
    expect(e.code).toBe('E_BAD_INPUT');
    expect(e.message).toBe(message);
  });

  it('reports an unknown field, a bad trigger and a missing prompt with their paths', () => {
    const e = thrown(() =>
      parseGraph({ tasks: [{ id: 'a', prompt: 'x', retries: 3 }, { id: 'b', prompt: 'y', trigger: 'sometimes' }, { id: 'c' }] }, 'g.json'),
    );
    expect(e.code).toBe('E_BAD_INPUT');
    expect(e.message).toMatch(/task "a" \(tasks\[0\]\): .*retries/);
    expect(e.message).toMatch(/task "b" \(tasks\[1\]\): trigger: /);
    expect(e.message).toMatch(/task "c" \(tasks\[2\]\): prompt: /);
    expect((e.details as { problems: string[] }).problems).toHaveLength(3);
  });

  it('names a task by index when it has no usable id', () => {
    const e = thrown(() => parseGraph({ tasks: [{ prompt: 'x' }] }, 'g.json'));
    expect(e.message).toMatch(/^g\.json: tasks\[0\]: id: /);
  });

  it('refuses something that is not a graph object', () => {
    expect(thrown(() => parseGraph(null, 'g.json')).code).toBe('E_BAD_INPUT');
    expect(thrown(() => parseGraph([1, 2], 'g.json')).message).toMatch(/^g\.json: \(root\): /);
  });
});

describe('compileGraph structure errors', () => {
  it('names a cycle with its path in local ids (E_CYCLE)', () => {
    const e = thrown(() =>
      compile({
        tasks: [
          { id: 'a', prompt: 'x', depends_on: ['c'] },
          { id: 'b', prompt: 'x', depends_on: ['a'] },
          { id: 'c', prompt: 'x', depends_on: ['b'] },
        ],
      }),
    );
    expect(e.code).toBe('E_CYCLE');
    expect(e.message).toMatch(/^g\.json: dependency cycle: ([abc]) → [abc] → [abc] → \1$/);
    expect(e.message).not.toContain('rel-abc123');
    const p = (e.details as { problems: { path: string[] }[] }).problems[0]?.path ?? [];
    expect(new Set(p)).toEqual(new Set(['a', 'b', 'c']));
  });

  it('reports an unknown dependency (E_UNKNOWN_DEP), a self dependency (E_SELF_DEP) and a duplicate id (E_DUPLICATE_ID)', () => {
    const unknown = thrown(() => compile({ tasks: [{ id: 'test', prompt: 'x', depends_on: ['biuld'] }] }));
    expect([unknown.code, unknown.message]).toEqual(['E_UNKNOWN_DEP', 'g.json: task "test" depends on unknown task "biuld"']);
    const self = thrown(() => compile({ tasks: [{ id: 'a', prompt: 'x', depends_on: ['a'] }] }));
    expect([self.code, self.message]).toEqual(['E_SELF_DEP', 'g.json: task "a" depends on itself']);
    const dup = thrown(() =>
      compile({
        tasks: [
          { id: 'a', prompt: 'x' },
          { id: 'a', prompt: 'y' },
        ],
      }),
    );
    expect([dup.code, dup.message]).toEqual(['E_DUPLICATE_ID', 'g.json: task id "a" is used more than once']);
  });

  it('lists every structural problem, first code wins', () => {
    const e = thrown(() =>
      compile({
        tasks: [
          { id: 'a', prompt: 'x', depends_on: ['nope'] },
          { id: 'b', prompt: 'x', depends_on: ['b'] },
        ],
      }),
    );
    expect(e.code).toBe('E_UNKNOWN_DEP');
    expect(e.message).toBe('g.json: task "a" depends on unknown task "nope"; task "b" depends on itself');
  });
});

describe('cross-graph dependencies', () => {
  const existing = 'build-9f8e7d:compile';

  it('accepts a global id of a task that already exists', () => {
    const [t] = compile({ tasks: [{ id: 'test', prompt: 'x', depends_on: [existing] }] }, { isKnown: (id) => id === existing });
    expect(t?.depends_on).toEqual([existing]); // not prefixed with this graph's id
  });

  it('refuses a global id that is not known', () => {
    const e = thrown(() => compile({ tasks: [{ id: 'test', prompt: 'x', depends_on: ['ghost-000000:x'] }] }, { isKnown: (id) => id === existing }));
    expect(e.code).toBe('E_UNKNOWN_DEP');
    expect(e.message).toContain('"ghost-000000:x"');
  });

  it('refuses global ids altogether without a lookup', () => {
    expect(thrown(() => compile({ tasks: [{ id: 'test', prompt: 'x', depends_on: [existing] }] })).code).toBe('E_UNKNOWN_DEP');
  });

  it('never resolves a plain local id against other graphs', () => {
    // "compile" exists in another graph, but a bare id always means this file's task.
    const e = thrown(() =>
      compile({ tasks: [{ id: 'test', prompt: 'x', depends_on: ['compile'] }] }, { isKnown: (id) => id.endsWith(':compile') && id !== 'rel-abc123:compile' }),
    );
    expect(e.code).toBe('E_UNKNOWN_DEP');
  });
});

describe('ids', () => {
  it('builds global ids and readable graph ids', () => {
    expect(globalId('g-1', 'a')).toBe('g-1:a');
    expect(makeGraphId('My Release!! v2', 'abc123')).toBe('my-release-v2-abc123');
    expect(makeGraphId('***', 'abc123')).toBe('graph-abc123');
  });
});
