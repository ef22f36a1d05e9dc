import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ProblemError } from '../errors/index.ts';
import type { SubmitOptions } from '../jobs/job-service.ts';

/** JSON with object keys sorted, so `{a,b}` and `{b,a}` are the same request. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The `Idempotency-Key` of a submission and a fingerprint of what it asks for (route and body),
 * for `JobService.submit`. No header, no idempotency.
 */
export function idempotencyOf(request: FastifyRequest, body: unknown): SubmitOptions {
  const header = request.headers['idempotency-key'];
  if (header === undefined) return {};
  const key = Array.isArray(header) ? header[0] : header;
  if (key === undefined || !/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw new ProblemError(
      'VALIDATION_FAILED',
      'Idempotency-Key: 1 to 255 printable ASCII characters',
      { field: 'Idempotency-Key' },
    );
  }
  const fingerprint = createHash('sha256')
    .update(`${request.method} ${request.routeOptions.url ?? ''}\n${canonical(body)}`)
    .digest('hex');
  return { idempotency: { key, fingerprint } };
}
