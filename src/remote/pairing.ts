/**
 * Pairing (DESIGN §6): a signed-in LAN user gets a one-time code (5 minutes,
 * single use); `colony worker --code` enrols its Ed25519 public key with it,
 * bound to that user, and learns the host's public key and TLS certificate to
 * pin. The code is never sent: it keys MACs both sides check over both keys
 * and the certificate fingerprint (pairing-mac.ts), so nobody in between can
 * substitute a key.
 *
 * Codes are 8 Crockford base32 characters (40 bits) shown as XXXX-XXXX; the
 * store keeps only a hash. Failed enrolments are limited per address (IPv6
 * by /64), so guessing codes within their lifetime is hopeless, and audited
 * coalesced like the other unauthenticated refusals: the first per source
 * and second is written, repeats are counted into that source's next record.
 */
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ipBucket } from '../core/cidr.js';
import { ColonyError } from '../core/errors.js';
import { RefusalWindow } from '../core/refusal-window.js';
import { field } from '../core/protocol.js';
import type { Actor, Store } from '../store/store.js';
import type { WorkerRecord, WorkerStore } from '../store/workers.js';
import { hostProof, normalisePairingCode, pairingSecretAsync, sameProof, workerProof, type PairingTranscript } from './pairing-mac.js';
import { exportPublicKeyRaw, fingerprint, importPublicKey, type KeyPair } from './signing.js';

export { normalisePairingCode } from './pairing-mac.js';

export const PAIRING_CODE_TTL_MS = 5 * 60_000;
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'; // Crockford: no I, L, O, U
const FAILURES_PER_WINDOW = 20;
const FAILURE_WINDOW_MS = 10 * 60_000;
/** Sources whose failures are remembered; past it the oldest is forgotten (an attacker with many addresses must not grow memory). */
const MAX_FAILURE_SOURCES = 10_000;

export interface HostIdentity extends KeyPair {
  fingerprint: string;
}

const proof = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'a base64url HMAC-SHA256');
const certFp = z.string().min(1).max(200).nullable();

/** GET /api/workers/pairing-info: what the worker's proof covers (it checks the certificate on its own connection). */
export const pairingInfoSchema = z.strictObject({
  host_public_key: z.string().min(1).max(200),
  host_fingerprint: z.string().min(1).max(200),
  cert_fingerprint: certFp,
});
export type PairingInfo = z.infer<typeof pairingInfoSchema>;

export const enrollSchema = z.strictObject({
  public_key: z.string().min(32).max(1000),
  /** HMAC keyed from the code over the host key and certificate the worker saw and its own key (pairing-mac.ts). */
  proof,
  name: z
    .string()
    .trim()
    .min(1)
    .max(64)
    .regex(/^[^\u0000-\u001f\u007f]+$/, 'control characters are not allowed'),
  engines: z.array(field.engineName).max(32),
  open_to_admin: z.boolean(),
});
export type EnrollRequest = z.infer<typeof enrollSchema>;

export const enrollResponseSchema = z.strictObject({
  worker_id: z.string().min(1),
  owner: z.string().min(1),
  name: z.string(),
  host_public_key: z.string().min(1),
  host_fingerprint: z.string().min(1),
  cert_fingerprint: certFp,
  worker_fingerprint: z.string().min(1),
  /** The host's MAC over the same transcript plus worker_id and owner: proves it knew the code. */
  proof,
});
export type EnrollResponse = z.infer<typeof enrollResponseSchema>;

/** A fresh code from 5 random bytes: 8 base32 characters as XXXX-XXXX. */
export function newPairingCode(bytes: Buffer = randomBytes(5)): string {
  let bits = 0n;
  for (const b of bytes.subarray(0, 5)) bits = (bits << 8n) | BigInt(b);
  let out = '';
  for (let i = 7; i >= 0; i--) out += ALPHABET[Number((bits >> BigInt(i * 5)) & 31n)];
  return `${out.slice(0, 4)}-${out.slice(4)}`;
}

export function hashPairingCode(code: string): string {
  return createHash('sha256').update('colony-pairing-code\n').update(normalisePairingCode(code)).digest('hex');
}

export class PairingService {
  private readonly failures = new Map<string, number[]>();
  /** Per source, once a second (whatever the code: the count of all its refusals goes with its next record); at most 20 records a second in all. */
  private readonly refusals = new RefusalWindow(1000, MAX_FAILURE_SOURCES, 20);

  constructor(
    private readonly workers: WorkerStore,
    private readonly store: Store,
    private readonly hostKey: HostIdentity,
    private readonly now: () => number = Date.now,
    /** The user app's TLS certificate fingerprint; null over --insecure-http. */
    readonly certFingerprint: string | null = null,
  ) {}

  info(): PairingInfo {
    return { host_public_key: exportPublicKeyRaw(this.hostKey.publicKey), host_fingerprint: this.hostKey.fingerprint, cert_fingerprint: this.certFingerprint };
  }

  async createCode(owner: string, who: Actor): Promise<{ code: string; expires_at: number }> {
    const code = newPairingCode();
    const secret = await pairingSecretAsync(code);
    const now = this.now();
    const expires_at = now + PAIRING_CODE_TTL_MS;
    this.workers.createPairingCode(hashPairingCode(code), owner, now, expires_at, who, secret);
    return { code, expires_at };
  }

  enroll(req: EnrollRequest, origin: string): { worker: WorkerRecord; response: EnrollResponse } {
    const now = this.now();
    this.checkFailures(origin, now);
    let publicKeyRaw: string;
    try {
      publicKeyRaw = exportPublicKeyRaw(importPublicKey(req.public_key));
    } catch (e) {
      throw this.refused(origin, now, e instanceof ColonyError ? e : new ColonyError('E_BAD_INPUT', 'public_key is not an Ed25519 key'));
    }
    const workerFp = fingerprint(importPublicKey(publicKeyRaw));
    // The transcript as this host knows it: a worker that saw another host key or certificate computed another proof.
    const info = this.info();
    const t: PairingTranscript = { host_public_key: info.host_public_key, cert_fingerprint: info.cert_fingerprint, worker_public_key: publicKeyRaw };
    const code = this.workers.liveCodes(now).find((c) => sameProof(workerProof(c.secret, t), req.proof));
    if (!code) {
      throw this.refused(
        origin,
        now,
        new ColonyError(
          'E_UNAUTHORIZED',
          "pairing refused: the code is unknown, used or expired, or the worker did not see this host's key and certificate (someone in between?); ask for a new code on the dashboard",
        ),
      );
    }
    let worker: WorkerRecord;
    try {
      worker = this.workers.enroll(
        code.code_hash,
        {
          id: `w-${randomBytes(5).toString('hex')}`,
          name: req.name,
          public_key: publicKeyRaw,
          fingerprint: workerFp,
          engines: [...new Set(req.engines)],
          open_to_admin: req.open_to_admin,
        },
        now,
        origin,
      );
    } catch (e) {
      throw this.refused(origin, now, e);
    }
    return {
      worker,
      response: {
        worker_id: worker.id,
        owner: worker.owner,
        name: worker.name,
        host_public_key: info.host_public_key,
        host_fingerprint: info.host_fingerprint,
        cert_fingerprint: info.cert_fingerprint,
        worker_fingerprint: workerFp,
        proof: hostProof(code.secret, t, { worker_id: worker.id, owner: worker.owner }),
      },
    };
  }

  private refused(origin: string, now: number, e: unknown): unknown {
    const source = ipBucket(origin);
    const list = this.failures.get(source) ?? [];
    list.push(now);
    this.failures.delete(source); // re-insert: the Map's order is least recently failed first
    this.failures.set(source, list);
    if (this.failures.size > MAX_FAILURE_SOURCES) this.failures.delete(this.failures.keys().next().value as string);
    this.audit(origin, source, now, e);
    return e;
  }

  /** One `worker.enroll_refused` record per source and second; the refusals not written are counted into its next. */
  private audit(origin: string, source: string, now: number, e: unknown): void {
    const code = e instanceof ColonyError ? e.code : 'E_INTERNAL';
    const { write, suppressed } = this.refusals.admit(source, now);
    if (!write) return;
    this.store.appendAudit({
      actor: 'anonymous',
      origin,
      action: 'worker.enroll_refused',
      target: null,
      detail: { code, ...(suppressed ? { repeats_not_recorded: suppressed } : {}) },
    });
  }

  private checkFailures(origin: string, now: number): void {
    const source = ipBucket(origin);
    const recent = (this.failures.get(source) ?? []).filter((t) => now - t < FAILURE_WINDOW_MS);
    if (recent.length === 0) this.failures.delete(source);
    else this.failures.set(source, recent);
    if (recent.length >= FAILURES_PER_WINDOW) {
      // Counted in the audit (coalesced) but not as another failure: the limit lifts as the old ones age.
      const e = new ColonyError('E_RATE_LIMITED', `too many failed pairing attempts from ${origin}; wait a few minutes and ask for a new code`);
      this.audit(origin, source, now, e);
      throw e;
    }
  }
}
