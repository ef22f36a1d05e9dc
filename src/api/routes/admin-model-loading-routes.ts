import type { FastifyInstance } from 'fastify';
import { ProblemError } from '../../errors/index.ts';
import type { ModelInfo, ModelLoading } from '../../jobs/inference-workers.ts';
import type { AppDeps } from '../app-deps.ts';
import { jsonResponse } from '../documented-errors.ts';
import { modelSchema, modelView } from './models-routes.ts';
import { findModel } from '../../jobs/find-model.ts';

const nameParams = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', maxLength: 200 } },
};

/**
 * `POST /v1/admin/models/{name}/load` and `/unload`: load a model ahead of its first job, or
 * free its memory, answering once done with the model as `GET /v1/models/{name}` shows it. An
 * unload waits for the batch running on the model; jobs queued on it load it again when they run.
 */
export function adminModelLoadingRoutes(
  app: FastifyInstance,
  deps: AppDeps,
  loading: ModelLoading,
): void {
  const view = (m: ModelInfo): Record<string, unknown> =>
    modelView(m, deps.config.models.default, deps.library);
  const known = (name: string): ModelInfo => {
    const model = findModel(deps.service.models(), name);
    if (!model) throw new ProblemError('MODEL_NOT_FOUND', `no model named '${name}'`);
    return model;
  };

  app.post<{ Params: { name: string } }>(
    '/v1/admin/models/:name/load',
    {
      schema: {
        tags: ['admin'],
        summary: 'Load a model in a worker now; answers once it is loaded',
        params: nameParams,
        response: { 200: jsonResponse('The model, loaded', modelSchema) },
      },
    },
    async (request) => {
      const { name } = request.params;
      deps.service.model(name); // unknown → 404, failed before → 503 with why
      await loading.load(name);
      const model = known(name);
      if (!model.available)
        throw new ProblemError(
          'MODEL_UNAVAILABLE',
          `model '${name}' is not available: ${model.error ?? 'it could not be loaded'}`,
        );
      return view(model);
    },
  );

  app.post<{ Params: { name: string } }>(
    '/v1/admin/models/:name/unload',
    {
      schema: {
        tags: ['admin'],
        summary: 'Unload a model from every worker, after the batch running on it',
        params: nameParams,
        response: { 200: jsonResponse('The model, unloaded', modelSchema) },
      },
    },
    async (request) => {
      const { name } = request.params;
      known(name);
      await loading.unload(name);
      return view(known(name));
    },
  );
}
