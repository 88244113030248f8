/**
 * Writes signed audit checkpoints for a running host (issue 14): at start,
 * every `retention.checkpoint_interval_s` when the log moved, and at shutdown.
 * Each goes to the database (audit_checkpoints) and is appended to
 * `<home>/audit-checkpoints.jsonl`, so deleting rows from one copy shows.
 * The key is the host's Ed25519 identity (`<home>/keys/host.key`), the same
 * one the remote protocol signs with.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { signCheckpoint, type Checkpoint } from '../core/audit-anchor.js';
import { auditHead, lastCheckpoint, saveCheckpoint } from '../store/checkpoints.js';
import type { Store } from '../store/store.js';

export const CHECKPOINT_FILE = 'audit-checkpoints.jsonl';

export interface AnchorKey {
  privateKey: KeyObject;
  fingerprint: string;
}

/** Writes a checkpoint when the log has records the last one does not cover; returns it, or null when nothing changed. */
export function writeCheckpoint(store: Store, home: string, key: AnchorKey, now: number): Checkpoint | null {
  const head = auditHead(store, now);
  const last = lastCheckpoint(store);
  if (head.record_count === 0 || (last && last.head_id === head.head_id && last.head_hash === head.head_hash)) return null;
  const c = signCheckpoint(head, key.privateKey, key.fingerprint);
  saveCheckpoint(store, c);
  appendFileSync(join(home, CHECKPOINT_FILE), JSON.stringify(c) + '\n', { mode: 0o600 });
  return c;
}

/** The checkpoints kept in the home (lines that do not parse are skipped: verification reports what is missing). */
export function readCheckpointFile(home: string): Checkpoint[] {
  const file = join(home, CHECKPOINT_FILE);
  if (!existsSync(file)) return [];
  const out: Checkpoint[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as Checkpoint);
    } catch {
      /* a torn last line (crash while appending) */
    }
  }
  return out;
}
