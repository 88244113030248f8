/**
 * Admin API for notifications and budgets (issue 18). Only the admin app
 * registers these; a LAN user has no route to them. Webhook URLs and secrets
 * are never sent back (a Slack URL is itself a credential): hooks are listed
 * by name, format, events and URL host only.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Host } from '../../runner/host.js';
import { adminActor } from './routes.js';

const scopeBody = z.strictObject({ scope: z.enum(['graph', 'user']), key: z.string().min(1).max(500) });
const budgetBody = scopeBody.extend({ budget_usd: z.number().finite().nonnegative().max(1_000_000).nullable() });
const testBody = z.strictObject({ hook: z.string().min(1).max(64) });
const DAY_MS = 86_400_000;

export function registerNotifyRoutes(app: FastifyInstance, host: Host, kick: () => void): void {
  const { notifier, budgets } = host;

  app.get('/admin/notifications', async () => ({
    webhooks: notifier
      .hooks()
      .map((h) => ({ name: h.name, format: h.format, events: h.events, host: new URL(h.url).host, signed: h.format === 'json' && h.secret !== null })),
    deliveries: notifier.outbox.recent(50).map(({ payload: _payload, ...r }) => r),
  }));

  app.post('/admin/notifications/test', async (request) => {
    const { hook } = testBody.parse(request.body);
    const row = await notifier.test(hook);
    return { delivery: { id: row.id, hook: row.hook, state: row.state, attempts: row.attempts, last_status: row.last_status, last_error: row.last_error } };
  });

  app.get('/admin/budgets', async () => budgets.overview());

  app.post('/admin/budgets', async (request) => {
    const b = budgetBody.parse(request.body);
    return { budget: budgets.setBudget(b.scope, b.key, b.budget_usd, adminActor(request)) };
  });

  app.post('/admin/budgets/resume', async (request) => {
    const b = scopeBody.parse(request.body);
    const s = budgets.resume(b.scope, b.key, adminActor(request));
    kick();
    return { budget: s };
  });

  app.get('/admin/costs/daily', async (request) => {
    const raw = Number((request.query as Record<string, unknown>)['days'] ?? 30);
    const days = Number.isFinite(raw) ? Math.max(1, Math.min(366, Math.floor(raw))) : 30;
    return { days, rows: budgets.scopes.dailyCost(Date.now() - days * DAY_MS) };
  });
}
