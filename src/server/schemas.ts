/** Request body schemas shared by the admin and user apps (validated once at the edge). */
import { z } from 'zod';
import { firstLine, graphFileSchema, taskInputSchema } from '../core/graph-schema.js';

/** A single task: the one task schema (core/graph-schema) without id and trigger, with tighter API bounds. */
export const singleTaskSchema = taskInputSchema.omit({ id: true, trigger: true }).extend({
  engine: taskInputSchema.shape.engine.removeDefault().optional(),
  budget_usd: z.number().finite().nonnegative('must be ≥ 0').max(1000).optional(),
  depends_on: z.array(z.string().min(1).max(200)).max(100).optional(),
});
export type SingleTask = z.infer<typeof singleTaskSchema>;

export const executeSchema = z.union([z.strictObject({ graph: graphFileSchema }), singleTaskSchema]);

export const idParam = z.strictObject({ id: z.string().min(1).max(300) });

/** POST /admin/approve/:id: optionally the review digest the admin was shown (GET /admin/pending). */
export const approveBody = z.object({
  digest: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
});

export const taskQuery = z.strictObject({
  state: z.string().max(40).optional(),
  graph_id: z.string().max(200).optional(),
  q: z.string().max(200).optional(),
  engine: z.string().max(40).optional(),
  submitted_by: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(5000).optional(),
  offset: z.coerce.number().int().min(0).optional(),
});

export const auditQuery = z.strictObject({
  action: z.string().max(100).optional(),
  actor: z.string().max(200).optional(),
  target: z.string().max(300).optional(),
  before_id: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

export const dropEdgeSchema = z.strictObject({ depends_on: z.string().min(1).max(300) });

/** A single task becomes a one-task graph, so both shapes share one submission path. */
export function singleTaskGraph(t: SingleTask): z.infer<typeof graphFileSchema> {
  const { depends_on, ...rest } = t;
  // Named from the prompt (a node "task" in run "task · task-40c558" says nothing on the dashboard).
  const title = t.title ?? firstLine(t.prompt, 60);
  return graphFileSchema.parse({ name: title.slice(0, 100) || 'task', tasks: [{ id: taskSlug(title), ...rest, depends_on: depends_on ?? [] }] });
}

/** A local task id from a title: lower-case words joined by "-", at most 40 characters; "task" when nothing is left. */
export function taskSlug(title: string): string {
  return (
    title
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+/, '')
      .slice(0, 40)
      .replace(/-+$/, '') || 'task'
  );
}
