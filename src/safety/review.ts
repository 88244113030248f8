/**
 * What an admin approves when a task is held: the exact command, where and
 * with which engine it runs, and every finding of the screens on it. The
 * digest of those is recorded with the approval; at dispatch the gateway's
 * findings are digested again and the task runs only if they match (an
 * approval of a task is not an approval of findings it never showed).
 * Pure: hashing only.
 */
import { createHash } from 'node:crypto';
import type { GatewayResult } from './gateway.js';

export interface Finding {
  check: string;
  verdict: 'deny' | 'needs_approval';
  rule: string | null;
  reason: string | null;
}

export interface Review {
  findings: Finding[];
  digest: string;
}

/** The non-allow checks of a gateway run (the kill switch is a state, not a finding). */
export function findingsOf(result: Pick<GatewayResult, 'checks'>): Finding[] {
  const out: Finding[] = [];
  for (const c of result.checks) {
    if (c.check === 'killswitch' || c.verdict === 'allow') continue;
    out.push({ check: c.check, verdict: c.verdict, rule: c.rule ?? null, reason: c.reason ?? null });
  }
  return out;
}

export function reviewOf(task: { prompt: string; engine: string; workspace: string }, result: Pick<GatewayResult, 'checks'>): Review {
  const findings = findingsOf(result);
  const digest = createHash('sha256')
    .update(JSON.stringify({ v: 1, prompt: task.prompt, engine: task.engine, workspace: task.workspace, findings }))
    .digest('hex');
  return { findings, digest };
}
