/**
 * What the dashboard shows of the adaptive router for one candidate of a task
 * class (GET /admin/router): its learned success, prior and samples, its cost,
 * and the plan it heads. Shared by the host (runner/engine-routing.ts) and the
 * dashboard (web/router.ts).
 */
export interface CandidateView {
  option: string;
  p: number;
  prior: number;
  n: number;
  ok: number;
  weight: number;
  cost_usd: number;
  cost_source: string;
  plan: string;
  plan_success: number;
  plan_cost_usd: number;
  plan_value_usd: number;
}
