/**
 * Ed25519 keys and message signatures for the remote-execution protocol
 * (DESIGN §6, report Risk 3: "cryptographic task signing, result verification").
 *
 * A signature covers SIGNING_CONTEXT + canonicalJson(message without `sig`):
 * canonical JSON makes it independent of key order and whitespace, and the
 * context string keeps a colony protocol signature from ever being valid for
 * anything else the same key might sign. The message `type` is inside the
 * signed bytes, so a signed TASK_ACCEPTED cannot be replayed as a TASK_COMPLETED.
 *
 * Binary values (raw public keys, signatures) travel as unpadded base64url.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign as edSign,
  verify as edVerify,
  type KeyObject,
} from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson } from '../core/canonical.js';
import { ColonyError } from '../core/errors.js';

export const SIGNING_CONTEXT = 'colony-remote-exec/v1\n';
const SIG_BYTES = 64;
const RAW_KEY_BYTES = 32;

export interface KeyPair {
  publicKey: KeyObject;
  privateKey: KeyObject;
}

export function generateKeyPair(): KeyPair {
  return generateKeyPairSync('ed25519');
}

// ------------------------------------------------------------ import / export

export function exportPublicKeyPem(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

export function exportPrivateKeyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** The 32 raw public-key bytes as unpadded base64url (what pairing sends and the store keeps). */
export function exportPublicKeyRaw(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new ColonyError('E_BAD_INPUT', 'not an Ed25519 public key');
  return jwk.x;
}

/** Accepts a PEM (SPKI) public key or 32 raw bytes in base64/base64url. Throws E_BAD_INPUT on anything else. */
export function importPublicKey(text: string): KeyObject {
  const s = text.trim();
  try {
    if (s.startsWith('-----BEGIN')) {
      const key = createPublicKey(s);
      if (key.asymmetricKeyType !== 'ed25519') throw new Error(`key type ${key.asymmetricKeyType ?? 'unknown'}`);
      return key;
    }
    const bytes = decodeBase64(s);
    if (!bytes || bytes.length !== RAW_KEY_BYTES) throw new Error('expected 32 bytes of base64');
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: bytes.toString('base64url') }, format: 'jwk' });
  } catch (e) {
    throw new ColonyError('E_BAD_INPUT', `not an Ed25519 public key (PEM or raw base64): ${errMessage(e)}`);
  }
}

/** Accepts a PKCS#8 PEM private key. */
export function importPrivateKey(pem: string): KeyObject {
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`key type ${key.asymmetricKeyType ?? 'unknown'}`);
    return key;
  } catch (e) {
    throw new ColonyError('E_BAD_INPUT', `not an Ed25519 private key in PEM: ${errMessage(e)}`);
  }
}

/**
 * sha256 of the raw public key, as 16 colon-separated groups of 4 hex digits
 * ("3f2a:91bc:…"), so a human can compare what the host and the worker print.
 */
export function fingerprint(publicKey: KeyObject): string {
  const raw = Buffer.from(exportPublicKeyRaw(publicKey), 'base64url');
  const hex = createHash('sha256').update(raw).digest('hex');
  return hex.match(/.{4}/g)?.join(':') ?? hex;
}

/** Compares fingerprints ignoring case and separators (users paste them with spaces or without colons). */
export function sameFingerprint(a: string, b: string): boolean {
  const norm = (s: string) => s.toLowerCase().replace(/[^0-9a-f]/g, '');
  const x = norm(a);
  return x.length === 64 && x === norm(b);
}

// ------------------------------------------------------------------- signing

function signedBytes(msg: object): Buffer {
  const { sig: _ignored, ...rest } = msg as Record<string, unknown>;
  return Buffer.from(SIGNING_CONTEXT + canonicalJson(rest), 'utf8');
}

/** Signs every field except `sig` (an existing `sig` is replaced). */
export function signMessage<T extends object>(msg: T, privateKey: KeyObject): Omit<T, 'sig'> & { sig: string } {
  const sig = edSign(null, signedBytes(msg), privateKey).toString('base64url');
  const { sig: _old, ...rest } = msg as T & { sig?: unknown };
  return { ...(rest as Omit<T, 'sig'>), sig };
}

/** True only for a well-formed object whose `sig` is a valid signature by `publicKey`. Never throws. */
export function verifyMessage(msg: unknown, publicKey: KeyObject): boolean {
  try {
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return false;
    const sig = (msg as Record<string, unknown>).sig;
    if (typeof sig !== 'string' || !/^[A-Za-z0-9_-]{86}$/.test(sig)) return false;
    const sigBytes = Buffer.from(sig, 'base64url');
    if (sigBytes.length !== SIG_BYTES) return false;
    return edVerify(null, signedBytes(msg), publicKey, sigBytes);
  } catch {
    return false; // wrong key type, cyclic object, ...: not a valid signature
  }
}

/** signMessage on libuv's thread pool (node:crypto's callback form): the event loop keeps going meanwhile. */
export function signMessageAsync<T extends object>(msg: T, privateKey: KeyObject): Promise<Omit<T, 'sig'> & { sig: string }> {
  return new Promise((resolve, reject) => {
    const { sig: _old, ...rest } = msg as T & { sig?: unknown };
    edSign(null, signedBytes(msg), privateKey, (err, sig) => (err ? reject(err) : resolve({ ...(rest as Omit<T, 'sig'>), sig: sig.toString('base64url') })));
  });
}

/**
 * verifyMessage on libuv's thread pool (node:crypto's callback form), so a
 * busy host verifies on its other cores while the event loop keeps going.
 * Same answer as verifyMessage; never rejects.
 */
export function verifyMessageAsync(msg: unknown, publicKey: KeyObject): Promise<boolean> {
  return new Promise((resolve) => {
    try {
      if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return resolve(false);
      const sig = (msg as Record<string, unknown>).sig;
      if (typeof sig !== 'string' || !/^[A-Za-z0-9_-]{86}$/.test(sig)) return resolve(false);
      const sigBytes = Buffer.from(sig, 'base64url');
      if (sigBytes.length !== SIG_BYTES) return resolve(false);
      edVerify(null, signedBytes(msg), publicKey, sigBytes, (err, ok) => resolve(!err && ok));
    } catch {
      resolve(false);
    }
  });
}

// ------------------------------------------------------------------ key files

const PRIVATE_FILE = (name: string) => `${name}.key`;
const PUBLIC_FILE = (name: string) => `${name}.pub`;

/**
 * Writes `<name>.key` (PKCS#8 PEM) and `<name>.pub` (SPKI PEM), both mode 0600,
 * in `dir` (created 0700). Each file is written to a temp name and renamed, so a
 * crash never leaves a half-written key behind.
 */
export async function saveKeyPair(dir: string, pair: KeyPair, name = 'ed25519'): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await writeSecret(join(dir, PRIVATE_FILE(name)), exportPrivateKeyPem(pair.privateKey));
  await writeSecret(join(dir, PUBLIC_FILE(name)), exportPublicKeyPem(pair.publicKey));
}

/**
 * Loads a pair saved by saveKeyPair; null when there is no private key file.
 * Refuses (E_CONFIG) a private key readable by group or others, like ssh does,
 * and a public file that does not match the private key.
 */
export async function loadKeyPair(dir: string, name = 'ed25519'): Promise<KeyPair | null> {
  const privPath = join(dir, PRIVATE_FILE(name));
  let pem: string;
  try {
    const st = await fs.stat(privPath);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw new ColonyError('E_CONFIG', `${privPath} is accessible by other users (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 ${privPath}`);
    }
    pem = await fs.readFile(privPath, 'utf8');
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return null;
    throw e instanceof ColonyError ? e : new ColonyError('E_CONFIG', `cannot read ${privPath}: ${errMessage(e)}`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = importPrivateKey(pem);
  } catch (e) {
    throw new ColonyError('E_CONFIG', `${privPath}: ${errMessage(e)}`);
  }
  const publicKey = createPublicKey(privateKey);
  const pubPath = join(dir, PUBLIC_FILE(name));
  const pubPem = await fs.readFile(pubPath, 'utf8').catch((e: unknown) => (isErrno(e, 'ENOENT') ? null : Promise.reject(e)));
  if (pubPem !== null && exportPublicKeyRaw(importPublicKey(pubPem)) !== exportPublicKeyRaw(publicKey)) {
    throw new ColonyError('E_CONFIG', `${pubPath} does not match ${privPath}; delete ${pubPath} to regenerate it`);
  }
  return { publicKey, privateKey };
}

/**
 * The host's long-lived identity: `<home>/keys/host.key|pub`, created on first
 * use. Two processes starting at once agree on one key: the private key is
 * published with link(2), which fails if another process got there first.
 */
export async function loadOrCreateHostKey(home: string): Promise<KeyPair & { fingerprint: string }> {
  const dir = join(home, 'keys');
  const existing = await loadKeyPair(dir, 'host');
  if (existing) return { ...existing, fingerprint: fingerprint(existing.publicKey) };
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const pair = generateKeyPair();
  await publishOnce(join(dir, PRIVATE_FILE('host')), exportPrivateKeyPem(pair.privateKey));
  const winner = await loadPrivateOnly(dir, 'host');
  await writeSecret(join(dir, PUBLIC_FILE('host')), exportPublicKeyPem(winner.publicKey));
  return { ...winner, fingerprint: fingerprint(winner.publicKey) };
}

/**
 * Creates `path` (mode 0600) with `content` unless it exists: written to a temp
 * name and published with link(2), which fails if another process got there
 * first — the caller then reads the winner's file.
 */
export async function publishOnce(path: string, content: string): Promise<void> {
  const tmp = tempName(path);
  await fs.writeFile(tmp, content, { mode: 0o600, flag: 'wx' });
  await fs.chmod(tmp, 0o600);
  try {
    await fs.link(tmp, path);
  } catch (e) {
    if (!isErrno(e, 'EEXIST')) throw new ColonyError('E_CONFIG', `cannot create ${path}: ${errMessage(e)}`);
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

async function loadPrivateOnly(dir: string, name: string): Promise<KeyPair> {
  await fs.rm(join(dir, PUBLIC_FILE(name)), { force: true }); // a stale .pub of the loser must not block loading
  const pair = await loadKeyPair(dir, name);
  if (!pair) throw new ColonyError('E_CONFIG', `key ${join(dir, PRIVATE_FILE(name))} vanished while being created`);
  return pair;
}

async function writeSecret(path: string, content: string): Promise<void> {
  const tmp = tempName(path);
  await fs.writeFile(tmp, content, { mode: 0o600, flag: 'wx' });
  await fs.chmod(tmp, 0o600); // the mode above is filtered by umask; chmod is not
  await fs.rename(tmp, path);
}

/** Unique per call: concurrent writers in one process must not collide on the temp file. */
function tempName(path: string): string {
  return `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
}

function decodeBase64(s: string): Buffer | null {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(s)) return null;
  return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
