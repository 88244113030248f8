/**
 * GET /worker/colony-worker.mjs: the self-contained worker (built by
 * scripts/build-worker.mjs) for visitors whose machine has only Node.js.
 * Public code, so no session or access code; the LAN gate's address
 * allow-list and rate limits still apply, the write budget included (1 MB a
 * request: a flood of downloads is stopped as early as a flood of submissions). Its SHA-256 goes into the pairing
 * command (worker-bootstrap.ts), which refuses any other bytes.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { ColonyError } from '../../core/errors.js';
import { WORKER_BUNDLE_PATH } from './worker-bootstrap.js';

export interface WorkerBundle {
  bytes: Buffer;
  sha256: string;
}

/** dist/worker/colony-worker.mjs, from dist/server/user (built) or src/server/user (tests via tsx). */
export function defaultWorkerBundleFile(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const c of [join(here, '..', '..', 'worker'), join(here, '..', '..', '..', 'dist', 'worker')]) {
    const f = join(c, 'colony-worker.mjs');
    if (existsSync(f)) return f;
  }
  return null;
}

/** Reads the bundle once per change of the file (a rebuild while the host runs serves the new one with its new hash). */
export function workerBundleSource(file: string | null = defaultWorkerBundleFile()): () => WorkerBundle | null {
  let cached: { mtimeMs: number; size: number; bundle: WorkerBundle } | null = null;
  return () => {
    if (!file) return null;
    let st;
    try {
      st = statSync(file);
    } catch {
      return null;
    }
    if (!cached || cached.mtimeMs !== st.mtimeMs || cached.size !== st.size) {
      const bytes = readFileSync(file);
      cached = { mtimeMs: st.mtimeMs, size: st.size, bundle: { bytes, sha256: createHash('sha256').update(bytes).digest('hex') } };
    }
    return cached.bundle;
  };
}

export function registerWorkerDownload(app: FastifyInstance, bundle: () => WorkerBundle | null): void {
  app.get(WORKER_BUNDLE_PATH, { config: { accessCode: false, costly: true } }, async (_request, reply) => {
    const b = bundle();
    if (!b) throw new ColonyError('E_NOT_FOUND', 'this host has no downloadable worker: its admin must run `npm run build`');
    return reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-store').header('x-content-sha256', b.sha256).send(b.bytes);
  });
}
