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

/**
 * THE worker card (one name for the concept): a local pool slot or a remote
 * worker as the dashboards, the APIs and the live stream show it. A redacted
 * card (another user's worker) has `redacted` set and no task title.
 */
export interface WorkerCard {
  id: string;
  kind: 'local' | 'remote';
  status: string;
  task_id: string | null;
  task_title: string | null;
  owner: string | null;
  engine: string | null;
  model: string | null;
  session_cost_usd: number;
  tokens_used: number;
  origin_ip: string | null;
  owner_name?: string | null;
  connected?: boolean;
  redacted?: boolean;
  // Enrolment facts of a remote worker (its owner and the admin see them).
  name?: string;
  fingerprint?: string;
  engines?: string[];
  open_to_admin?: boolean;
  enrolled_at?: number;
  last_seen_at?: number | null;
  revoked?: boolean;
}
