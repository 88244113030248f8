/**
 * TLS for the LAN side (issue 14): the host's self-signed certificate, and the
 * pinning a worker applies to it.
 *
 * Host: `<home>/keys/tls.pem` holds an ECDSA P-256 private key and a
 * self-signed certificate (10 years), made at the first `serve --lan`. No CA
 * is involved: workers learn the certificate at pairing, where the one-time
 * code authenticates its fingerprint (pairing-mac.ts), and accept nothing else
 * afterwards. Node can sign but cannot build an X.509 structure, so the
 * certificate is made with @peculiar/x509 (pure JS over WebCrypto, no native
 * code, no external binary — `openssl` is not on every machine).
 *
 * Worker: `pinnedTls(certPem)` gives https/ws options that trust exactly that
 * certificate (as the only CA, so a different self-signed certificate on the
 * same address fails verification) and compare its SHA-256 fingerprint instead
 * of a host name (the host is reached by IP; its name is not in the cert).
 */
import { webcrypto, X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { PeerCertificate } from 'node:tls';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { ColonyError } from '../core/errors.js';
import { publishOnce } from './signing.js';

export interface HostCert {
  keyPem: string;
  certPem: string;
  /** SHA-256 of the certificate's DER, as AB:CD:… (what browsers and `openssl x509 -fingerprint -sha256` show). */
  fingerprint: string;
}

const FILE = 'tls.pem';
const VALID_DAYS = 3650;

/** The host certificate in `<home>/keys/tls.pem`, made on first use; two processes starting at once agree on one. */
export async function loadOrCreateHostCert(home: string): Promise<HostCert> {
  const dir = join(home, 'keys');
  const path = join(dir, FILE);
  const existing = await readCert(path);
  if (existing) return existing;
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await publishOnce(path, await makeSelfSigned());
  const made = await readCert(path);
  if (!made) throw new ColonyError('E_CONFIG', `${path} vanished while being created`);
  return made;
}

async function readCert(path: string): Promise<HostCert | null> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return null;
    throw new ColonyError('E_CONFIG', `cannot read ${path}: ${(e as Error).message}`);
  }
  const keyPem = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(text)?.[0];
  const certPem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text)?.[0];
  if (!keyPem || !certPem)
    throw new ColonyError('E_CONFIG', `${path} is damaged (needs a private key and a certificate); delete it to make a new one (workers must pair again)`);
  return { keyPem: `${keyPem}\n`, certPem: `${certPem}\n`, fingerprint: certFingerprint(certPem) };
}

async function makeSelfSigned(): Promise<string> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
        .toString('hex')
        .replace(/^[89a-f]/, '1'), // positive
      name: 'CN=colony host',
      notBefore: new Date(now - 24 * 3600_000), // tolerate a worker whose clock is a bit behind
      notAfter: new Date(now + VALID_DAYS * 24 * 3600_000),
      signingAlgorithm: alg,
      keys,
      extensions: [new x509.BasicConstraintsExtension(false, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
    },
    webcrypto as unknown as Crypto,
  );
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)?.join('\n') ?? pkcs8}\n-----END PRIVATE KEY-----\n`;
  return keyPem + cert.toString('pem') + '\n';
}

/** SHA-256 fingerprint of a certificate (PEM or DER) as AB:CD:… */
export function certFingerprint(cert: string | Buffer): string {
  return new X509Certificate(cert).fingerprint256;
}

/** The PEM of a peer certificate a TLS socket presented (to pin it). */
export function peerCertPem(peer: PeerCertificate): string {
  const b64 = peer.raw.toString('base64');
  return `-----BEGIN CERTIFICATE-----\n${b64.match(/.{1,64}/g)?.join('\n') ?? b64}\n-----END CERTIFICATE-----\n`;
}

/** Compares certificate fingerprints ignoring case and separators. */
export function sameCertFingerprint(a: string, b: string): boolean {
  const norm = (s: string) => s.toLowerCase().replace(/[^0-9a-f]/g, '');
  return norm(a).length === 64 && norm(a) === norm(b);
}

/** https / ws client options that accept only `certPem` (see the header). */
export function pinnedTls(certPem: string): {
  ca: string;
  rejectUnauthorized: true;
  checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined;
} {
  const want = certFingerprint(certPem);
  return {
    ca: certPem,
    rejectUnauthorized: true,
    checkServerIdentity: (_host, cert) =>
      sameCertFingerprint(cert.fingerprint256, want) ? undefined : new Error(`the host presented certificate ${cert.fingerprint256}, not the pinned ${want}`),
  };
}
