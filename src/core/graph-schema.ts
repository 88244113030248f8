/**
 * The graph file format (JSON or YAML) and single-task submissions: zod
 * schemas, defaults, and compilation into TaskSpecs with global ids. Every
 * problem is reported with the task it concerns; nothing is half-accepted.
 *
 * `taskInputSchema` is THE task schema of every entry point (graph file,
 * admin API, LAN API; the protocol's TASK_ASSIGNED has the same limits):
 * text limits are in UTF-8 bytes, as on the wire, so a task accepted at
 * submit always fits the protocol when it is sent to a worker.
 */
import { z } from 'zod';
import { validateGraph } from './dag.js';
import { ColonyError } from './errors.js';
import { MAX_PROMPT_BYTES, MAX_WORKSPACE_BYTES, utf8Text } from './protocol-fields.js';
import type { TaskSpec } from './task.js';

export const LOCAL_ID = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;
export const ENGINE_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
export { MAX_PROMPT_BYTES };

export const taskInputSchema = z.strictObject({
  id: z.string().regex(LOCAL_ID, 'must be 1-64 letters, digits, "_", "-" or "." (no ":")'),
  title: z.string().min(1).max(200).optional(),
  prompt: utf8Text(MAX_PROMPT_BYTES).min(1, 'must not be empty'),
  engine: z.string().regex(ENGINE_NAME, 'must be an engine name like auto, claude, groq or exec').default('auto'),
  model: z.string().min(1).max(100).optional(),
  budget_usd: z.number().finite().nonnegative('must be ≥ 0').optional(),
  depends_on: z.array(z.string().min(1).max(200)).max(1000).default([]),
  workspace: utf8Text(MAX_WORKSPACE_BYTES, 1).optional(),
  target: z.string().min(1).max(128).optional(),
  wait_timeout_s: z.number().finite().positive().optional(),
  run_timeout_s: z.number().finite().positive().optional(),
  max_attempts: z.number().int().min(1).max(20).optional(),
  trigger: z.enum(['all_success', 'all_done']).default('all_success'),
});
export type TaskInput = z.infer<typeof taskInputSchema>;

export const graphFileSchema = z.strictObject({
  name: z.string().min(1).max(100).default('graph'),
  budget_usd: z.number().finite().nonnegative('must be ≥ 0').optional(),
  tasks: z.array(taskInputSchema).min(1, 'a graph needs at least one task').max(100_000),
});
export type GraphInput = z.infer<typeof graphFileSchema>;

export interface CompileOptions {
  graphId: string;
  workspace: string; // default workspace (directory of the graph file, or the cwd)
  resolveWorkspace: (ws: string) => string; // relative workspace → absolute
  defaultBudgetUsd: number;
  defaultMaxAttempts: number;
  defaultTarget: string;
  isKnown?: (globalId: string) => boolean; // existing tasks a submission may depend on
}

/** `name-abc123` → `name-abc123:build`. Local ids never contain ':', so the split is unambiguous. */
export function globalId(graphId: string, localId: string): string {
  return `${graphId}:${localId}`;
}

/** Parses an already-decoded graph object; throws E_BAD_INPUT listing every problem as `task "x" (tasks[3]): field: message`. */
export function parseGraph(raw: unknown, label = 'graph'): GraphInput {
  const r = graphFileSchema.safeParse(raw);
  if (r.success) return r.data;
  const tasks = (raw as { tasks?: unknown[] } | null)?.tasks;
  const problems = r.error.issues.map((i) => {
    const [head, index, ...rest] = i.path;
    if (head === 'tasks' && typeof index === 'number') {
      const id = (tasks?.[index] as { id?: unknown } | undefined)?.id;
      const who = typeof id === 'string' ? `task "${id}" (tasks[${index}])` : `tasks[${index}]`;
      return `${who}: ${rest.length ? rest.join('.') + ': ' : ''}${i.message}`;
    }
    return `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`;
  });
  throw new ColonyError('E_BAD_INPUT', `${label}: ${problems.join('; ')}`, { problems });
}

/**
 * Validates the structure (ids, dependencies, cycles) and fills defaults.
 * Dependencies inside the file use local ids; an entry containing ':' names an
 * existing task by global id (allowed only when opts.isKnown says it exists).
 */
export function compileGraph(g: GraphInput, opts: CompileOptions, label = 'graph'): TaskSpec[] {
  const local = new Set(g.tasks.map((t) => t.id));
  const toGlobal = (dep: string): string => (dep.includes(':') && !local.has(dep) ? dep : globalId(opts.graphId, dep));
  const nodes = g.tasks.map((t) => ({ id: globalId(opts.graphId, t.id), depends_on: t.depends_on.map(toGlobal) }));
  const problems = validateGraph(nodes, opts.isKnown);
  if (problems.length > 0) {
    const first = problems[0];
    const strip = (s: string): string => s.split(`${opts.graphId}:`).join('');
    throw new ColonyError(first?.code ?? 'E_BAD_INPUT', `${label}: ${problems.map((p) => strip(p.message)).join('; ')}`, {
      problems: problems.map((p) => ({ ...p, task: strip(p.task), message: strip(p.message), path: p.path?.map(strip) })),
    });
  }
  return g.tasks.map((t, i) => ({
    id: globalId(opts.graphId, t.id),
    title: t.title ?? firstLine(t.prompt),
    prompt: t.prompt,
    engine: t.engine,
    model: t.model ?? null,
    budget_usd: t.budget_usd ?? opts.defaultBudgetUsd,
    depends_on: nodes[i]?.depends_on ?? [],
    workspace: t.workspace ? opts.resolveWorkspace(t.workspace) : opts.workspace,
    target: t.target ?? opts.defaultTarget,
    wait_timeout_s: t.wait_timeout_s ?? null,
    run_timeout_s: t.run_timeout_s ?? null,
    max_attempts: t.max_attempts ?? opts.defaultMaxAttempts,
    trigger: t.trigger,
  }));
}

export function firstLine(text: string, max = 80): string {
  const line = text.trim().split('\n')[0] ?? '';
  return line.length > max ? line.slice(0, max - 1) + '…' : line;
}

/** A graph id from its name: readable prefix plus a random suffix supplied by the caller. */
export function makeGraphId(name: string, suffix: string): string {
  const slug =
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 24) || 'graph';
  return `${slug}-${suffix}`;
}
