/**
 * Engine choice for host-run tasks: the pure router (rules + adaptive plans)
 * fed with the router's learned statistics, the fallback on failure of a
 * cheap engine, and the budget check before the call. Each decision carries a
 * one-line explanation that is stored with the attempt and in the router's
 * decision log.
 *
 * Learning uses the class the decision was made in (complexity with the
 * dependency depth) and the path of options tried on the task, keyed by
 * canonical model ids; the outcome log is persisted (store/router.ts) and
 * replayed at start.
 */
import { addRecord, emptyStats, meanCost, snapshot, type AdaptiveStats, type ArmView } from '../core/adaptive.js';
import { checkBeforeCall } from '../core/budget.js';
import { COMPLEXITY_BUCKETS, scoreComplexity } from '../core/complexity.js';
import type { ColonyConfig } from '../core/config.js';
import { ColonyError } from '../core/errors.js';
import { attemptsAllowed, fallbackFor } from '../core/fallback.js';
import { optionId } from '../core/model-id.js';
import { choosePlan, type PlanView } from '../core/plan.js';
import { estimateAttemptCost, formatUsd } from '../core/pricing.js';
import { isTerminal, type TaskState } from '../core/task.js';
import { candidatesFor, classDifficulty, routeTask, type RouteContext as CoreRouteContext, type RouteDecision } from '../core/router.js';
import type { EngineRegistry } from '../engines/registry.js';
import { RouterStore, type RouterDecisionRow, type RouterOutcomeRow } from '../store/router.js';
import { AGENT_CLI_ENGINES, DEFAULT_ENDPOINTS } from '../engines/agent-engines.js';
import type { CandidateView } from '../core/router-view.js';
import type { Store } from '../store/store.js';
import type { StoredTask } from '../store/rows.js';
import type { RouteChoice, RouteContext } from './pool.js';

export interface ClassInsight {
  cls: string;
  attempts: number; // attempts recorded in the class
  candidates: CandidateView[];
  arms: ArmView[]; // every learned step, fallbacks included
}

export interface RouterInsight {
  /** What the router would choose for a task with this text and budget now, with the means (no exploration, no side effect). */
  explain(prompt: string, budgetUsd?: number, depth?: number): RouteDecision;
  classes(): ClassInsight[];
  decisions(limit?: number): RouterDecisionRow[];
}

export interface EngineRouting {
  route(task: StoredTask, ctx: RouteContext): RouteChoice;
  stats(): AdaptiveStats;
  insight: RouterInsight;
}

const NOT_THE_MODEL = new Set(['E_CANCELLED', 'E_HALTED', 'E_SAFETY_DENIED', 'E_ENGINE_MISSING', 'E_ENGINE_AUTH']);

interface Pending {
  cls: string;
  path: string[];
}

/** Providers plus the configured agent CLIs (codex, gemini, opencode): every engine the automatic rules may pick. */
export function routerProviders(config: ColonyConfig): ColonyConfig['engines']['providers'] {
  const out: Record<string, ColonyConfig['engines']['providers'][string]> = { ...config.engines.providers };
  for (const name of AGENT_CLI_ENGINES) {
    const c = config.engines[name];
    if (!c) continue;
    out[name] = {
      base_url: c.base_url ?? DEFAULT_ENDPOINTS[name],
      api_key_env: c.api_key_env,
      models: c.models.length ? [...c.models] : [c.default_model],
      default_model: c.default_model,
      ...(c.cheap_model ? { cheap_model: c.cheap_model } : {}),
    };
  }
  return out;
}

export function createEngineRouting(o: {
  config: ColonyConfig;
  store: Store;
  registry: EngineRegistry;
  env: NodeJS.ProcessEnv;
  rng?: () => number;
}): EngineRouting {
  const { config, store, registry } = o;
  const log = new RouterStore(store);
  const idOf = (engine: string, model: string | null): string => optionId(registry.pricing, engine, model);
  try {
    log.prune();
  } catch {
    /* a read-only or full disk must not stop the host; pruning is retried next start */
  }
  const stats = emptyStats(config.router.memory);
  for (const r of log.outcomes()) addRecord(stats, r);

  // The class and path of each task's current attempt, from its routing decision to its end.
  const pending = new Map<string, Pending>();
  store.subscribe((events) => {
    for (const e of events) {
      if (e.kind === 'task.state' && e.task_id && isTerminal(e.data['to'] as TaskState)) pending.delete(e.task_id);
      if (e.kind !== 'attempt.finished' || !e.task_id) continue;
      const p = pending.get(e.task_id);
      if (!p) continue;
      const d = e.data as { state?: string; cost_usd?: number | null; attempt?: number; error_code?: string | null };
      // Says nothing about the model: lost to a crash, cancelled, halted, refused by a safety check, engine not set up.
      if (d.state === 'lost' || d.state === 'cancelled' || NOT_THE_MODEL.has(d.error_code ?? '')) continue;
      const rec = { cls: p.cls, path: p.path, ok: d.state === 'succeeded', cost_usd: d.cost_usd ?? null };
      addRecord(stats, rec);
      const taskId = e.task_id;
      store.grouped(() => log.addOutcome({ ...rec, task_id: taskId, attempt: d.attempt ?? 0 })).catch(() => undefined); // learning goes on in memory
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
      depthMemo.set(
        top.id,
        Math.min(
          MAX_DEPTH,
          top.deps.reduce((m, d) => Math.max(m, 1 + (depthMemo.get(d) ?? 0)), 0),
        ),
      );
      stack.pop();
    }
    return depthMemo.get(id) ?? 0;
  };
  const rng = o.rng ?? Math.random;

  // A home from before the outcome log: learn once from the attempt history, each attempt under
  // its task's class and the path of its task's earlier attempts, and log it so this runs once.
  if (stats.classes.size === 0) {
    try {
      const paths = new Map<string, string[]>();
      const rows = store.attemptHistory(5000).reverse(); // oldest first: a task's attempts in order
      const imported: RouterOutcomeRow[] = [];
      for (const a of rows) {
        if (!a.engine || a.engine === 'exec' || a.state === 'lost' || a.state === 'cancelled' || NOT_THE_MODEL.has(a.error_code ?? '')) continue;
        const task = store.getTask(a.task_id);
        if (!task) continue;
        const path = [...(paths.get(a.task_id) ?? []), idOf(a.engine, a.model)];
        paths.set(a.task_id, path);
        const cls = scoreComplexity({ prompt: task.prompt, depends_on_depth: depthOf(task.id, task.depends_on) }).bucket;
        imported.push({ task_id: a.task_id, attempt: a.attempt, cls, path, ok: a.state === 'succeeded', cost_usd: a.cost_usd });
      }
      for (const r of imported) addRecord(stats, r);
      if (imported.length > 0) store.transaction(() => imported.forEach((r) => log.addOutcome(r)));
    } catch {
      /* a store that cannot be read or written: the router starts from its priors */
    }
  }
  const coreCtx = (explore = true, available?: readonly string[]): CoreRouteContext => ({
    router: explore ? config.router : { ...config.router, explore_rate: 0 },
    providers: routerProviders(config),
    claude_default_model: config.engines.claude.default_model,
    pricing: registry.pricing,
    stats: config.router.adaptive ? stats : undefined,
    rng,
    available: available ?? registry.available(),
  });
  let sincePrune = 0;
  const remember = (taskId: string, d: { cls: string; rule: string; engine: string; model: string | null; explanation: string }): void => {
    // A long-running host keeps its logs bounded too: prune every 1,000 decisions.
    const prune = (sincePrune = (sincePrune + 1) % 1000) === 0;
    store
      .grouped(() => {
        log.addDecision({
          task_id: taskId,
          cls: d.cls,
          rule: d.rule,
          engine: d.engine,
          model: d.model,
          option: idOf(d.engine, d.model),
          explanation: d.explanation,
        });
        if (prune) log.prune();
      })
      .catch(() => undefined);
  };

  const insight: RouterInsight = {
    explain(prompt, budgetUsd = config.budget.default_task_usd, depth = 0) {
      return routeTask(
        {
          prompt,
          engine: 'auto',
          model: null,
          budget_usd: budgetUsd,
          depends_on_depth: depth,
          env_engine: o.env['INFERENCE_ENGINE'] ?? null,
          attempts_left: attemptsAllowed('auto', config.runner.max_attempts),
          value_usd: budgetUsd,
        },
        coreCtx(false),
      );
    },
    classes() {
      const ctx = coreCtx(false);
      const candidates = candidatesFor({ prompt: '' }, ctx);
      const learned = new Map(snapshot(stats).map((c) => [c.cls, c]));
      const budget = config.budget.default_task_usd;
      return COMPLEXITY_BUCKETS.map((cls): ClassInsight => {
        const r = choosePlan(stats, cls, candidates, {
          budget_usd: budget,
          value_usd: config.router.success_value_usd ?? budget,
          attempts: attemptsAllowed('auto', config.runner.max_attempts),
          claude_default_model: ctx.claude_default_model,
          difficulty: classDifficulty(cls),
          explore: 0,
          rng,
          idOf,
        });
        const plans: PlanView[] = r.ok ? r.plans : [];
        return {
          cls,
          attempts: learned.get(cls)?.step ?? 0,
          candidates: plans.map((p) => {
            const s = p.steps[0] as PlanView['steps'][number];
            return {
              option: s.id,
              p: s.p,
              prior: s.prior,
              n: s.n,
              ok: s.ok,
              weight: s.weight,
              cost_usd: s.cost_usd,
              cost_source: s.cost_source,
              plan: p.steps.map((x) => x.id).join(' → '),
              plan_success: p.success,
              plan_cost_usd: p.cost_usd,
              plan_value_usd: p.value_usd,
            };
          }),
          arms: learned.get(cls)?.arms ?? [],
        };
      });
    },
    decisions: (limit = 50) => log.decisions(limit),
  };

  return {
    stats: () => stats,
    insight,
    route(task, ctx) {
      const remaining = ctx.remaining_usd;
      const last = ctx.previous[ctx.previous.length - 1];
      let engine: string;
      let model: string | null;
      let rule: string;
      let explanation: string;
      let cls: string;
      if (last && task.engine === 'auto' && last.engine && last.engine !== 'exec') {
        const before = pending.get(task.id);
        // After a restart the class is recomputed the same way and the path rebuilt from the attempts.
        cls = before?.cls ?? scoreComplexity({ prompt: task.prompt, depends_on_depth: depthOf(task.id, task.depends_on) }).bucket;
        const path = before?.path ?? ctx.previous.filter((p) => p.engine).map((p) => idOf(p.engine, p.model));
        const fb = fallbackFor({ engine: last.engine, model: last.model }, { error_code: last.error_code }, remaining, {
          claude_default_model: config.engines.claude.default_model,
          pricing: registry.pricing,
          prompt_chars: task.prompt.length,
          observed_cost: (e, m) => meanCost(stats, cls, idOf(e, m)),
        });
        if (!fb.next)
          throw new ColonyError('E_ENGINE', `attempt ${ctx.previous.length} on ${last.engine} failed (${last.error_code ?? 'error'}); ${fb.reason}`);
        ({ engine, model } = fb.next);
        rule = 'fallback';
        explanation = `fallback after ${last.engine}${last.model ? `/${last.model}` : ''} failed (${last.error_code ?? 'error'}): ${fb.reason}`;
        pending.set(task.id, { cls, path: [...path, idOf(engine, model)] });
      } else {
        const charged = ctx.previous.filter((p) => !p.lost).length;
        const d = routeTask(
          {
            prompt: task.prompt,
            engine: task.engine,
            model: task.model,
            budget_usd: remaining,
            depends_on_depth: depthOf(task.id, task.depends_on),
            env_engine: o.env['INFERENCE_ENGINE'] ?? null,
            attempts_left: Math.max(1, attemptsAllowed(task.engine, task.max_attempts) - charged),
            value_usd: task.budget_usd,
          },
          coreCtx(true, ctx.available),
        );
        ({ engine, model, rule, explanation, cls } = d);
        if (engine !== 'exec') pending.set(task.id, { cls, path: [idOf(engine, model)] });
      }
      const estimate = estimateAttemptCost(registry.pricing, engine, model, task.prompt.length);
      const check = checkBeforeCall(estimate, remaining, { model });
      if (!check.ok) throw check.error;
      if (estimate !== null && engine !== 'exec') explanation += ` · estimate ≤ ${formatUsd(estimate)} of ${formatUsd(remaining)} left`;
      if (engine !== 'exec') remember(task.id, { cls, rule, engine, model, explanation });
      return { engine: registry.get(engine), model, rule, explanation };
    },
  };
}
