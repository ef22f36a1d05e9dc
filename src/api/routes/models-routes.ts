import type { FastifyInstance } from 'fastify';
import type { ModelInfo } from '../../jobs/inference-workers.ts';
import type { AppDeps } from '../app-deps.ts';

function modelView(m: ModelInfo, defaultModel: string): Record<string, unknown> {
  return {
    name: m.name,
    default: m.name === defaultModel,
    available: m.available,
    error: m.error ?? null,
    family: m.family,
    defaults: {
      width: m.defaults.width,
      height: m.defaults.height,
      steps: m.defaults.steps,
      guidance_scale: m.defaults.guidanceScale,
      scheduler: m.defaultScheduler,
    },
    limits: {
      min_size: m.limits.minSize,
      max_size: m.limits.maxSize,
      size_multiple: m.limits.sizeMultiple,
      max_steps: m.limits.maxSteps,
      max_batch: m.limits.maxBatch,
    },
    schedulers: m.schedulers,
    img2img: m.supportsImg2Img,
    inpainting: m.supportsInpainting,
  };
}

export function modelsRoutes(app: FastifyInstance, deps: AppDeps): void {
  const defaultModel = deps.config.models.default;
  app.get(
    '/v1/models',
    { schema: { tags: ['models'], summary: 'Models, with defaults, limits and schedulers' } },
    () => ({
      data: deps.service.models().map((m) => modelView(m, defaultModel)),
    }),
  );
  app.get<{ Params: { name: string } }>(
    '/v1/models/:name',
    { schema: { tags: ['models'], summary: 'One model' } },
    (request) => modelView(deps.service.model(request.params.name), defaultModel),
  );
  app.get(
    '/v1/queue',
    { schema: { tags: ['jobs'], summary: 'Queue depth and running jobs, per model' } },
    () => {
      const stats = deps.service.queueStats();
      return {
        depth: stats.depth,
        running: stats.running,
        max_queued: deps.config.queue.maxQueued,
        models: stats.perModel,
      };
    },
  );
}
