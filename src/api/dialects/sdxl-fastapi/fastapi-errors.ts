import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ProblemError } from '../../../errors/index.ts';
import { toProblemError } from '../../problem-handler.ts';
import { jsonResponse, type ResponseDoc } from '../../documented-errors.ts';

/** FastAPI's error body: `HTTPException(status, detail)`, or pydantic's list for a bad field. */
export interface FastAPIErrorBody {
  readonly detail: string | readonly { loc: string[]; msg: string; type: string }[];
}

/** Pictor's parameter names → the dialect's, so a 422 names the field the client sent. */
export type FieldNames = Readonly<Record<string, string>>;

export function toFastAPIError(
  error: unknown,
  names: FieldNames = {},
): {
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
    const field = names[problem.field] ?? problem.field;
    return {
      status: 422,
      headers: problem.headers,
      body: { detail: [{ loc: ['body', ...field.split('.')], msg, type: 'value_error' }] },
    };
  }
  return { status: problem.status, headers: problem.headers, body: { detail: message } };
}

/** The SDXL FastAPI server names the step count `num_inference_steps`. */
const SDXL_NAMES: FieldNames = { steps: 'num_inference_steps' };

export function fastAPIErrorHandler(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const mapped = toFastAPIError(error, SDXL_NAMES);
  if (mapped.status >= 500) request.log.error({ err: error }, 'request failed');
  return reply.status(mapped.status).headers(mapped.headers).send(mapped.body);
}

/** `detail`: a message, or pydantic's list of `{loc, msg, type}` for bad fields. */
export const fastAPIDetailSchema = {
  oneOf: [
    { type: 'string' },
    {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: true,
        properties: {
          loc: { type: 'array', items: { type: ['string', 'integer'] } },
          msg: { type: 'string' },
          type: { type: 'string' },
        },
      },
    },
  ],
} as const;

const fastAPIError = (description: string): ResponseDoc =>
  jsonResponse(description, {
    type: 'object',
    required: ['detail'],
    additionalProperties: true,
    properties: { detail: fastAPIDetailSchema },
  });

/** FastAPI's `{detail}` on every error status (the SDXL FastAPI server, irgolic's server). */
export const fastAPIErrorResponses: Readonly<Record<string, ResponseDoc>> = {
  '4xx': fastAPIError('Refused: {detail}; 422 lists the bad fields'),
  '5xx': fastAPIError('Failed: {detail}'),
};
