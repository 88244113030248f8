/**
 * The worker's own identity, kept in its home directory (never the host's):
 *   <home>/keys/worker.key|pub   Ed25519 key pair, mode 0600 (signing.ts)
 *   <home>/worker.json           worker id, host URL and the pinned host key, mode 0600
 * Pairing generates a fresh key pair and enrols its public key without
 * sending the one-time code: the code keys a proof over the host key and TLS
 * certificate the worker saw and its own key, and the host answers with a
 * proof of its own (pairing-mac.ts). Only then are the host key and the
 * certificate pinned (no trust on first use). Later runs load both and need no code.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ColonyError, ERROR_CODES, type ErrorCode } from '../../core/errors.js';
import { hostRequest } from '../host-http.js';
import { enrollResponseSchema, pairingInfoSchema } from '../pairing.js';
import { hostProof, pairingSecret, sameProof, workerProof, type PairingTranscript } from '../pairing-mac.js';
import { certFingerprint, sameCertFingerprint } from '../tls.js';
import { exportPublicKeyRaw, fingerprint, generateKeyPair, importPublicKey, loadKeyPair, saveKeyPair, type KeyPair } from '../signing.js';

const KEY_NAME = 'worker';

const stateSchema = z.strictObject({
  worker_id: z.string().min(1),
  name: z.string(),
  owner: z.string(),
  host_url: z.string().min(1),
  host_public_key: z.string().min(1),
  host_fingerprint: z.string().min(1),
  /** The host's TLS certificate, pinned at pairing; null when paired over --insecure-http. */
  host_cert_pem: z.string().min(1).nullable().default(null), // absent in identities paired before TLS
  host_cert_fingerprint: z.string().min(1).nullable().default(null),
  enrolled_at: z.number(),
});
type WorkerState = z.infer<typeof stateSchema>;

export interface WorkerIdentity extends WorkerState {
  keys: KeyPair;
  fingerprint: string;
  hostKey: KeyObject;
}

export interface PairOptions {
  home: string;
  hostUrl: string;
  code: string;
  name?: string;
  engines: string[];
  openToAdmin: boolean;
  /** The certificate fingerprint from the pairing command: any other certificate is refused before anything is sent. */
  tlsFingerprint?: string;
}

const stateFile = (home: string) => join(home, 'worker.json');

/** The identity saved by a previous pairing, or null when this home was never paired. */
export async function loadIdentity(home: string): Promise<WorkerIdentity | null> {
  let raw: string;
  try {
    raw = await fs.readFile(stateFile(home), 'utf8');
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return null;
    throw new ColonyError('E_CONFIG', `cannot read ${stateFile(home)}: ${(e as Error).message}`);
  }
  let state: WorkerState;
  try {
    state = stateSchema.parse(JSON.parse(raw));
  } catch (e) {
    throw new ColonyError('E_CONFIG', `${stateFile(home)} is damaged (${(e as Error).message}); pair again with a new code`);
  }
  const keys = await loadKeyPair(join(home, 'keys'), KEY_NAME);
  if (!keys) throw new ColonyError('E_CONFIG', `${stateFile(home)} exists but the worker key is missing; pair again with a new code`);
  const hostKey = importPublicKey(state.host_public_key);
  if (fingerprint(hostKey) !== state.host_fingerprint)
    throw new ColonyError('E_CONFIG', `${stateFile(home)}: the pinned host key does not match its fingerprint`);
  if (state.host_cert_pem !== null && certFingerprint(state.host_cert_pem) !== state.host_cert_fingerprint) {
    throw new ColonyError('E_CONFIG', `${stateFile(home)}: the pinned host certificate does not match its fingerprint`);
  }
  return { ...state, keys, fingerprint: fingerprint(keys.publicKey), hostKey };
}

/** Enrols a fresh key pair (see the header) and saves the identity (keys 0600, pinned host key and certificate). */
export async function pairWorker(o: PairOptions): Promise<WorkerIdentity> {
  const keys = generateKeyPair();
  const base = o.hostUrl.replace(/\/+$/, '');
  const secure = base.startsWith('https://');
  if (o.tlsFingerprint && !secure) throw new ColonyError('E_BAD_INPUT', `--tls-fingerprint needs an https:// --host, got ${base}`);
  // 1. What the host says it is, on a TLS connection whose certificate we record (and check, if the command named one).
  const infoRes = await hostRequest(`${base}/api/workers/pairing-info`, { method: 'GET', tls: 'capture' });
  const cert = infoRes.cert;
  if (secure && !cert) throw new ColonyError('E_PROTOCOL', 'the host presented no TLS certificate');
  if (o.tlsFingerprint && cert && !sameCertFingerprint(cert.fingerprint, o.tlsFingerprint)) {
    throw new ColonyError(
      'E_PROTOCOL',
      `the host presented TLS certificate ${cert.fingerprint}, not ${o.tlsFingerprint} from the pairing command: someone may be in between; not pairing`,
    );
  }
  if (infoRes.status !== 200) throw refusal(infoRes.json, infoRes.status);
  const info = pairingInfoSchema.safeParse(infoRes.json);
  if (!info.success) throw new ColonyError('E_PROTOCOL', 'the host answered /api/workers/pairing-info with an unexpected shape');
  const hostKey = importPublicKey(info.data.host_public_key);
  if (fingerprint(hostKey) !== info.data.host_fingerprint) throw new ColonyError('E_PROTOCOL', 'the host key does not match the fingerprint the host sent');
  // 2. The proof: the code keys a MAC over what we saw (the certificate of our own connection, not what the host claims).
  const t: PairingTranscript = {
    host_public_key: exportPublicKeyRaw(hostKey),
    cert_fingerprint: cert?.fingerprint ?? null,
    worker_public_key: exportPublicKeyRaw(keys.publicKey),
  };
  const secret = pairingSecret(o.code);
  const body = {
    public_key: t.worker_public_key,
    proof: workerProof(secret, t),
    name: (o.name ?? hostname()).slice(0, 64) || 'worker',
    engines: o.engines,
    open_to_admin: o.openToAdmin,
  };
  // 3. Enrol on a connection pinned to the certificate step 1 saw.
  const res = await hostRequest(`${base}/api/workers/enroll`, { method: 'POST', body, tls: cert ? { pin: cert.pem } : 'capture' });
  if (res.status !== 201) throw refusal(res.json, res.status);
  const parsed = enrollResponseSchema.safeParse(res.json);
  if (!parsed.success) throw new ColonyError('E_PROTOCOL', 'the host answered the enrolment with an unexpected shape');
  const r = parsed.data;
  // 4. The host must prove it knew the code for exactly this transcript: else whoever answered is not the host.
  if (r.host_public_key !== t.host_public_key || !sameProof(hostProof(secret, t, { worker_id: r.worker_id, owner: r.owner }), r.proof)) {
    throw new ColonyError('E_PROTOCOL', 'the answer to the enrolment does not prove knowledge of the pairing code: someone may be in between; not pairing');
  }
  const state: WorkerState = {
    worker_id: r.worker_id,
    name: r.name,
    owner: r.owner,
    host_url: base,
    host_public_key: r.host_public_key,
    host_fingerprint: r.host_fingerprint,
    host_cert_pem: cert?.pem ?? null,
    host_cert_fingerprint: cert?.fingerprint ?? null,
    enrolled_at: Date.now(),
  };
  await saveKeyPair(join(o.home, 'keys'), keys, KEY_NAME);
  await writePrivate(stateFile(o.home), JSON.stringify(state, null, 2) + '\n');
  return { ...state, keys, fingerprint: fingerprint(keys.publicKey), hostKey };
}

function refusal(json: unknown, status: number): ColonyError {
  const err = json as { code?: unknown; message?: unknown } | null;
  const code = typeof err?.code === 'string' && err.code in ERROR_CODES ? (err.code as ErrorCode) : 'E_INTERNAL';
  const message = typeof err?.message === 'string' ? err.message : `HTTP ${status}`;
  return new ColonyError(code, `pairing refused by the host: ${message}`);
}

async function writePrivate(path: string, content: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await fs.writeFile(tmp, content, { mode: 0o600, flag: 'wx' });
  await fs.chmod(tmp, 0o600);
  await fs.rename(tmp, path);
}
