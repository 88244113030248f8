/**
 * Pairing without trust on first use (issue 14): the one-time code never
 * crosses the network; it keys two MACs that authenticate both public keys
 * and the host's TLS certificate to each other.
 *
 *   K  = scrypt(code) → HKDF-SHA256 → k_worker, k_host
 *   worker → host   proof  = HMAC(k_worker, transcript)
 *   host  → worker  answer = HMAC(k_host, transcript + worker id + owner)
 *   transcript = host Ed25519 key, host certificate fingerprint (null over
 *                --insecure-http), worker Ed25519 key — as each side saw them
 *
 * A LAN attacker who answers the worker's enrolment with its own host key or
 * certificate makes the worker's proof cover the attacker's key, which the
 * real host (computing over its own) refuses; it cannot make a proof of its
 * own, nor an answer the worker accepts, without the code. scrypt makes each
 * guess of the 40-bit code cost tens of milliseconds and megabytes, so the
 * code cannot be recovered offline from a captured proof within its 5-minute
 * life. Pure functions of node:crypto: a worker downloaded from the host
 * (issue 22) reuses them unchanged.
 */
import { createHmac, hkdfSync, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import { canonicalJson } from '../core/canonical.js';

const SALT = 'colony-pairing/v1';
const SCRYPT = { N: 2 ** 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export interface PairingTranscript {
  /** Raw Ed25519 host key, base64url. */
  host_public_key: string;
  /** The host's TLS certificate fingerprint as the worker saw it; null over plain HTTP. */
  cert_fingerprint: string | null;
  /** Raw Ed25519 worker key, base64url. */
  worker_public_key: string;
}

/** What people type: any case, with or without the dash or spaces, O for 0 and I/L for 1. */
export function normalisePairingCode(input: string): string {
  return input.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
}

/** The slow part, done once per code: 32 bytes the host keeps for the code's life (hex) and the worker derives itself. */
export function pairingSecret(code: string): string {
  return scryptSync(normalisePairingCode(code), SALT, 32, SCRYPT).toString('hex');
}

/** pairingSecret on the thread pool (the host makes one per code without stalling its event loop). */
export function pairingSecretAsync(code: string): Promise<string> {
  return new Promise((resolve, reject) => scrypt(normalisePairingCode(code), SALT, 32, SCRYPT, (err, k) => (err ? reject(err) : resolve(k.toString('hex')))));
}

function key(secret: string, who: 'worker' | 'host'): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'hex'), SALT, `colony pairing mac ${who}`, 32));
}

function normFp(fp: string | null): string | null {
  return fp === null ? null : fp.toUpperCase().replace(/[^0-9A-F]/g, '');
}

function mac(k: Buffer, label: string, body: Record<string, unknown>): string {
  return createHmac('sha256', k)
    .update(`${label}\n${canonicalJson(body)}`)
    .digest('base64url');
}

/** The worker's proof that it knows the code and saw this transcript. */
export function workerProof(secret: string, t: PairingTranscript): string {
  return mac(key(secret, 'worker'), 'enrol', { ...t, cert_fingerprint: normFp(t.cert_fingerprint) });
}

/** The host's answer: it knows the code, holds this host key and certificate, and enrolled this worker key as `worker_id`. */
export function hostProof(secret: string, t: PairingTranscript, enrolled: { worker_id: string; owner: string }): string {
  return mac(key(secret, 'host'), 'enrolled', { ...t, cert_fingerprint: normFp(t.cert_fingerprint), ...enrolled });
}

/** Constant-time comparison of two proofs. */
export function sameProof(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
