import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ProblemError } from '../../../errors/index.ts';
import { toProblemError } from '../../problem-handler.ts';
import { jsonResponse, type ResponseDoc } from '../../documented-errors.ts';

/**
 * mflux-server's error body, as flask-restx writes it: `{ message }`, and for a bad request field
 * `{ errors: { field: why }, message: "Input payload validation failed" }` with status 400.
 */
export interface MfluxErrorBody {
  readonly message: string;
  readonly errors?: Readonly<Record<string, string>>;
}

/** Maps any error thrown on an mflux route to flask-restx's status and body. */
export function toMfluxError(error: unknown): {
  status: number;
  headers: Readonly<Record<string, string>>;
  body: MfluxErrorBody;
} {
  const problem =
    error instanceof ProblemError ? error : toProblemError(error as FastifyError | Error);
  const message = problem.code === 'INTERNAL' ? 'Internal Server Error' : problem.message;
  if (problem.code === 'VALIDATION_FAILED' && problem.field !== undefined) {
    const why = message.startsWith(`${problem.field}: `)
      ? message.slice(problem.field.length + 2)
      : message;
    return {
      status: 400,
      headers: problem.headers,
      body: { errors: { [problem.field]: why }, message: 'Input payload validation failed' },
    };
  }
  return { status: problem.status, headers: problem.headers, body: { message } };
}

export function mfluxErrorHandler(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const mapped = toMfluxError(error);
  if (mapped.status >= 500) request.log.error({ err: error }, 'request failed');
  return reply.status(mapped.status).headers(mapped.headers).send(mapped.body);
}

const errorBody = {
  type: 'object',
  required: ['message'],
  additionalProperties: true,
  properties: {
    message: { type: 'string' },
    errors: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description: 'Field → why, on a 400 for bad input',
    },
  },
} as const;

/** flask-restx's `{message, errors?}` on every error status. */
export const mfluxErrorResponses: Readonly<Record<string, ResponseDoc>> = {
  '4xx': jsonResponse('Refused: {message, errors?}', errorBody),
  '5xx': jsonResponse('Failed: {message}', errorBody),
};
