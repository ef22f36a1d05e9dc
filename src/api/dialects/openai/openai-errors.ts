import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ProblemError } from '../../../errors/index.ts';
import { toProblemError } from '../../problem-handler.ts';

/** OpenAI's error body: what the `openai` SDKs read into `APIError`. */
export interface OpenAIErrorBody {
  readonly error: {
    readonly message: string;
    readonly type: string;
    readonly param: string | null;
    readonly code: string | null;
  };
}

export interface OpenAIError {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: OpenAIErrorBody;
}

/**
 * Extension member of a {@link ProblemError} that picks the OpenAI `code` of a parameter error
 * (`invalid_value` by default, `unknown_parameter`, `missing_required_parameter`, …).
 */
export const OPENAI_CODE = 'openai_code';

/** A 400 `invalid_request_error` naming the parameter, as OpenAI reports bad parameters. */
export function paramError(param: string, message: string, code = 'invalid_value'): ProblemError {
  return new ProblemError('VALIDATION_FAILED', message, {
    field: param,
    extensions: { [OPENAI_CODE]: code },
  });
}

/** OpenAI names the request's parameters, not Pictor's: `width` → `size`, `init_image` → `image`. */
const PARAMS: Readonly<Record<string, string>> = {
  width: 'size',
  height: 'size',
  init_image: 'image',
  quality: 'output_compression',
};

interface Mapping {
  readonly status: number;
  readonly type: string;
  readonly code: string | null;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Pictor's problem codes → OpenAI's statuses and error types. Credits run out the way OpenAI's
 * quota does (429 `insufficient_quota`, not retried); rate limits are 429 with `retry-after`.
 */
function mappingOf(problem: ProblemError): Mapping {
  const code = problem.code as string;
  switch (code) {
    case 'UNAUTHORIZED':
      return { status: 401, type: 'invalid_request_error', code: 'invalid_api_key' };
    case 'FORBIDDEN':
      return { status: 403, type: 'invalid_request_error', code: 'permission_denied' };
    case 'INSUFFICIENT_CREDITS':
      return {
        status: 429,
        type: 'insufficient_quota',
        code: 'insufficient_quota',
        headers: { 'x-should-retry': 'false' },
      };
    case 'RATE_LIMITED':
      return { status: 429, type: 'requests', code: 'rate_limit_exceeded' };
    case 'TOO_MANY_JOBS':
      return { status: 429, type: 'requests', code: 'too_many_jobs' };
    case 'QUEUE_FULL':
      return { status: 429, type: 'requests', code: 'queue_full' };
    case 'VALIDATION_FAILED':
    case 'BAD_REQUEST':
    case 'INVALID_IMAGE':
    case 'UPLOAD_NOT_FOUND':
    case 'WEBHOOK_URL_REFUSED':
    case 'UNSUPPORTED_MEDIA_TYPE':
      return {
        status: 400,
        type: 'invalid_request_error',
        code:
          typeof problem.extensions[OPENAI_CODE] === 'string'
            ? problem.extensions[OPENAI_CODE]
            : problem.field === undefined
              ? null
              : 'invalid_value',
      };
    case 'MODEL_NOT_FOUND':
    case 'MODEL_SOURCE_NOT_FOUND': // a model pulled on request that its hub does not have
      return { status: 404, type: 'invalid_request_error', code: 'model_not_found' };
    case 'MODEL_UNAVAILABLE':
    case 'SHUTTING_DOWN':
    case 'DATABASE_UNAVAILABLE':
    case 'QUEUE_UNAVAILABLE':
      return { status: 503, type: 'server_error', code: 'service_unavailable' };
    case 'JOB_CANCELLED':
      return { status: 409, type: 'invalid_request_error', code: 'cancelled' };
    default:
      return problem.status >= 500
        ? { status: problem.status, type: 'server_error', code: null }
        : { status: problem.status, type: 'invalid_request_error', code: null };
  }
}

/** Maps any error thrown on an OpenAI route to OpenAI's status, headers and body. */
export function toOpenAIError(error: unknown): OpenAIError {
  const problem =
    error instanceof ProblemError ? error : toProblemError(error as FastifyError | Error);
  const mapping = mappingOf(problem);
  // A paramError already names OpenAI's parameter (its own `quality` is not Pictor's `quality`).
  const openAINamed = OPENAI_CODE in problem.extensions;
  const field =
    problem.field === undefined
      ? null
      : openAINamed
        ? problem.field
        : (PARAMS[problem.field] ?? problem.field);
  const message =
    problem.code === 'INTERNAL'
      ? 'The server had an error while processing your request.'
      : problem.message;
  return {
    status: mapping.status,
    headers: { ...problem.headers, ...mapping.headers },
    body: { error: { message, type: mapping.type, param: field, code: mapping.code } },
  };
}

/** Error handler of the OpenAI routes: OpenAI's error shape, 5xx logged. */
export function openAIErrorHandler(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const mapped = toOpenAIError(error);
  if (mapped.status >= 500) request.log.error({ err: error }, 'request failed');
  return reply.status(mapped.status).headers(mapped.headers).send(mapped.body);
}
