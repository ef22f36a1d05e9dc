import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ProblemError } from '../../../errors/index.ts';
import { toProblemError } from '../../problem-handler.ts';

/** FastAPI's error body: `HTTPException(status, detail)`, or pydantic's list for a bad field. */
export interface FastAPIErrorBody {
  readonly detail: string | readonly { loc: string[]; msg: string; type: string }[];
}

export function toFastAPIError(error: unknown): {
  status: number;
  headers: Readonly<Record<string, string>>;
  body: FastAPIErrorBody;
} {
  const problem =
    error instanceof ProblemError ? error : toProblemError(error as FastifyError | Error);
  const message = problem.code === 'INTERNAL' ? 'Internal Server Error' : problem.message;
  if (problem.code === 'VALIDATION_FAILED' && problem.field !== undefined) {
    const msg = message.startsWith(`${problem.field}: `)
      ? message.slice(problem.field.length + 2)
      : message;
    return {
      status: 422,
      headers: problem.headers,
      body: { detail: [{ loc: ['body', ...problem.field.split('.')], msg, type: 'value_error' }] },
    };
  }
  return { status: problem.status, headers: problem.headers, body: { detail: message } };
}

export function fastAPIErrorHandler(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const mapped = toFastAPIError(error);
  if (mapped.status >= 500) request.log.error({ err: error }, 'request failed');
  return reply.status(mapped.status).headers(mapped.headers).send(mapped.body);
}
