import { describe, expect, it } from 'vitest';
import { dependencyDepths, topologicalOrder, validateGraph } from '../../src/core/dag.js';

const n = (id: string, ...deps: string[]) => ({ id, depends_on: deps });

describe('validateGraph', () => {
  it('accepts a diamond', () => {
    expect(validateGraph([n('a'), n('b', 'a'), n('c', 'a'), n('d', 'b', 'c')])).toEqual([]);
  });

  it('names the cycle path a → b → c → a', () => {
    const problems = validateGraph([n('a', 'c'), n('b', 'a'), n('c', 'b'), n('root')]);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.code).toBe('E_CYCLE');
    const path = problems[0]?.path ?? [];
    expect(path[0]).toBe(path[path.length - 1]);
    expect(new Set(path)).toEqual(new Set(['a', 'b', 'c']));
    expect(problems[0]?.message).toMatch(/dependency cycle: \w → \w → \w → \w/);
  });

  it('finds a cycle hanging below an acyclic prefix', () => {
    const problems = validateGraph([n('root'), n('x', 'root', 'z'), n('y', 'x'), n('z', 'y'), n('leaf', 'z')]);
    expect(problems[0]?.code).toBe('E_CYCLE');
    expect(problems[0]?.path?.slice(0, -1).sort()).toEqual(['x', 'y', 'z']);
  });

  it('reports unknown dependencies, duplicate ids and self dependencies with their codes', () => {
    expect(validateGraph([n('a', 'ghost')]).map((p) => p.code)).toEqual(['E_UNKNOWN_DEP']);
    expect(validateGraph([n('a'), n('a')]).map((p) => p.code)).toEqual(['E_DUPLICATE_ID']);
    expect(validateGraph([n('a', 'a')]).map((p) => p.code)).toEqual(['E_SELF_DEP']);
    expect(validateGraph([n('a'), n('b', 'a', 'a')]).map((p) => p.code)).toEqual(['E_DUPLICATE_ID']);
  });

  it('accepts edges to tasks that already exist in a live graph', () => {
    expect(validateGraph([n('new', 'old')], (id) => id === 'old')).toEqual([]);
    expect(validateGraph([n('new', 'old')], () => false)[0]?.code).toBe('E_UNKNOWN_DEP');
  });
});

describe('topological helpers', () => {
  it('orders dependencies first and computes depths', () => {
    const nodes = [n('d', 'b', 'c'), n('b', 'a'), n('c', 'a'), n('a')];
    const order = topologicalOrder(nodes);
    expect(order.indexOf('a')).toBeLessThan(order.indexOf('b'));
    expect(order.indexOf('c')).toBeLessThan(order.indexOf('d'));
    expect(Object.fromEntries(dependencyDepths(nodes))).toEqual({ a: 0, b: 1, c: 1, d: 2 });
  });
});
