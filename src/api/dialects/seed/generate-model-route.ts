import type { FastifyInstance } from 'fastify';
import { ProblemError } from '../../../errors/index.ts';
import type { AppDeps } from '../../app-deps.ts';
import {
  generationBodySchema,
  toGenerationInput,
  type GenerationBody,
} from '../../generation-schema.ts';
import { generateResponse } from '../../routes/generate-routes.ts';
import { generatedResponse } from '../../job-schemas.ts';
import { submitAll, waitAll } from '../dialect-jobs.ts';
import { clientGone, jobFailure } from '../../job-outcome.ts';

/**
 * `POST /v1/generate/{model}`: `POST /v1/generate` with the model in the path, as the simpler
 * servers Pictor replaces take it. (`raw` and `stream` stay the native routes of those names.)
 */
export function generateModelRoute(app: FastifyInstance, deps: AppDeps): void {
  app.post<{ Params: { model: string }; Body: GenerationBody }>(
    '/v1/generate/:model',
    {
      schema: {
        tags: ['generate'],
        summary: 'Generate with the model named in the path and wait; JSON with base64 images',
        params: {
          type: 'object',
          properties: { model: { type: 'string' } },
          required: ['model'],
        },
        body: generationBodySchema,
        response: { 200: generatedResponse },
      },
    },
    async (request, reply) => {
      const { model } = request.params;
      if ((request.body.model ?? model) !== model) {
        throw new ProblemError(
          'VALIDATION_FAILED',
          `model: the path names '${model}' but the body '${request.body.model}'`,
          { field: 'model' },
        );
      }
      const caller = request.caller;
      const signal = clientGone(reply);
      const input = { ...toGenerationInput(request.body), model };
      const { jobs, creditsRemaining } = await submitAll(deps.service, caller, [input]);
      const [job] = await waitAll(deps.service, caller, jobs, signal);
      if (!job) throw new Error('the request produced no job');
      if (!job.result || job.status !== 'completed') throw jobFailure(job);
      const data = await Promise.all(
        job.result.images.map(async (_, i) => (await deps.service.resultImage(job, i)).data),
      );
      return generateResponse(job, creditsRemaining, data);
    },
  );
}
