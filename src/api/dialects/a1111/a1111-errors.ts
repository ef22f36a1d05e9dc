import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ProblemError } from '../../../errors/index.ts';
import { toProblemError } from '../../problem-handler.ts';

/**
 * AUTOMATIC1111's error body (`api_middleware.handle_exception`): the exception's class name,
 * its detail, and its text. For validation errors `detail` is FastAPI's list of
 * `{ loc, msg, type }`, as FastAPI answers them.
 */
export interface A1111ErrorBody {
  readonly error: string;
  readonly detail: string | readonly { loc: string[]; msg: string; type: string }[];
  readonly body: string;
  readonly errors: string;
}

export interface A1111Error {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: A1111ErrorBody;
}

/** Extension member of a {@link ProblemError} holding pydantic's error type (`type_error.integer`). */
export const A1111_TYPE = 'a1111_type';

/** A 422 for a bad request field, as pydantic reports it. */
export function fieldError(field: string, message: string, type = 'value_error'): ProblemError {
  return new ProblemError('VALIDATION_FAILED', `${field}: ${message}`, {
    field,
    extensions: { [A1111_TYPE]: type },
  });
}

/** An error with a status and AUTOMATIC1111's wording (`HTTPException(status, detail)`). */
export function httpError(
  code: 'MODEL_NOT_FOUND' | 'VALIDATION_FAILED' | 'NOT_FOUND' | 'INVALID_IMAGE',
  detail: string,
): ProblemError {
  return new ProblemError(code, detail);
}

/** Maps any error thrown on an `/sdapi` route to AUTOMATIC1111's status, headers and body. */
export function toA1111Error(error: unknown): A1111Error {
  const problem =
    error instanceof ProblemError ? error : toProblemError(error as FastifyError | Error);
  const message = problem.code === 'INTERNAL' ? 'internal server error' : problem.message;
  const headers: Record<string, string> = { ...problem.headers };
  // A1111's `--api-auth` answers 401 with a Basic challenge; its clients expect it.
  if (problem.status === 401) headers['www-authenticate'] = 'Basic realm="pictor"';
  if (problem.code === 'VALIDATION_FAILED' && problem.field !== undefined) {
    const type = problem.extensions[A1111_TYPE];
    const msg = message.startsWith(`${problem.field}: `)
      ? message.slice(problem.field.length + 2)
      : message;
    return {
      status: 422,
      headers,
      body: {
        error: 'RequestValidationError',
        detail: [
          {
            loc: ['body', ...problem.field.split('.')],
            msg,
            type: typeof type === 'string' ? type : 'value_error',
          },
        ],
        body: '',
        errors: message,
      },
    };
  }
  return {
    status: problem.status,
    headers,
    body: {
      error: problem.status >= 500 ? 'RuntimeError' : 'HTTPException',
      detail: message,
      body: '',
      errors: message,
    },
  };
}

/** Error handler of the `/sdapi` routes: AUTOMATIC1111's error shape, 5xx logged. */
export function a1111ErrorHandler(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const mapped = toA1111Error(error);
  if (mapped.status >= 500) request.log.error({ err: error }, 'request failed');
  return reply.status(mapped.status).headers(mapped.headers).send(mapped.body);
}
