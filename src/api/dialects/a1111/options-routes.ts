import type { FastifyInstance } from 'fastify';
import type { ResponseDoc } from '../../documented-errors.ts';
import {
  emptyResponse,
  namedListResponse,
  optionsResponse,
  samplersResponse,
  schedulersResponse,
  sdModelsResponse,
} from './a1111-schemas.ts';
import type { ModelInfo } from '../../../jobs/inference-workers.ts';
import { fieldError, httpError } from './a1111-errors.ts';
import { modelFromTitle } from './a1111-state.ts';
import type { A1111Context } from './generation-routes.ts';
import { pickModel } from './generation-routes.ts';
import { A1111_SCHEDULERS, samplerList } from './samplers.ts';

/** `GET /sdapi/v1/sd-models` entry; `title` is what clients send back as `sd_model_checkpoint`. */
function sdModel(model: ModelInfo): Record<string, unknown> {
  return {
    title: model.name,
    model_name: model.name,
    hash: null,
    sha256: null,
    filename: model.name,
    config: null,
  };
}

/**
 * The A1111 routes clients call to set themselves up: models, samplers, schedulers, upscalers,
 * VAEs and options. `POST /sdapi/v1/options` selects the caller's model (other options are
 * accepted and ignored).
 */
export function optionsRoutes(app: FastifyInstance, ctx: A1111Context): void {
  const tags = ['automatic1111'];

  const doc = (summary: string, response: ResponseDoc) => ({
    schema: { tags, summary, response: { 200: response } },
  });

  app.get('/options', doc('AUTOMATIC1111: options', optionsResponse), (request) => {
    const model = pickModel(ctx, request.caller.owner, undefined);
    return {
      sd_model_checkpoint: model.name,
      sd_checkpoint_hash: null,
      sd_vae: 'Automatic',
      CLIP_stop_at_last_layers: 1,
      samples_format: 'png',
      live_previews_enable: true,
      show_progress_every_n_steps: 1,
    };
  });

  app.post(
    '/options',
    doc("AUTOMATIC1111: set options (the caller's model)", emptyResponse),
    (request, reply) => {
      const body = request.body;
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw fieldError('body', 'value is not a valid dict', 'type_error.dict');
      }
      const checkpoint = (body as Record<string, unknown>)['sd_model_checkpoint'];
      if (checkpoint !== undefined && checkpoint !== null) {
        const model =
          typeof checkpoint === 'string'
            ? modelFromTitle(ctx.service.models(), checkpoint)
            : undefined;
        if (!model)
          throw httpError('MODEL_NOT_FOUND', `model ${JSON.stringify(checkpoint)} not found`);
        ctx.state.selectModel(request.caller.owner, model.name);
      }
      return reply.type('application/json').send('null');
    },
  );

  app.get('/sd-models', doc('AUTOMATIC1111: models', sdModelsResponse), () =>
    ctx.service.models().map(sdModel),
  );
  app.get('/samplers', doc('AUTOMATIC1111: samplers', samplersResponse), () =>
    samplerList(ctx.service.models()),
  );
  app.get(
    '/schedulers',
    doc('AUTOMATIC1111: schedule types', schedulersResponse),
    () => A1111_SCHEDULERS,
  );
  // Pictor has no upscalers, VAEs or latent upscale modes to choose from; clients list them.
  app.get('/upscalers', doc('AUTOMATIC1111: upscalers (none)', namedListResponse), () => [
    { name: 'None', model_name: null, model_path: null, model_url: null, scale: 4 },
  ]);
  app.get(
    '/latent-upscale-modes',
    doc('AUTOMATIC1111: latent upscale modes (none)', namedListResponse),
    () => [],
  );
  app.get('/sd-vae', doc('AUTOMATIC1111: VAEs (none)', namedListResponse), () => []);
  for (const path of ['/refresh-checkpoints', '/refresh-vae']) {
    app.post(path, doc('AUTOMATIC1111: no-op', emptyResponse), (_request, reply) =>
      reply.type('application/json').send('null'),
    );
  }
}
