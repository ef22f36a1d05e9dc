import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Job } from '../../jobs/job.ts';
import type { Caller } from '../../jobs/job-service.ts';
import { clientGone, jobFailure } from '../job-outcome.ts';
import type { AppDeps } from '../app-deps.ts';
import {
  generationBodySchema,
  toGenerationInput,
  type GenerationBody,
} from '../generation-schema.ts';
import { streamJobEvents } from '../sse.ts';
import { idempotencyOf } from '../idempotency-of.ts';
import { eventStreamResponse, generatedResponse, imageBytesResponse } from '../job-schemas.ts';

export function generateRoutes(app: FastifyInstance, deps: AppDeps): void {
  const { service } = deps;

  /** Submits and waits; a client that disconnects cancels its job. */
  async function submitAndWait(
    caller: Caller,
    body: GenerationBody,
    reply: FastifyReply,
  ): Promise<{ job: Job; remaining: number | null }> {
    const signal = clientGone(reply);
    const { request } = reply;
    // A GET link is not a submission a client retries: Idempotency-Key is for POST.
    const options = request.method === 'POST' ? idempotencyOf(request, body) : {};
    const { job, charge } = await service.submit(caller, toGenerationInput(body), options);
    try {
      const done = await service.waitForFinal(caller, job, signal);
      if (done.status !== 'completed' || !done.result) throw jobFailure(done);
      return { job: done, remaining: charge.creditsRemaining };
    } catch (error) {
      if (signal.aborted) await service.abandon(caller, job.id);
      throw error;
    }
  }

  app.post<{ Body: GenerationBody }>(
    '/v1/generate',
    {
      schema: {
        tags: ['generate'],
        summary: 'Generate and wait; JSON with base64 images',
        body: generationBodySchema,
        response: { 200: generatedResponse },
      },
    },
    async (request, reply) => {
      const { job, remaining } = await submitAndWait(request.caller, request.body, reply);
      const images = job.result?.images ?? [];
      const data = await Promise.all(
        images.map(async (_, i) => (await service.resultImage(job, i)).data),
      );
      return generateResponse(job, remaining, data);
    },
  );

  async function raw(
    request: FastifyRequest,
    reply: FastifyReply,
    body: GenerationBody,
  ): Promise<FastifyReply> {
    const { job, remaining } = await submitAndWait(request.caller, body, reply);
    const { image, data } = await service.resultImage(job, 0);
    const meta = {
      'job-id': job.id,
      seed: String(image.seed),
      'generation-time': String(job.result?.generationTime ?? 0),
      'credits-remaining': remaining === null ? 'unlimited' : String(remaining),
    };
    // Also under Scratchy's names, which its clients read.
    for (const prefix of ['x-pictor-', 'x-scratchy-'])
      for (const [name, value] of Object.entries(meta)) void reply.header(prefix + name, value);
    return reply.type(image.mimeType).send(data);
  }

  app.post<{ Body: GenerationBody }>(
    '/v1/generate/raw',
    {
      schema: {
        tags: ['generate'],
        summary: 'Generate and wait; the image bytes',
        body: generationBodySchema,
        response: { 200: imageBytesResponse },
      },
    },
    (request, reply) => raw(request, reply, request.body),
  );

  app.get<{ Querystring: GenerationBody }>(
    '/v1/txt2img',
    {
      schema: {
        tags: ['generate'],
        summary: 'Generate from query parameters; the image bytes (works as a browser link)',
        querystring: {
          ...generationBodySchema,
          properties: { ...generationBodySchema.properties, webhook_url: { type: 'string' } },
        },
        response: { 200: imageBytesResponse },
      },
    },
    (request, reply) => raw(request, reply, request.query),
  );

  app.post<{ Body: GenerationBody }>(
    '/v1/generate/stream',
    {
      schema: {
        tags: ['generate'],
        summary: 'Generate with Server-Sent Events',
        body: generationBodySchema,
        response: { 200: eventStreamResponse },
      },
    },
    async (request, reply) => {
      const { job } = await service.submit(
        request.caller,
        toGenerationInput(request.body),
        idempotencyOf(request, request.body),
      );
      await streamJobEvents(request, reply, deps.events, job, () => {
        void service.abandon(request.caller, job.id);
      });
    },
  );
}

export function generateResponse(
  job: Job,
  creditsRemaining: number | null,
  data: readonly Buffer[],
): Record<string, unknown> {
  const images = (job.result?.images ?? []).map((image, index) => ({
    image: data[index]?.toString('base64') ?? '',
    seed: image.seed,
    mime_type: image.mimeType,
    width: image.width,
    height: image.height,
    nsfw: image.nsfw,
  }));
  return {
    job_id: job.id,
    status: job.status,
    image: images[0]?.image ?? null,
    seed: images[0]?.seed ?? null,
    images,
    generation_time: job.result?.generationTime ?? null,
    warnings: job.result?.warnings ?? [],
    credits_used: job.creditsUsed,
    credits_remaining: creditsRemaining,
  };
}
