/**
 * The worker's own identity, kept in its home directory (never the host's):
 *   <home>/keys/worker.key|pub   Ed25519 key pair, mode 0600 (signing.ts)
 *   <home>/worker.json           worker id, host URL and the pinned host key, mode 0600
 * Pairing generates a fresh key pair, enrols its public key with a one-time
 * code, and pins the host key from the answer (its fingerprint is checked
 * against the key itself). Later runs load both and need no code.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ColonyError, ERROR_CODES, type ErrorCode } from '../../core/errors.js';
import { enrollResponseSchema } from '../pairing.js';
import { exportPublicKeyRaw, fingerprint, generateKeyPair, importPublicKey, loadKeyPair, saveKeyPair, type KeyPair } from '../signing.js';

const KEY_NAME = 'worker';

const stateSchema = z.strictObject({
  worker_id: z.string().min(1),
  name: z.string(),
  owner: z.string(),
  host_url: z.string().min(1),
  host_public_key: z.string().min(1),
  host_fingerprint: z.string().min(1),
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
  fetchImpl?: typeof fetch;
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
  if (fingerprint(hostKey) !== state.host_fingerprint) throw new ColonyError('E_CONFIG', `${stateFile(home)}: the pinned host key does not match its fingerprint`);
  return { ...state, keys, fingerprint: fingerprint(keys.publicKey), hostKey };
}

/** Enrols a fresh key pair with a one-time code and saves the identity (keys 0600, pinned host key). */
export async function pairWorker(o: PairOptions): Promise<WorkerIdentity> {
  const keys = generateKeyPair();
  const base = o.hostUrl.replace(/\/+$/, '');
  const body = {
    code: o.code,
    public_key: exportPublicKeyRaw(keys.publicKey),
    name: (o.name ?? hostname()).slice(0, 64) || 'worker',
    engines: o.engines,
    open_to_admin: o.openToAdmin,
  };
  let res: Response;
  try {
    res = await (o.fetchImpl ?? fetch)(`${base}/api/workers/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (e) {
    throw new ColonyError('E_NO_HOST', `cannot reach the colony host at ${base}: ${(e as Error).message}`);
  }
  const json: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const err = json as { code?: unknown; message?: unknown } | null;
    const code = typeof err?.code === 'string' && err.code in ERROR_CODES ? (err.code as ErrorCode) : 'E_INTERNAL';
    const message = typeof err?.message === 'string' ? err.message : `HTTP ${res.status}`;
    throw new ColonyError(code, `pairing refused by the host: ${message}`);
  }
  const parsed = enrollResponseSchema.safeParse(json);
  if (!parsed.success) throw new ColonyError('E_PROTOCOL', 'the host answered the enrolment with an unexpected shape');
  const r = parsed.data;
  const hostKey = importPublicKey(r.host_public_key);
  if (fingerprint(hostKey) !== r.host_fingerprint) throw new ColonyError('E_PROTOCOL', 'the host key does not match the fingerprint the host sent');
  const state: WorkerState = {
    worker_id: r.worker_id,
    name: r.name,
    owner: r.owner,
    host_url: base,
    host_public_key: r.host_public_key,
    host_fingerprint: r.host_fingerprint,
    enrolled_at: Date.now(),
  };
  await saveKeyPair(join(o.home, 'keys'), keys, KEY_NAME);
  await writePrivate(stateFile(o.home), JSON.stringify(state, null, 2) + '\n');
  return { ...state, keys, fingerprint: fingerprint(keys.publicKey), hostKey };
}

async function writePrivate(path: string, content: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await fs.writeFile(tmp, content, { mode: 0o600, flag: 'wx' });
  await fs.chmod(tmp, 0o600);
  await fs.rename(tmp, path);
}
