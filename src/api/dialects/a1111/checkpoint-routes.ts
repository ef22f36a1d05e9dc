import type { FastifyInstance } from 'fastify';
import { jsonResponse } from '../../documented-errors.ts';
import type { ModelLoading } from '../../../jobs/inference-workers.ts';
import type { A1111Context } from './generation-routes.ts';
import { pickModel } from './generation-routes.ts';

/**
 * AUTOMATIC1111's `POST /sdapi/v1/unload-checkpoint` and `/reload-checkpoint` (admin keys only,
 * like `/v1/admin/models/{name}/unload` and `/load`): unload the caller's model from memory, or
 * load it back, answering once done. Jobs queued on an unloaded model load it again.
 */
export function checkpointRoutes(
  app: FastifyInstance,
  ctx: A1111Context,
  loading: ModelLoading,
): void {
  const tags = ['automatic1111'];
  // A1111 answers these with a JSON null.
  const response = { 200: jsonResponse('null, once done', { type: 'null' }) };
  app.post(
    '/unload-checkpoint',
    { schema: { tags, summary: "AUTOMATIC1111: unload the caller's model (admin)", response } },
    async (request, reply) => {
      await loading.unload(pickModel(ctx, request.caller.owner, undefined).name);
      return reply.type('application/json').send('null');
    },
  );
  app.post(
    '/reload-checkpoint',
    { schema: { tags, summary: "AUTOMATIC1111: load the caller's model (admin)", response } },
    async (request, reply) => {
      await loading.load(pickModel(ctx, request.caller.owner, undefined).name);
      return reply.type('application/json').send('null');
    },
  );
}
