import { describe, expect, it } from 'vitest';
import { bucketOf, COMPLEXITY_BASE, mentionedFiles, scoreComplexity, topFeatures } from '../../src/core/complexity.js';
import { LABELLED_TASKS } from './complexity-tasks.js';

const scored = LABELLED_TASKS.map((t) => ({ ...t, r: scoreComplexity({ prompt: t.prompt, depends_on_depth: t.depth ?? 0 }) }));
const scoresOf = (label: string) => scored.filter((t) => t.label === label).map((t) => t.r.score);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('complexity score on 24 realistic tasks', () => {
  it('spreads the tasks instead of leaving them at the default', () => {
    const all = scored.map((t) => t.r.score);
    // The old score left 21 of 24 at its 0.5 default; here few sit near the no-signal base.
    expect(all.filter((s) => Math.abs(s - COMPLEXITY_BASE) < 0.02).length).toBeLessThanOrEqual(2);
    const bins = new Map<number, number>();
    for (const s of all) bins.set(Math.floor(s * 20), (bins.get(Math.floor(s * 20)) ?? 0) + 1);
    expect(Math.max(...bins.values())).toBeLessThanOrEqual(5); // no 0.05-wide bin holds more than 5 of 24
    const sd = Math.sqrt(mean(all.map((s) => (s - mean(all)) ** 2)));
    expect(sd).toBeGreaterThan(0.2);
    expect(new Set(scored.map((t) => t.r.bucket)).size).toBeGreaterThanOrEqual(4);
  });

  it('orders clearly easy below medium below clearly hard', () => {
    const easy = scoresOf('easy');
    const medium = scoresOf('medium');
    const hard = scoresOf('hard');
    expect(Math.max(...easy)).toBeLessThan(Math.min(...hard));
    expect(mean(easy)).toBeLessThan(mean(medium));
    expect(mean(medium)).toBeLessThan(mean(hard));
  });

  it('puts easy tasks at or under the default cheap threshold and hard ones at or over the strong one', () => {
    for (const s of scoresOf('easy')) expect(s).toBeLessThanOrEqual(0.3);
    for (const s of scoresOf('hard')) expect(s).toBeGreaterThanOrEqual(0.55);
  });

  it('explains itself with named, weighted features', () => {
    const r = scoreComplexity({ prompt: LABELLED_TASKS[16]!.prompt });
    const sum = r.features.reduce((s, f) => s + f.contribution, COMPLEXITY_BASE);
    expect(r.score).toBeCloseTo(Math.min(1, Math.max(0, sum)), 2);
    const hard = r.features.find((f) => f.name === 'hard_keywords');
    expect(hard?.detail).toContain('race condition');
    expect(hard?.contribution).toBeGreaterThan(0.2);
    expect(topFeatures(r)).toMatch(/^hard_keywords \+0\.\d\d \(race condition/);
    for (const f of r.features) expect(f.contribution).toBeCloseTo(f.weight * f.value, 2);
  });

  it('pulls the score down for easy words and up for a stack trace and dependency depth', () => {
    const plain = scoreComplexity({ prompt: 'Update the handler in src/server/routes.ts' }).score;
    expect(scoreComplexity({ prompt: 'Fix a typo in the handler in src/server/routes.ts' }).score).toBeLessThan(plain);
    const trace =
      'Update the handler in src/server/routes.ts\nTypeError: x is undefined\n    at handle (src/server/routes.ts:10:5)\n    at run (src/server/app.ts:3:1)';
    expect(scoreComplexity({ prompt: trace }).score).toBeGreaterThan(plain);
    expect(scoreComplexity({ prompt: 'Update the handler in src/server/routes.ts', depends_on_depth: 4 }).score).toBeGreaterThan(plain);
  });

  it('maps scores to five buckets and finds named files', () => {
    expect([0, 0.2, 0.45, 0.6, 0.99, 1].map(bucketOf)).toEqual(['trivial', 'easy', 'medium', 'hard', 'very_hard', 'very_hard']);
    expect(mentionedFiles('edit `src/a.ts` and b.py, then src/a.ts again; see notes.txt')).toEqual(['src/a.ts', 'b.py', 'notes.txt']);
  });

  it('scores an empty prompt at the base and never leaves 0..1', () => {
    expect(scoreComplexity({ prompt: '' }).score).toBe(COMPLEXITY_BASE);
    const huge = scoreComplexity({ prompt: 'refactor race condition deadlock '.repeat(200), depends_on_depth: 99 });
    expect(huge.score).toBeGreaterThan(0.8);
    expect(huge.score).toBeLessThanOrEqual(1);
  });
});
