/** core/budget.ts budgetLevel and canResume, and core/webhook.ts bodies, delays and subscriptions (issue 18). */
import { describe, expect, it } from 'vitest';
import { budgetLevel, canResume } from '../../src/core/budget.js';
import { hookWants, retryDelayMs, webhookBody, type Notification } from '../../src/core/webhook.js';

describe('budgetLevel', () => {
  it('has no level without a budget', () => expect(budgetLevel(5, null, 0.8)).toBe('none'));
  it('is ok below the warning share, warns from it (equality warns), stops at the budget (equality stops)', () => {
    expect(budgetLevel(0.79, 1, 0.8)).toBe('ok');
    expect(budgetLevel(0.8, 1, 0.8)).toBe('warn');
    expect(budgetLevel(0.999999, 1, 0.8)).toBe('warn');
    expect(budgetLevel(1, 1, 0.8)).toBe('stop');
    expect(budgetLevel(3, 1, 0.8)).toBe('stop');
  });
  it('compares whole micro-dollars (0.1 + 0.2 reaches 0.3)', () => expect(budgetLevel(0.1 + 0.2, 0.3, 0.8)).toBe('stop'));
  it('never stops or warns on nothing spent, even with a $0 budget', () => {
    expect(budgetLevel(0, 0, 0.8)).toBe('ok');
    expect(budgetLevel(0, 1, 0.8)).toBe('ok');
  });
  it('a warning share of 1 warns only at the stop', () => expect(budgetLevel(0.99, 1, 1)).toBe('ok'));
});

describe('canResume', () => {
  it('refuses while the spend still reaches the budget, allows once raised or removed', () => {
    expect(canResume(1, 1)).toBe(false);
    expect(canResume(1, 1.000001)).toBe(true);
    expect(canResume(1, null)).toBe(true);
  });
});

describe('webhook helpers', () => {
  const n: Notification = {
    event: 'task.failed',
    title: 'Task failed',
    body: 'build — exit 3',
    at: 1,
    owner: 'admin',
    task_id: 'g:t',
    graph_id: 'g',
    detail: {},
  };
  it('doubles the retry delay up to the cap', () => {
    expect([1, 2, 3, 4, 5].map((a) => retryDelayMs(a, 100, 1000))).toEqual([100, 200, 400, 800, 1000]);
  });
  it('JSON bodies carry the delivery id and the notification; Slack bodies text and a mrkdwn block', () => {
    expect(JSON.parse(webhookBody('json', n, 7))).toEqual({ delivery_id: 7, ...n });
    expect(JSON.parse(webhookBody('slack', n, 7))).toEqual({
      text: 'Task failed: build — exit 3',
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*Task failed*\nbuild — exit 3' } }],
    });
  });
  it('a task title cannot become a Slack link or mention', () => {
    const evil = { ...n, body: 'fix <!channel> and <https://evil.example|click> & go' };
    expect((JSON.parse(webhookBody('slack', evil, 1)) as { text: string }).text).toBe(
      'Task failed: fix &lt;!channel&gt; and &lt;https://evil.example|click&gt; &amp; go',
    );
  });
  it('a hook gets the events it lists, all when it lists none, and always a test', () => {
    expect(hookWants(['graph.finished'], 'task.failed')).toBe(false);
    expect(hookWants(['graph.finished'], 'graph.finished')).toBe(true);
    expect(hookWants([], 'budget.stop')).toBe(true);
    expect(hookWants(['graph.finished'], 'test')).toBe(true);
  });
});
