/**
 * Engine choice for host-run tasks: the pure router (rules + adaptive layer)
 * fed with the attempt history from the store, the fallback on failure of a
 * cheap engine, and the budget check before the call. Each decision carries a
 * one-line explanation that is stored with the attempt.
 */
import { buildStats, addRecord, meanCost, type AdaptiveStats } from '../core/adaptive.js';
import { checkBeforeCall } from '../core/budget.js';
import { scoreComplexity } from '../core/complexity.js';
import type { ColonyConfig } from '../core/config.js';
import { ColonyError } from '../core/errors.js';
import { fallbackFor } from '../core/fallback.js';
import { estimateAttemptCost, formatUsd } from '../core/pricing.js';
import { routeTask } from '../core/router.js';
import type { EngineRegistry } from '../engines/registry.js';
import type { Store } from '../store/store.js';
import type { StoredTask } from '../store/rows.js';
import type { RouteChoice, RouteContext } from './pool.js';

export interface EngineRouting {
  route(task: StoredTask, ctx: RouteContext): RouteChoice;
  stats(): AdaptiveStats;
}

export function createEngineRouting(o: { config: ColonyConfig; store: Store; registry: EngineRegistry; env: NodeJS.ProcessEnv; rng?: () => number }): EngineRouting {
  const { config, store, registry } = o;
  const bucketOf = (prompt: string): string => scoreComplexity({ prompt }).bucket;
  const stats = buildStats(
    store.attemptHistory(5000).filter((a) => a.engine && a.state !== 'lost' && a.state !== 'cancelled').map((a) => ({
      bucket: bucketOf(a.prompt),
      engine: a.engine as string,
      model: a.model,
      ok: a.state === 'succeeded',
      cost_usd: a.cost_usd,
      latency_ms: a.finished_at === null ? null : a.finished_at - a.started_at,
    })),
  );
  // Learn online from every attempt that finishes from now on.
  store.subscribe((events) => {
    for (const e of events) {
      if (e.kind !== 'attempt.finished' || !e.task_id) continue;
      const d = e.data as { state?: string; engine?: string | null; model?: string | null; cost_usd?: number | null };
      if (!d.engine || d.state === 'lost' || d.state === 'cancelled') continue;
      const task = store.getTask(e.task_id);
      if (task) addRecord(stats, { bucket: bucketOf(task.prompt), engine: d.engine, model: d.model ?? null, ok: d.state === 'succeeded', cost_usd: d.cost_usd ?? null, latency_ms: null });
    }
  });
  // Dependency depth feeds the complexity score, which saturates at a few levels:
  // computed iteratively (no recursion on a 100k chain), memoised, capped.
  const MAX_DEPTH = 8;
  const depthMemo = new Map<string, number>();
  const depthOf = (id: string, deps: readonly string[]): number => {
    const stack: { id: string; deps: readonly string[] }[] = [{ id, deps }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as { id: string; deps: readonly string[] };
      if (depthMemo.has(top.id)) {
        stack.pop();
        continue;
      }
      const missing = top.deps.filter((d) => !depthMemo.has(d));
      if (missing.length > 0) {
        for (const d of missing) stack.push({ id: d, deps: store.depsOf(d) });
        continue;
      }
      depthMemo.set(top.id, Math.min(MAX_DEPTH, top.deps.reduce((m, d) => Math.max(m, 1 + (depthMemo.get(d) ?? 0)), 0)));
      stack.pop();
    }
    return depthMemo.get(id) ?? 0;
  };
  const rng = o.rng ?? Math.random;

  return {
    stats: () => stats,
    route(task, ctx) {
      const remaining = ctx.remaining_usd;
      const last = ctx.previous[ctx.previous.length - 1];
      let engine: string;
      let model: string | null;
      let rule: string;
      let explanation: string;
      if (last && task.engine === 'auto' && last.engine && last.engine !== 'exec') {
        const bucket = bucketOf(task.prompt);
        const fb = fallbackFor({ engine: last.engine, model: last.model }, { error_code: last.error_code }, remaining, {
          claude_default_model: config.engines.claude.default_model,
          pricing: registry.pricing,
          prompt_chars: task.prompt.length,
          observed_cost: (e, m) => meanCost(stats, bucket, e, m),
        });
        if (!fb.next) throw new ColonyError('E_ENGINE', `attempt ${ctx.previous.length} on ${last.engine} failed (${last.error_code ?? 'error'}); ${fb.reason}`);
        ({ engine, model } = fb.next);
        rule = 'fallback';
        explanation = `fallback after ${last.engine}${last.model ? `/${last.model}` : ''} failed (${last.error_code ?? 'error'}): ${fb.reason}`;
      } else {
        const d = routeTask(
          {
            prompt: task.prompt,
            engine: task.engine,
            model: task.model,
            budget_usd: remaining,
            depends_on_depth: depthOf(task.id, task.depends_on),
            env_engine: o.env['INFERENCE_ENGINE'] ?? null,
            attempts_left: Math.max(1, task.max_attempts - task.attempt),
          },
          { router: config.router, providers: config.engines.providers, claude_default_model: config.engines.claude.default_model, pricing: registry.pricing, stats: config.router.adaptive ? stats : undefined, rng, available: ctx.available ?? registry.available() },
        );
        ({ engine, model, rule, explanation } = d);
      }
      const estimate = estimateAttemptCost(registry.pricing, engine, model, task.prompt.length);
      const check = checkBeforeCall(estimate, remaining, { model });
      if (!check.ok) throw check.error;
      if (estimate !== null && engine !== 'exec') explanation += ` · estimate ≤ ${formatUsd(estimate)} of ${formatUsd(remaining)} left`;
      return { engine: registry.get(engine), model, rule, explanation };
    },
  };
}
