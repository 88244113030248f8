/**
 * Request logging without secrets (issue 14): the admin entry URL carries the
 * admin token once (`/?token=…`), and Fastify's request log prints URLs. The
 * logger of both apps gets a `req` serializer that masks secret query values
 * and never prints headers (cookies, Authorization).
 */
import type { FastifyRequest } from 'fastify';

const SECRET_PARAMS = /([?&](?:token|code|access_code|pairing_code)=)[^&#]*/gi;

export function redactUrl(url: string): string {
  return url.replace(SECRET_PARAMS, '$1[redacted]');
}

function reqSerializer(req: FastifyRequest): Record<string, unknown> {
  return { method: req.method, url: redactUrl(req.url), host: req.host, remoteAddress: req.ip, remotePort: req.socket?.remotePort };
}

/** The logger option with the redacting serializer added (true → an info logger; false stays off). */
export function redactingLogger(logger: boolean | object | undefined): boolean | object {
  if (!logger) return false;
  const base = logger === true ? { level: 'info' } : (logger as { serializers?: Record<string, unknown> });
  return { ...base, serializers: { ...(base as { serializers?: Record<string, unknown> }).serializers, req: reqSerializer } };
}
