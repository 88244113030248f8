/**
 * The worker's HTTP(S) client for the host's LAN app (pairing). Over https it
 * either pins a certificate learnt earlier (`pin`: only that certificate is
 * accepted, remote/tls.ts) or, for the very first request of a pairing,
 * accepts any certificate and reports it (`capture`) — that certificate is
 * then authenticated by the pairing MAC (pairing-mac.ts), never trusted as is.
 */
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { ColonyError } from '../core/errors.js';
import { certFingerprint, peerCertPem, pinnedTls } from './tls.js';

export interface HostResponse {
  status: number;
  json: unknown;
  /** The certificate the host presented (https only). */
  cert: { pem: string; fingerprint: string } | null;
}

const MAX_BODY = 1024 * 1024;

export function hostRequest(
  url: string,
  o: { method: 'GET' | 'POST'; body?: unknown; tls: { pin: string } | 'capture'; timeoutMs?: number },
): Promise<HostResponse> {
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  if (!secure && u.protocol !== 'http:') return Promise.reject(new ColonyError('E_BAD_INPUT', `--host must be http:// or https://, got ${u.protocol}`));
  const payload = o.body === undefined ? undefined : JSON.stringify(o.body);
  const tlsOpts = !secure ? {} : o.tls === 'capture' ? { rejectUnauthorized: false } : pinnedTls(o.tls.pin);
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(
      u,
      {
        method: o.method,
        headers: {
          accept: 'application/json',
          ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
        timeout: o.timeoutMs ?? 15_000,
        agent: false, // a fresh connection: the certificate checked is the one this request uses
        ...tlsOpts,
      },
      (res) => {
        const peer = secure ? (res.socket as TLSSocket).getPeerCertificate(true) : null;
        const cert = peer && peer.raw ? { pem: peerCertPem(peer), fingerprint: certFingerprint(peer.raw) } : null;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY) req.destroy(new Error('answer too large'));
          else chunks.push(c);
        });
        res.on('end', () => {
          let json: unknown = null;
          try {
            json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            json = null;
          }
          resolve({ status: res.statusCode ?? 0, json, cert });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) => reject(new ColonyError('E_NO_HOST', `cannot reach the colony host at ${u.origin}: ${e.message}`)));
    req.end(payload);
  });
}
