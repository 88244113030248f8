/** Request shapes of the user app, validated once at the edge. */
import { z } from 'zod';
import { graphFileSchema, taskInputSchema } from '../../core/graph-schema.js';
import { singleTaskSchema } from '../schemas.js';

export const MAX_LAN_GRAPH_TASKS = 50;

/** Shown to the admin and (as a worker's owner) to other users: printable, one line. */
export const displayName = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(60, 'at most 60 characters')
  .regex(/^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+$/u, 'must be printable text on one line');

export const createSessionSchema = z.strictObject({
  display_name: displayName,
  code: z.string().max(200).optional(),
});

export const renameSessionSchema = z.strictObject({ display_name: displayName });

/**
 * A LAN task runs on the submitter's own paired workers ('own-worker', any of them), on one of them named by id
 * (the service refuses a revoked, unknown or another user's worker: E_WORKER_UNAVAILABLE), or on the host once the
 * admin approves it.
 */
const lanTarget = z.string().refine((t) => t === 'own-worker' || t === 'host' || /^w-[0-9a-f]{10}$/.test(t), {
  message: 'target must be "own-worker" (your paired machines), one of your workers\' ids (w-…) or "host" (needs the admin\'s approval)',
});

/** LAN users never choose a host path: a workspace is relative (no `..`), inside the host's or their worker's root. */
const lanWorkspace = z
  .string()
  .min(1)
  .max(1024)
  .refine(
    (w) => !w.startsWith('/') && !w.startsWith('~') && !w.split(/[\\/]/).includes('..'),
    'workspace must be a relative path without ".." (it is resolved inside the workspace root)',
  );

const lanGraphSchema = z.strictObject({
  graph: graphFileSchema.extend({
    tasks: z
      .array(taskInputSchema.extend({ target: lanTarget.optional(), workspace: lanWorkspace.optional() }))
      .min(1, 'a graph needs at least one task')
      .max(MAX_LAN_GRAPH_TASKS, `a LAN submission has at most ${MAX_LAN_GRAPH_TASKS} tasks`),
  }),
});
const lanTaskSchema = singleTaskSchema.extend({ target: lanTarget.optional(), workspace: lanWorkspace.optional() });

export type LanSubmission = { graph: z.infer<typeof lanGraphSchema>['graph'] } | z.infer<typeof lanTaskSchema>;

/** `{graph: {...}}` is a small graph; anything else must be a single task. One schema per shape, so errors name the real problem. */
export function parseLanSubmission(body: unknown): LanSubmission {
  const isGraph = typeof body === 'object' && body !== null && 'graph' in body;
  return isGraph ? lanGraphSchema.parse(body) : lanTaskSchema.parse(body);
}
