import type { FastifyInstance } from 'fastify';
import { ProblemError } from '../errors/index.ts';

/** Deeper JSON than any real request needs; echoing or walking deeper bodies overflows the stack. */
export const MAX_JSON_DEPTH = 64;

/**
 * Where a parsed JSON value breaks the edge rules (nested deeper than {@link MAX_JSON_DEPTH}, or a
 * NUL character in a string or key, which PostgreSQL cannot store), or undefined when it is fine.
 * Stops descending at the limit, so its own recursion is bounded.
 */
export function jsonBodyFault(value: unknown, depth = 0, path = ''): ProblemError | undefined {
  if (typeof value === 'string') {
    return value.includes('\u0000') ? nulProblem(path) : undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  if (depth >= MAX_JSON_DEPTH) {
    return new ProblemError(
      'BAD_REQUEST',
      `the JSON body nests deeper than ${MAX_JSON_DEPTH} levels`,
    );
  }
  for (const [key, item] of Object.entries(value)) {
    const at = path === '' ? key : `${path}.${key}`;
    if (key.includes('\u0000')) return nulProblem(path || 'body');
    const fault = jsonBodyFault(item, depth + 1, at);
    if (fault) return fault;
  }
  return undefined;
}

function nulProblem(field: string): ProblemError {
  return new ProblemError(
    'VALIDATION_FAILED',
    `${field || 'body'}: text may not contain the NUL character (U+0000)`,
    field === '' ? {} : { field },
  );
}

/**
 * Fastify's own JSON parser (prototype-poisoning checks included), followed by
 * {@link jsonBodyFault}; a fault is thrown so each dialect answers it in its own shape. A NUL in
 * the URL (a path id or a query value) is refused the same way before routing goes further.
 */
export function guardJsonInput(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    // Fastify's default parser answers through the callback (its return value is not used).
    void parse(request, body.toString(), (error, value: unknown) => {
      if (error) {
        done(error, undefined);
        return;
      }
      const fault = jsonBodyFault(value);
      if (fault) done(fault, undefined);
      else done(null, value);
    });
  });
  app.addHook('onRequest', (request, _reply, done) => {
    if (/%00/i.test(request.url)) {
      done(new ProblemError('BAD_REQUEST', 'the URL may not contain the NUL character (%00)'));
      return;
    }
    done();
  });
}
