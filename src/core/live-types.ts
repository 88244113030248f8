/**
 * Shapes that travel on the live streams, shared by the store (which writes
 * events), the runner and remote host (which publish worker cards), and the
 * pure per-viewer redaction in core/redact.ts.
 */
export interface EventRecord {
  id: number;
  at: number;
  kind: string;
  task_id: string | null;
  owner: string | null; // submitter of the task concerned; null = public
  data: Record<string, unknown>;
}

/** A worker card as the dashboards show it (local pool slot or remote worker). */
export interface WorkerCard {
  id: string;
  kind: string;
  status: string;
  task_id: string | null;
  task_title: string | null;
  owner: string | null;
  engine: string | null;
  model: string | null;
  session_cost_usd: number;
  tokens_used: number;
  origin_ip: string;
  owner_name?: string | null;
  connected?: boolean;
}
