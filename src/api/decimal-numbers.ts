import type { FastifyRequest, preValidationHookHandler } from 'fastify';
import { ProblemError } from '../errors/index.ts';

const DECIMAL = /^-?\d{1,15}$/;

/**
 * A `preValidation` hook that lets through only plainly written integers in the given fields:
 * JSON numbers in a body, decimal digits in a query string. Schema coercion alone would read
 * `"1e3"` as 1000 and `0x1` as 1.
 */
export function decimalIntegers(
  part: 'body' | 'query',
  fields: readonly string[],
): preValidationHookHandler {
  return (request: FastifyRequest, _reply, done) => {
    const values = request[part] as Record<string, unknown> | null | undefined;
    for (const field of fields) {
      const value = values?.[field];
      if (value === undefined) continue;
      const plain =
        part === 'body'
          ? typeof value === 'number'
          : typeof value === 'string' && DECIMAL.test(value);
      if (!plain) {
        done(
          new ProblemError(
            'VALIDATION_FAILED',
            `${field}: must be an integer written in decimal digits, got ${JSON.stringify(value)}`,
            { field },
          ),
        );
        return;
      }
    }
    done();
  };
}
