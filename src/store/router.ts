/**
 * Persistence of the adaptive router: the outcome log it learns from (replayed
 * in order at start, so the discounted statistics come back exactly as they
 * were) and its recent decisions with their explanations.
 */
import { dbOf } from './internal.js';
import type { Store } from './store.js';

export interface RouterOutcomeRow {
  task_id: string;
  attempt: number;
  cls: string;
  path: string[];
  ok: boolean;
  cost_usd: number | null;
}

export interface RouterDecisionRow {
  id: number;
  at: number;
  task_id: string | null;
  cls: string;
  rule: string;
  engine: string;
  model: string | null;
  option: string;
  explanation: string;
}

/** Outcomes kept: far more than the router's memory of every class needs. */
const KEEP_OUTCOMES = 50_000;
const KEEP_DECISIONS = 2_000;

export class RouterStore {
  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  addOutcome(o: RouterOutcomeRow): void {
    dbOf(this.store)
      .prepare('INSERT INTO router_outcomes (at, task_id, attempt, cls, path, ok, cost_usd) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(this.now(), o.task_id, o.attempt, o.cls, JSON.stringify(o.path), o.ok ? 1 : 0, o.cost_usd);
  }

  /** The most recent `limit` outcomes, oldest first (replay order). */
  outcomes(limit = KEEP_OUTCOMES): RouterOutcomeRow[] {
    const rows = dbOf(this.store)
      .prepare('SELECT * FROM (SELECT id, task_id, attempt, cls, path, ok, cost_usd FROM router_outcomes ORDER BY id DESC LIMIT ?) AS recent ORDER BY id')
      .all(limit) as { task_id: string; attempt: number; cls: string; path: string; ok: number; cost_usd: number | null }[];
    return rows.map((r) => ({ task_id: r.task_id, attempt: r.attempt, cls: r.cls, path: parsePath(r.path), ok: r.ok === 1, cost_usd: r.cost_usd }));
  }

  addDecision(d: Omit<RouterDecisionRow, 'id' | 'at'>): void {
    dbOf(this.store)
      .prepare('INSERT INTO router_decisions (at, task_id, cls, rule, engine, model, option, explanation) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(this.now(), d.task_id, d.cls, d.rule, d.engine, d.model, d.option, d.explanation);
  }

  /** Newest first. */
  decisions(limit = 50): RouterDecisionRow[] {
    return dbOf(this.store)
      .prepare('SELECT * FROM router_decisions ORDER BY id DESC LIMIT ?')
      .all(Math.max(1, Math.min(500, limit))) as RouterDecisionRow[];
  }

  /** Drops old rows beyond what is kept (at start). */
  prune(): void {
    this.store.transaction(() => {
      dbOf(this.store).prepare('DELETE FROM router_outcomes WHERE id <= (SELECT MAX(id) FROM router_outcomes) - ?').run(KEEP_OUTCOMES);
      dbOf(this.store).prepare('DELETE FROM router_decisions WHERE id <= (SELECT MAX(id) FROM router_decisions) - ?').run(KEEP_DECISIONS);
    });
  }
}

function parsePath(s: string): string[] {
  try {
    const v: unknown = JSON.parse(s);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}
