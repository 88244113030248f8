/** The adaptive router for the admin: per-class candidates and recent decisions, and "what would you choose for this text". */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { RouterInsight } from '../../runner/engine-routing.js';

const explainSchema = z.strictObject({
  prompt: z.string().min(1).max(100_000),
  budget_usd: z.number().finite().nonnegative().optional(),
  depends_on_depth: z.number().int().min(0).max(1000).optional(),
});

export function registerRouterRoutes(app: FastifyInstance, router: RouterInsight): void {
  app.get('/admin/router', async (request) => {
    const raw = Number((request.query as Record<string, unknown>)['limit'] ?? 30);
    const limit = Number.isFinite(raw) ? Math.max(1, Math.min(200, Math.floor(raw))) : 30;
    return { classes: router.classes(), decisions: router.decisions(limit) };
  });
  app.post('/admin/router/explain', async (request) => {
    const body = explainSchema.parse(request.body);
    const d = router.explain(body.prompt, body.budget_usd, body.depends_on_depth);
    return {
      decision: {
        engine: d.engine,
        model: d.model,
        rule: d.rule,
        cls: d.cls,
        explanation: d.explanation,
        complexity: d.complexity,
        plan: d.plan ?? null,
        plans: d.plans ?? [],
      },
    };
  });
}
