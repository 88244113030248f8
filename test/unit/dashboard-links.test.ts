/** Links into the admin app (src/web/deeplink.ts) and task names from a prompt (singleTaskGraph). */
import { describe, expect, it } from 'vitest';
import { queueFiltersFromHash, taskFromHash, taskLink } from '../../src/web/deeplink.js';
import { singleTaskGraph, taskSlug } from '../../src/server/schemas.js';

describe('task links', () => {
  it('round-trips any task id, including ":" and characters that need escaping', () => {
    for (const id of ['release-2f840a:unit-tests', 'a b:c#d?e', 'ünïcode-1a2b3c:x']) expect(taskFromHash(taskLink(id))).toBe(id);
  });
  it('ignores hashes that are not task links, and malformed escapes', () => {
    expect(taskFromHash('#queue')).toBeNull();
    expect(taskFromHash('#task=')).toBeNull();
    expect(taskFromHash('#task=%E0%A4%A')).toBeNull();
    expect(taskFromHash('')).toBeNull();
  });
});

describe('queue links', () => {
  it('reads the known filters and nothing else', () => {
    expect(queueFiltersFromHash('#queue?state=failed&engine=exec&submitted_by=session%3Aab&graph_id=g-1&q=unit%20tests&colour=red')).toEqual({
      state: 'failed',
      engine: 'exec',
      submitted_by: 'session:ab',
      graph_id: 'g-1',
      q: 'unit tests',
    });
    expect(queueFiltersFromHash('#queue')).toBeNull();
    expect(queueFiltersFromHash('#task=x')).toBeNull();
  });
});

describe('a single task is named from its prompt', () => {
  it('uses the first line of the prompt (or the title) for the task id and the run name', () => {
    const g = singleTaskGraph({ prompt: 'Fix the flaky login test\nand explain why', engine: 'auto' });
    expect(g.name).toBe('Fix the flaky login test');
    expect(g.tasks[0]?.id).toBe('fix-the-flaky-login-test');
    expect(singleTaskGraph({ prompt: 'x', title: 'Nightly: deploy!', engine: 'exec' }).tasks[0]?.id).toBe('nightly-deploy');
  });
  it('falls back to "task" when the prompt has no letters or digits, and keeps ids valid and short', () => {
    expect(taskSlug('*** ???')).toBe('task');
    expect(taskSlug('日本語のタスク')).toBe('task');
    const long = taskSlug('a'.repeat(39) + ' bcdef');
    expect(long.length).toBeLessThanOrEqual(40);
    expect(long.endsWith('-')).toBe(false);
  });
});
