/**
 * Audit anchoring (issue 14): the hash chain alone cannot show that records
 * were deleted and the rest re-hashed, or that the tail was cut. The host
 * therefore signs checkpoints — (record count, head id, head hash, time) —
 * with its Ed25519 key, periodically and at shutdown. Verification compares
 * the log with every checkpoint whose signature holds. Pure (crypto verify is
 * computation; the caller reads rows and keys).
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from './canonical.js';

export interface CheckpointBody {
  at: number;
  record_count: number;
  head_id: number;
  head_hash: string;
}

export interface Checkpoint extends CheckpointBody {
  key_fingerprint: string;
  signature: string; // base64url Ed25519 over checkpointBytes(body)
}

const CONTEXT = 'colony-audit-checkpoint/v1\n';

export function checkpointBytes(b: CheckpointBody): Buffer {
  return Buffer.from(CONTEXT + canonicalJson({ at: b.at, record_count: b.record_count, head_id: b.head_id, head_hash: b.head_hash }));
}

export function signCheckpoint(b: CheckpointBody, privateKey: KeyObject, keyFingerprint: string): Checkpoint {
  return { ...b, key_fingerprint: keyFingerprint, signature: sign(null, checkpointBytes(b), privateKey).toString('base64url') };
}

export function checkpointSignatureOk(c: Checkpoint, publicKey: KeyObject): boolean {
  try {
    return verify(null, checkpointBytes(c), publicKey, Buffer.from(c.signature, 'base64url'));
  } catch {
    return false;
  }
}

/** What the verifier knows about the log, read by the store. */
export interface LogFacts {
  count: number;
  max_id: number;
  /** Ranges of ids absent between 1 and max_id (ids are assigned consecutively from 1). */
  gaps: readonly [number, number][];
  hashAt(id: number): string | null;
  countUpTo(id: number): number;
}

export interface Finding {
  kind: 'missing_records' | 'deleted_tail' | 're_chained' | 'count_mismatch' | 'bad_signature' | 'checkpoints_deleted';
  message: string;
}

const when = (at: number): string => new Date(at).toISOString();

/**
 * Findings for the log against the checkpoints (from the database and from the
 * file copy in the home). An empty list means the log matches every anchor.
 */
export function checkAnchors(log: LogFacts, inDb: readonly Checkpoint[], inFile: readonly Checkpoint[], publicKey: KeyObject | null): Finding[] {
  const findings: Finding[] = [];
  for (const [a, b] of log.gaps.slice(0, 20)) {
    findings.push({
      kind: 'missing_records',
      message: `records ${a === b ? `id ${a} is` : `ids ${a}–${b} are`} missing: deleted from the log (the records after them were re-linked)`,
    });
  }
  const key = (c: Checkpoint): string => `${c.head_id}|${c.head_hash}|${c.signature}`;
  const all = new Map<string, Checkpoint>();
  for (const c of [...inDb, ...inFile]) all.set(key(c), c);
  const dbKeys = new Set(inDb.map(key));
  const missingFromDb = inFile.filter((c) => !dbKeys.has(key(c)));
  if (missingFromDb.length > 0)
    findings.push({ kind: 'checkpoints_deleted', message: `${missingFromDb.length} signed checkpoint(s) kept in the home are missing from the database` });
  const valid: Checkpoint[] = [];
  for (const c of all.values()) {
    if (!publicKey || !checkpointSignatureOk(c, publicKey))
      findings.push({
        kind: 'bad_signature',
        message: `the checkpoint of ${when(c.at)} (head id ${c.head_id}) is not signed by this host's key: forged or altered`,
      });
    else valid.push(c);
  }
  valid.sort((a, b) => a.head_id - b.head_id);
  const latest = valid[valid.length - 1];
  if (latest && latest.head_id > log.max_id) {
    findings.push({
      kind: 'deleted_tail',
      message: `deleted tail: the signed checkpoint of ${when(latest.at)} covers ${latest.record_count} records up to id ${latest.head_id}, but the log ends at id ${log.max_id} (${log.count} records)`,
    });
  }
  for (const c of valid) {
    if (c.head_id > log.max_id) continue;
    const h = log.hashAt(c.head_id);
    if (h !== c.head_hash) {
      findings.push({
        kind: 're_chained',
        message: `re-chained: record ${c.head_id} ${h === null ? 'is gone' : 'has another hash'} than in the signed checkpoint of ${when(c.at)}: records up to it were changed and the chain re-hashed`,
      });
    }
    const n = log.countUpTo(c.head_id);
    if (n !== c.record_count) {
      findings.push({
        kind: 'count_mismatch',
        message: `count mismatch: the signed checkpoint of ${when(c.at)} counts ${c.record_count} records up to id ${c.head_id}, the log has ${n}`,
      });
    }
  }
  return findings;
}
