/**
 * One place that maps errors to HTTP: ColonyError → its status and
 * `{code, message}`; fastify's own parser/limit errors → stable codes; anything
 * else → 500 E_INTERNAL without a stack trace (logged instead).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ZodError } from 'zod';
import { ColonyError, isColonyError } from '../core/errors.js';

export function toHttpError(e: unknown): ColonyError {
  if (isColonyError(e)) return e;
  if (e instanceof ZodError) {
    const problems = e.issues.map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`);
    return new ColonyError('E_BAD_INPUT', problems.join('; '), { problems });
  }
  const fe = e as Partial<FastifyError>;
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ColonyError('E_TOO_LARGE', 'request body is larger than allowed');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ColonyError('E_BAD_INPUT', 'send the body as application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ColonyError('E_BAD_JSON', 'the JSON body is empty');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ColonyError('E_BAD_JSON', 'the body is not valid JSON');
    default:
      break;
  }
  if (fe.statusCode === 400 && /JSON/i.test(fe.message ?? '')) return new ColonyError('E_BAD_JSON', 'the body is not valid JSON');
  if (fe.statusCode === 429) return new ColonyError('E_RATE_LIMITED', fe.message ?? 'too many requests');
  if (fe.statusCode === 413) return new ColonyError('E_TOO_LARGE', 'request body is larger than allowed');
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return new ColonyError('E_BAD_INPUT', fe.message ?? 'bad request');
  return new ColonyError('E_INTERNAL', 'internal error; see the host log');
}

export function sendError(reply: FastifyReply, e: unknown): FastifyReply {
  const err = toHttpError(e);
  return reply.code(err.status).type('application/json').send(err.toJSON());
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request: FastifyRequest, reply) => {
    const err = toHttpError(error);
    if (err.code === 'E_INTERNAL') request.log.error({ err: error }, 'unhandled error');
    return sendError(reply, err);
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, new ColonyError('E_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)));
}
