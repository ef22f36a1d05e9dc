import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ProblemError } from '../../errors/index.ts';
import { decimalIntegers } from '../decimal-numbers.ts';
import { isTerminal, type Job } from '../../jobs/job.ts';
import { finalEventOf } from '../../jobs/job-event.ts';
import type { AppDeps } from '../app-deps.ts';
import {
  generationBodySchema,
  toGenerationInput,
  type GenerationBody,
} from '../generation-schema.ts';
import { jobView } from '../job-view.ts';
import { streamJobEvents } from '../sse.ts';
import { idempotencyOf } from '../idempotency-of.ts';
import { jsonResponse } from '../documented-errors.ts';
import {
  eventStreamResponse,
  imageBytesResponse,
  jobQueuedSchema,
  jobResponse,
  jobViewSchema,
} from '../job-schemas.ts';

const idParams = {
  type: 'object',
  properties: { id: { type: 'string' } },
  required: ['id'],
} as const;

/**
 * Makes sure a finished job's stream has its final event (logs are pruned, and lost on restart).
 * Racing the job's real final event is harmless: the bus keeps whichever comes first, only.
 */
export async function ensureFinalEvent(deps: AppDeps, job: Job): Promise<void> {
  if (!isTerminal(job.status)) return;
  const history = await deps.events.replay(job.id, 0);
  if (history.some((e) => e.type === job.status)) return;
  const final = finalEventOf(
    job,
    (id, index) => `${deps.publicUrl}/v1/jobs/${id}/image?index=${index}`,
    (id) => `${deps.publicUrl}/v1/jobs/${id}`,
  );
  if (final) await deps.events.publish({ jobId: job.id, owner: job.owner, ...final });
}

export function jobsRoutes(app: FastifyInstance, deps: AppDeps): void {
  const { service } = deps;
  const imageUrl = (id: string, index: number): string =>
    `${deps.publicUrl}/v1/jobs/${id}/image?index=${index}`;

  app.post<{ Body: GenerationBody }>(
    '/v1/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Queue a generation; returns 202 at once',
        body: generationBodySchema,
        response: { 202: jsonResponse('Queued; follow status_url or events_url', jobQueuedSchema) },
      },
    },
    async (request, reply) => {
      const { job, position, expectedMs, charge, replayed } = await service.submit(
        request.caller,
        toGenerationInput(request.body),
        idempotencyOf(request, request.body),
      );
      if (replayed) void reply.header('idempotent-replayed', 'true');
      return reply
        .status(202)
        .header('location', `/v1/jobs/${job.id}`)
        .send({
          job_id: job.id,
          status: job.status,
          position,
          expected_time_seconds: Math.round(expectedMs) / 1000,
          status_url: `${deps.publicUrl}/v1/jobs/${job.id}`,
          events_url: `${deps.publicUrl}/v1/jobs/${job.id}/events`,
          credits_used: charge.creditsUsed,
          credits_remaining: charge.creditsRemaining,
        });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/jobs/:id',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Job status, position, time left and result',
        params: idParams,
        response: { 200: jobResponse },
      },
    },
    async (request) => {
      const job = await service.get(request.caller, request.params.id);
      return jobView(job, service.progress(job), imageUrl);
    },
  );

  app.get<{ Params: { id: string }; Querystring: { index?: number; delete?: boolean } }>(
    '/v1/jobs/:id/image',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Result image bytes',
        params: idParams,
        response: { 200: imageBytesResponse },
        querystring: {
          type: 'object',
          properties: { index: { type: 'integer', minimum: 0 }, delete: { type: 'boolean' } },
        },
      },
      preValidation: decimalIntegers('query', ['index']),
    },
    async (request, reply) => {
      const { image, data } = await service.image(
        request.caller,
        request.params.id,
        request.query.index ?? 0,
        request.query.delete ?? false,
      );
      return reply
        .type(image.mimeType)
        .header('x-pictor-seed', String(image.seed))
        .header('cache-control', 'private, max-age=3600')
        .send(data);
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/jobs/:id',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Cancel a queued or running job',
        params: idParams,
        response: { 200: jobResponse },
      },
    },
    async (request) => {
      const job = await service.cancel(request.caller, request.params.id);
      return jobView(job, { position: undefined, waitRemainingMs: undefined }, imageUrl);
    },
  );

  app.get<{ Querystring: { limit?: number; cursor?: string } }>(
    '/v1/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: "The caller's jobs, newest first",
        querystring: {
          type: 'object',
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 100 },
            cursor: { type: 'string' },
          },
        },
        response: {
          200: jsonResponse('A page of jobs', {
            type: 'object',
            additionalProperties: true,
            required: ['data', 'next_cursor'],
            properties: {
              data: { type: 'array', items: jobViewSchema },
              next_cursor: {
                type: ['string', 'null'],
                description: 'Pass as cursor for the next page',
              },
            },
          }),
        },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? 20;
      const cursor = request.query.cursor;
      const before =
        cursor === undefined
          ? undefined
          : await service.get(request.caller, cursor).catch(() => {
              throw new ProblemError('VALIDATION_FAILED', 'cursor: unknown job id', {
                field: 'cursor',
              });
            });
      const jobs = await service.list(request.caller, limit + 1, before);
      const page = jobs.slice(0, limit);
      return {
        data: page.map((job) => jobView(job, service.progress(job), imageUrl)),
        next_cursor: jobs.length > limit ? (page.at(-1)?.id ?? null) : null,
      };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/jobs/:id/events',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Server-Sent Events of a job (supports Last-Event-ID)',
        params: idParams,
        response: { 200: eventStreamResponse },
      },
    },
    async (request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
      const job = await service.get(request.caller, request.params.id);
      await ensureFinalEvent(deps, job);
      await streamJobEvents(request, reply, deps.events, job, () => undefined);
    },
  );
}
