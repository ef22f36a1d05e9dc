import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { toFastAPIError, type FieldNames } from '../sdxl-fastapi/fastapi-errors.ts';

/** irgolic's names for Pictor's parameters, so a 422 locates the field the client sent. */
const IRGOLIC_NAMES: FieldNames = { guidance_scale: 'guidance', init_image: 'initial_image' };

/**
 * irgolic/stable-diffusion-api is a FastAPI server: `{detail}`, and pydantic's list for a bad
 * field, located in the query on its GET routes and in the body otherwise.
 */
export function irgolicErrorHandler(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const mapped = toFastAPIError(error, IRGOLIC_NAMES);
  if (mapped.status >= 500) request.log.error({ err: error }, 'request failed');
  const detail = mapped.body.detail;
  const body =
    typeof detail !== 'string' && request.method === 'GET'
      ? { detail: detail.map((item) => ({ ...item, loc: ['query', ...item.loc.slice(1)] })) }
      : mapped.body;
  return reply.status(mapped.status).headers(mapped.headers).send(body);
}
