/**
 * The in-flight budget check on a stream of cost events (issue 18): the runner
 * passes the attempt's graph and submitter with each cost, and the scope's
 * stored spend and budget are read once, so cost events that move no level run
 * no SQL statement at all (counted at the SQLite driver). A level that moves
 * is still evaluated against the store: the warning is announced, and reaching
 * the budget pauses the scope.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dbOf } from '../../src/store/internal.js';
import { defaultConfig } from '../../src/core/config.js';
import { parseGraph } from '../../src/core/graph-schema.js';
import type { Notification } from '../../src/core/webhook.js';
import { BudgetWatch } from '../../src/runner/budget-watch.js';
import { TaskService } from '../../src/runner/service.js';
import { Store, type Actor } from '../../src/store/store.js';
import { makeTempDir } from '../helpers/proc.js';

const ADMIN: Actor = { actor: 'admin', origin: 'local' };
let cleanup: () => void = () => undefined;
afterEach(() => cleanup());

/** Counts the statements the store runs (every read or write goes through a better-sqlite3 Statement). */
function countStatements(store: Store): { n: number; restore: () => void } {
  const proto = Object.getPrototypeOf(dbOf(store).prepare('SELECT 1')) as Record<string, (...a: unknown[]) => unknown>;
  const counter = { n: 0, restore: () => undefined as void };
  const saved = (['get', 'all', 'run', 'iterate'] as const).map((m) => [m, proto[m]] as const);
  for (const [m, fn] of saved) {
    proto[m] = function (this: unknown, ...a: unknown[]) {
      counter.n++;
      return (fn as (...x: unknown[]) => unknown).apply(this, a);
    };
  }
  counter.restore = () => {
    for (const [m, fn] of saved) if (fn) proto[m] = fn;
  };
  return counter;
}

describe('in-flight budget check reads', () => {
  it('reads nothing for cost events that move no level, and still pauses the scope at its budget', () => {
    const tmp = makeTempDir('colony-budget-reads-');
    const store = Store.open(join(tmp.dir, 'colony.db'));
    cleanup = () => {
      store.close();
      tmp.cleanup();
    };
    const service = new TaskService(store, defaultConfig());
    const notes: Notification[] = [];
    const watch = new BudgetWatch(store, service, defaultConfig(), (n) => void notes.push(n));
    watch.start();
    const res = service.submitGraph(parseGraph({ name: 'reads', tasks: [{ id: 'a', engine: 'exec', prompt: 'true' }] }), {
      submittedBy: 'admin',
      who: ADMIN,
      workspace: tmp.dir,
      defaultTarget: 'host',
      holdHostTasks: false,
    });
    const taskId = res.task_ids[0] as string;
    const scope = { graph_id: res.graph_id, submitted_by: 'admin' };
    watch.setBudget('graph', res.graph_id, 1, ADMIN);
    // The first cost events read each scope's stored part (and record the user scope's first level, 'none').
    watch.attemptCost(taskId, 1, scope, 0.01);
    watch.attemptCost(taskId, 1, scope, 0.02);

    const count = countStatements(store);
    try {
      for (let i = 3; i <= 70; i++) watch.attemptCost(taskId, 1, scope, i / 100); // up to $0.70: below the 80 % warning
      expect(count.n).toBe(0);
      watch.attemptCost(taskId, 1, scope, 0.85); // the warning: evaluated against the store
      expect(count.n).toBeGreaterThan(0);
    } finally {
      count.restore();
    }
    expect(notes.map((n) => n.event)).toEqual(['budget.warning']);
    expect(service.isPaused('graph', res.graph_id)).toBe(false);
    watch.attemptCost(taskId, 1, scope, 1.01);
    expect(service.isPaused('graph', res.graph_id)).toBe(true);
    expect(notes.map((n) => n.event)).toEqual(['budget.warning', 'budget.stop']);
    watch.stop();
  });
});
