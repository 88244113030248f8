/**
 * Graph checks shared by TaskService.submitGraph and `colony run` (which checks
 * a file before it opens the store): ids, dependencies, cycles and the budget
 * reservation of core/budget.
 */
import { isAbsolute, resolve } from 'node:path';
import { graphReservation } from '../core/budget.js';
import type { ColonyConfig } from '../core/config.js';
import { ColonyError } from '../core/errors.js';
import { compileGraph, type GraphInput } from '../core/graph-schema.js';
import type { TaskSpec } from '../core/task.js';
import { assertWorkspacesInRoots, rootsForGraph } from '../safety/roots.js';

/**
 * Checks a graph input the way submitGraph will (ids, dependencies, cycles,
 * budget reservation) without touching a store, so `colony run` can refuse a
 * bad file before it opens (or creates) the database. Dependencies written as
 * global ids (`other-graph:task`) are left to submitGraph, which knows the store.
 */
export function checkGraphInput(input: GraphInput, config: ColonyConfig, workspace: string, label = 'graph'): void {
  const placeholder = '(file)'; // never a real graph id: makeGraphId yields [a-z0-9-]
  const specs = compileGraph(
    input,
    {
      graphId: placeholder,
      workspace,
      resolveWorkspace: (ws) => (isAbsolute(ws) ? ws : resolve(workspace, ws)),
      defaultBudgetUsd: config.budget.default_task_usd,
      defaultMaxAttempts: config.runner.max_attempts,
      defaultTarget: 'host',
      isKnown: (id) => !id.startsWith(`${placeholder}:`),
    },
    label,
  );
  assertWorkspacesInRoots(specs, rootsForGraph(config, workspace, 'admin'));
  const graphBudget = input.budget_usd ?? config.budget.default_graph_usd;
  try {
    if (graphBudget !== null) checkGraphReservation(specs, graphBudget);
  } catch (e) {
    throw e instanceof ColonyError ? new ColonyError(e.code, `${label}: ${e.message}`, e.details) : e;
  }
}

/**
 * A graph whose worst case exceeds its budget is refused up front. A task's
 * budget caps all its attempts together (core/budget), so the worst case is
 * the sum of the task budgets, whatever max_attempts is.
 */
export function checkGraphReservation(specs: readonly TaskSpec[], graphBudget: number): void {
  const r = graphReservation(specs, graphBudget);
  if (!r.ok && r.error) throw r.error;
}
