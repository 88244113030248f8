/** Serves the dashboard's HTML shell; the capability ('admin' | 'user') is decided here, by the server. */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyReply } from 'fastify';

export function serveClient(reply: FastifyReply, webRoot: string | null, capability: 'admin' | 'user'): FastifyReply {
  const file = webRoot ? join(webRoot, 'index.html') : null;
  if (!file || !existsSync(file)) {
    return reply
      .type('text/html')
      .send(`<!doctype html><html><body><h1>colony ${capability}</h1><p>The dashboard is not built: run <code>npm run build</code>.</p></body></html>`);
  }
  const html = readFileSync(file, 'utf8').replace('__COLONY_CAPABILITY__', capability);
  return reply.type('text/html').header('cache-control', 'no-store').send(html);
}
