import type { FastifyInstance } from 'fastify';
import type { ModelInfo } from '../../jobs/inference-workers.ts';
import type { AppDeps } from '../app-deps.ts';
import type { ModelLibrary } from '../../library/model-library.ts';
import { jsonResponse } from '../documented-errors.ts';

/** `failed` (with `error`), `loaded` in a worker, or `available` (loads on first use). */
function stateOf(m: ModelInfo): 'failed' | 'loaded' | 'available' {
  return !m.available ? 'failed' : m.loaded ? 'loaded' : 'available';
}

export function modelView(
  m: ModelInfo,
  defaultModel: string,
  library: ModelLibrary | undefined,
): Record<string, unknown> {
  const stored = library?.get(m.name);
  return {
    name: m.name,
    aliases: m.aliases ?? [],
    default: m.name === defaultModel || (m.aliases?.includes(defaultModel) ?? false),
    state: stateOf(m),
    available: m.available,
    loaded: m.loaded,
    error: m.error ?? null,
    ...(stored
      ? { format: stored.format, source: stored.source ?? null, size_bytes: stored.sizeBytes }
      : {}),
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

/** Models being pulled that are not served yet, with their progress. */
function downloading(
  library: ModelLibrary | undefined,
  served: readonly ModelInfo[],
): Record<string, unknown>[] {
  return (library?.pulls.running() ?? []).flatMap((pull) => {
    const view = pull.view();
    if (view.model === undefined || served.some((m) => m.name === view.model)) return [];
    return [
      {
        name: view.model,
        state: 'downloading',
        available: false,
        loaded: false,
        source: view.source,
        progress: { total: view.total, completed: view.completed, pull_id: view.id },
      },
    ];
  });
}

/** One model as `GET /v1/models` lists it (also the answer of the admin load/unload routes). */
export const modelSchema = {
  type: 'object',
  additionalProperties: true,
  required: ['name', 'state', 'available', 'loaded'],
  properties: {
    name: { type: 'string' },
    aliases: {
      type: 'array',
      items: { type: 'string' },
      description: 'Other names requests may use for it',
    },
    default: { type: 'boolean' },
    state: { type: 'string', enum: ['failed', 'loaded', 'available', 'downloading'] },
    available: { type: 'boolean' },
    loaded: { type: 'boolean' },
    error: { type: ['string', 'null'] },
    format: { type: 'string' },
    source: { type: ['string', 'null'] },
    size_bytes: { type: 'number' },
    family: { type: 'string' },
    defaults: { type: 'object', additionalProperties: true },
    limits: { type: 'object', additionalProperties: true },
    schedulers: { type: 'array', items: { type: 'string' } },
    img2img: { type: 'boolean' },
    inpainting: { type: 'boolean' },
    progress: {
      type: 'object',
      description: 'While downloading',
      additionalProperties: true,
      properties: {
        total: { type: ['number', 'null'] },
        completed: { type: 'number' },
        pull_id: { type: 'string' },
      },
    },
  },
} as const;

export function modelsRoutes(app: FastifyInstance, deps: AppDeps): void {
  const defaultModel = deps.config.models.default;
  app.get(
    '/v1/models',
    {
      schema: {
        tags: ['models'],
        summary: 'Models, with defaults, limits and schedulers',
        response: {
          200: jsonResponse('The models', {
            type: 'object',
            additionalProperties: true,
            required: ['data'],
            properties: { data: { type: 'array', items: modelSchema } },
          }),
        },
      },
    },
    () => ({
      data: [
        ...deps.service.models().map((m) => modelView(m, defaultModel, deps.library)),
        ...downloading(deps.library, deps.service.models()),
      ],
    }),
  );
  app.get<{ Params: { name: string } }>(
    '/v1/models/:name',
    {
      schema: {
        tags: ['models'],
        summary: 'One model',
        response: { 200: jsonResponse('The model', modelSchema) },
      },
    },
    (request) => modelView(deps.service.model(request.params.name), defaultModel, deps.library),
  );
  app.get(
    '/v1/queue',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Queue depth and running jobs, per model',
        response: {
          200: jsonResponse('The queue', {
            type: 'object',
            additionalProperties: true,
            properties: {
              depth: { type: 'integer' },
              running: { type: 'integer' },
              max_queued: { type: 'integer' },
              models: { type: 'object', additionalProperties: true },
            },
          }),
        },
      },
    },
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
