import type { FastifyInstance } from 'fastify';
import { ProblemError } from '../../../errors/index.ts';
import type { GenerationInput } from '../../../jobs/generation-input.ts';
import type { JobService } from '../../../jobs/job-service.ts';
import { clientGone, jobFailure } from '../../job-outcome.ts';
import { submitAll, waitAll } from '../dialect-jobs.ts';
import { warnIgnoredParams } from '../ignored-params.ts';
import { findModel } from '../../../jobs/find-model.ts';

const bodySchema = {
  type: 'object',
  required: ['prompt'],
  additionalProperties: true,
  properties: {
    prompt: { type: 'string', maxLength: 10000 },
    negative_prompt: { anyOf: [{ type: 'string', maxLength: 10000 }, { type: 'null' }] },
    guidance_scale: {
      anyOf: [{ type: 'number' }, { type: 'null' }],
      description: "The model's default when absent; 0 for a model named *turbo*",
    },
    num_inference_steps: {
      anyOf: [{ type: 'integer' }, { type: 'null' }],
      description: "The model's default when absent; 1 for a model named *turbo*",
    },
  },
} as const;

const PARAMS = Object.keys(bodySchema.properties);

interface Body {
  prompt: string;
  negative_prompt?: string | null;
  guidance_scale?: number | null;
  num_inference_steps?: number | null;
}

/**
 * The SDXL FastAPI server's defaults: a model with "turbo" in its name runs 1 step without
 * guidance; others get what the model declares.
 */
function inputOf(model: string, body: Body): GenerationInput {
  const turbo = model.toLowerCase().includes('turbo');
  return {
    prompt: body.prompt,
    model,
    negativePrompt: body.negative_prompt ?? undefined,
    guidanceScale: body.guidance_scale ?? (turbo ? 0 : undefined),
    steps: body.num_inference_steps ?? (turbo ? 1 : undefined),
    outputFormat: 'png',
  };
}

/** `POST /generate/{model_name}`: generate and wait; `{ image_base64, model_used }`. */
export function generateRoute(app: FastifyInstance, service: JobService): void {
  app.post<{ Params: { model_name: string }; Body: Body }>(
    '/generate/:model_name',
    {
      schema: {
        tags: ['sdxl-fastapi'],
        summary: 'Generate with the named model and wait; the PNG as base64',
        params: {
          type: 'object',
          required: ['model_name'],
          properties: { model_name: { type: 'string', maxLength: 64 } },
        },
        body: bodySchema,
        response: {
          200: {
            type: 'object',
            properties: { image_base64: { type: 'string' }, model_used: { type: 'string' } },
          },
        },
      },
    },
    async (request, reply) => {
      const { model_name: model } = request.params;
      if (findModel(service.models(), model) === undefined) {
        const names = service.models().map((m) => m.name);
        throw new ProblemError(
          'MODEL_NOT_FOUND',
          `Model '${model}' not found. Supported models: ${JSON.stringify(names)}`,
        );
      }
      warnIgnoredParams(reply, request.body, PARAMS);
      const caller = request.caller;
      const signal = clientGone(reply);
      const { jobs } = await submitAll(service, caller, [inputOf(model, request.body)]);
      const [job] = await waitAll(service, caller, jobs, signal);
      if (!job) throw new Error('the request produced no job');
      if (job.status !== 'completed') throw jobFailure(job);
      const { data } = await service.resultImage(job, 0);
      return { image_base64: data.toString('base64'), model_used: model };
    },
  );
}
