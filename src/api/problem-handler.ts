import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ProblemError, isDiskFull } from '../errors/index.ts';
import { redactUrl } from '../accounts/redact-url.ts';
import { isRedisUnavailable } from '../jobs/redis/redis-unavailable.ts';
import { isDatabaseUnavailable } from '../store/index.ts';

function fieldOf(error: FastifyError): string | undefined {
  const v = error.validation?.[0];
  if (!v) return undefined;
  const missing = v.params as { missingProperty?: string; additionalProperty?: string } | undefined;
  const path = v.instancePath.replace(/^\//, '').replaceAll('/', '.');
  return missing?.missingProperty ?? missing?.additionalProperty ?? (path || undefined);
}

/** A 415 that says what to send instead of the content type given. */
export function unsupportedMediaType(given: string | undefined): ProblemError {
  return new ProblemError(
    'UNSUPPORTED_MEDIA_TYPE',
    `${given === undefined ? 'this content type' : `content type '${given}'`} is not accepted ` +
      'here: send a JSON body with ' +
      "'Content-Type: application/json' (with curl: -H 'content-type: application/json')",
  );
}

/**
 * Fastify's message, with an extra property named beside the accepted ones and an enum's allowed
 * values listed.
 */
function validationMessage(error: FastifyError, field: string | undefined): string {
  const v = error.validation?.[0];
  const extra = (v?.params as { additionalProperty?: string } | undefined)?.additionalProperty;
  const allowed = (v?.params as { allowedValues?: unknown[] } | undefined)?.allowedValues;
  if (v?.keyword === 'enum' && allowed)
    return `${field ?? 'body'}: must be one of ${allowed
      .filter((value) => value !== null)
      .map((value) => JSON.stringify(value))
      .join(', ')}`;
  if (v === undefined || extra === undefined)
    return `${field ?? 'body'}: ${v?.message ?? 'invalid'}`;
  // `parentSchema` is there because Ajv runs `verbose` (see build-app.ts).
  const accepted = (v as { parentSchema?: { properties?: Record<string, unknown> } }).parentSchema
    ?.properties;
  return (
    `${extra}: unknown field` +
    (accepted ? `; accepted fields: ${Object.keys(accepted).join(', ')}` : '')
  );
}

/** Maps any thrown error to an RFC 9457 problem: catalog errors as they are, the rest by kind. */
export function toProblemError(error: FastifyError | Error, contentType?: string): ProblemError {
  if (error instanceof ProblemError) return error;
  const e = error as FastifyError;
  // fetch() sends a string body as text/plain: JSON meant, the content type forgotten.
  if (e.validation && e.validationContext === 'body' && /^text\/plain\b/i.test(contentType ?? ''))
    return unsupportedMediaType(contentType);
  if (e.validation) {
    const field = fieldOf(e);
    return new ProblemError(
      'VALIDATION_FAILED',
      validationMessage(e, field),
      field === undefined ? {} : { field },
    );
  }
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return new ProblemError('PAYLOAD_TOO_LARGE', e.message);
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return unsupportedMediaType(contentType);
  if (e.statusCode === 400 || e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
    return new ProblemError('BAD_REQUEST', e.message);
  if (isDatabaseUnavailable(error)) {
    return new ProblemError('DATABASE_UNAVAILABLE', 'the database cannot be reached; try again', {
      cause: error,
      headers: { 'retry-after': '1' },
    });
  }
  if (isRedisUnavailable(error)) {
    return new ProblemError(
      'QUEUE_UNAVAILABLE',
      'the job queue (Redis) cannot be reached right now; try again',
      { cause: error, headers: { 'retry-after': '5' }, extensions: { retry_after: 5 } },
    );
  }
  if (isDiskFull(error)) {
    return new ProblemError(
      'INSUFFICIENT_STORAGE',
      'the server is out of disk space; nothing was stored — try again later',
      { cause: error },
    );
  }
  return new ProblemError('INTERNAL', 'internal server error', { cause: error });
}

export function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  problem: ProblemError,
): FastifyReply {
  return reply
    .status(problem.status)
    .headers(problem.headers)
    .type('application/problem+json')
    .send(problem.toProblem(redactUrl(request.url)));
}

export function problemHandler(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const problem = toProblemError(error, request.headers['content-type']);
  if (problem.status >= 500) request.log.error({ err: error }, 'request failed');
  return sendProblem(request, reply, problem);
}
