import type { FastifyInstance, FastifyReply } from 'fastify';
import { imageBytesResponse } from '../../job-schemas.ts';
import { ProblemError } from '../../../errors/index.ts';
import { isTerminal, type Job } from '../../../jobs/job.ts';
import type { Caller, JobService } from '../../../jobs/job-service.ts';
import { warnIgnoredParams } from '../ignored-params.ts';
import {
  MFLUX_PARAMS,
  mfluxGenerateSchema,
  mfluxInput,
  type MfluxGenerateBody,
} from './mflux-request.ts';

const taskQuery = {
  type: 'object',
  required: ['task_id'],
  properties: { task_id: { type: 'string', maxLength: 100 } },
} as const;

const imageQuery = {
  type: 'object',
  required: ['task_id'],
  properties: {
    task_id: { type: 'string', maxLength: 100 },
    base64: { type: 'string', description: 'true: the image as base64 text (default false)' },
    delete: {
      type: 'string',
      description: 'false: keep the image for another read (default true)',
    },
  },
} as const;

/** mflux-server's reading of a flag: `true`, `1`, `t`, `y`, `yes` in any case. */
const flag = (value: string | undefined, fallback: boolean): boolean =>
  value === undefined ? fallback : ['true', '1', 't', 'y', 'yes'].includes(value.toLowerCase());

/** A task mflux-server would still list: unfinished, or finished with an image not yet taken. */
const listed = (job: Job): boolean =>
  !isTerminal(job.status) || (job.status === 'completed' && !job.resultDeleted);

const seconds = (ms: number): number => ms / 1000;

/**
 * mflux-server's task workflow (`/api/generate` → `/api/status` → `/api/image`, plus `/api/tasks`,
 * `/api/cancel` and `/api/clear`) over the caller's Pictor jobs. A task id is a job id.
 */
export function mfluxRoutes(app: FastifyInstance, service: JobService): void {
  /** The caller's job, or mflux-server's 404 for a task it no longer holds. */
  async function task(caller: Caller, id: string): Promise<Job> {
    const job = await service.get(caller, id);
    if (!listed(job) && job.status !== 'failed')
      throw new ProblemError('JOB_NOT_FOUND', `no task '${id}' (${job.status})`);
    return job;
  }

  app.post<{ Body: MfluxGenerateBody }>(
    '/generate',
    {
      schema: {
        tags: ['mflux-server'],
        summary: 'Queue an image; returns its task id and the expected time',
        body: mfluxGenerateSchema,
        response: {
          200: {
            type: 'object',
            properties: {
              task_id: { type: 'string' },
              task_length: { type: 'integer', description: 'Tasks queued or running before it' },
              expected_time_seconds: { type: 'number' },
            },
          },
        },
      },
    },
    async (request, reply) => {
      warnIgnoredParams(reply, request.body, MFLUX_PARAMS);
      const { job, expectedMs } = await service.submit(
        request.caller,
        mfluxInput(request.body, request.caller),
      );
      const { depth, running } = service.queueStats();
      return {
        task_id: job.id,
        task_length: Math.max(0, depth + running - 1),
        expected_time_seconds: seconds(expectedMs),
      };
    },
  );

  app.get<{ Querystring: { task_id: string } }>(
    '/status',
    {
      schema: {
        tags: ['mflux-server'],
        summary: "A task's state: waiting (with position and seconds left), done or failed",
        querystring: taskQuery,
        response: {
          200: {
            type: 'object',
            properties: {
              status: { type: 'string', enum: ['waiting', 'done', 'failed'] },
              pos: { type: 'integer' },
              wait_remaining: { type: 'integer' },
              error: { type: 'string' },
            },
          },
        },
      },
    },
    async (request) => {
      const job = await task(request.caller, request.query.task_id);
      if (job.status === 'completed') return { status: 'done' };
      if (job.status === 'failed')
        return { status: 'failed', error: job.error?.message ?? 'the generation failed' };
      const { position, waitRemainingMs } = service.progress(job);
      const running = service.queueStats().running;
      return {
        status: 'waiting',
        pos: job.status === 'running' ? 0 : (position ?? 0) + running,
        wait_remaining: Math.max(1, Math.floor(seconds(waitRemainingMs ?? 1000))),
      };
    },
  );

  app.get<{ Querystring: { task_id: string; base64?: string; delete?: string } }>(
    '/image',
    {
      schema: {
        tags: ['mflux-server'],
        summary: "A done task's image (deleted once read unless delete=false)",
        querystring: imageQuery,
        response: {
          200: {
            description: 'The image bytes, or with base64=true their base64 text',
            content: {
              ...imageBytesResponse.content,
              'text/plain': { schema: { type: 'string', description: 'base64' } },
            },
          },
        },
      },
    },
    async (request, reply: FastifyReply) => {
      const { task_id: id } = request.query;
      const job = await task(request.caller, id);
      if (job.status !== 'completed')
        throw new ProblemError('RESULT_NOT_READY', `task '${id}' is not done`, {
          extensions: { status: job.status },
        });
      const { image, data } = await service.resultImage(job, 0);
      if (flag(request.query.delete, true)) await service.deleteResult(job);
      if (flag(request.query.base64, false))
        return reply.type('text/plain; charset=utf-8').send(data.toString('base64'));
      return reply.type(image.mimeType).send(data);
    },
  );

  app.get<{ Querystring: { task_id: string } }>(
    '/cancel',
    {
      schema: {
        tags: ['mflux-server'],
        summary: 'Cancel a task, or drop the image of a done one',
        querystring: taskQuery,
        response: { 200: emptyBody },
      },
    },
    async (request, reply) => {
      await forget(service, request.caller, await task(request.caller, request.query.task_id));
      return reply.status(200).send();
    },
  );

  app.get(
    '/tasks',
    {
      schema: {
        tags: ['mflux-server'],
        summary: "The caller's tasks still held: queued, running, or done and not yet read",
        response: { 200: { type: 'array', items: taskSchema } },
      },
    },
    async (request) => {
      const jobs = await service.list(request.caller, 100, undefined);
      return jobs.filter(listed).map((job) => taskView(job));
    },
  );

  app.get(
    '/clear',
    {
      schema: {
        tags: ['mflux-server'],
        summary: "Cancel all the caller's tasks and drop their images",
        response: { 200: emptyBody },
      },
    },
    async (request, reply) => {
      const jobs = await service.list(request.caller, 100, undefined);
      for (const job of jobs.filter(listed)) await forget(service, request.caller, job);
      return reply.status(200).send();
    },
  );
}

/** An empty 200, as flask answers `return '', 200`. */
const emptyBody = { description: 'Done (an empty body)' } as const;

const taskSchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    task_id: { type: 'string' },
    prompt: { type: 'string' },
    seed: { type: 'string' },
    height: { type: 'integer' },
    width: { type: 'integer' },
    steps: { type: 'integer' },
    guidance: { type: 'number' },
    format: { type: 'string', enum: ['PNG', 'JPEG', 'WEBP'] },
    quality: { type: 'integer' },
    priority: { type: 'boolean' },
    start_time: { type: 'number', description: 'Epoch seconds' },
    compute_time: { type: 'number' },
    end_time: { type: 'number' },
    status: { type: 'string' },
  },
} as const;

/** What mflux-server's `/tasks` lists per task (times in epoch seconds). */
function taskView(job: Job): Record<string, unknown> {
  const p = job.params;
  return {
    task_id: job.id,
    prompt: p.prompt,
    seed: String(p.seed),
    height: p.height,
    width: p.width,
    steps: p.steps,
    guidance: p.guidanceScale,
    format: p.outputFormat.toUpperCase(),
    quality: p.quality,
    priority: job.priority > 0,
    start_time: seconds(job.createdAt),
    ...(job.startedAt === null ? {} : { compute_time: seconds(job.startedAt) }),
    ...(job.finishedAt === null ? {} : { end_time: seconds(job.finishedAt) }),
    status: job.status,
  };
}

/** Cancels a task that has not finished; drops the image of one that has. */
async function forget(service: JobService, caller: Caller, job: Job): Promise<void> {
  if (!isTerminal(job.status)) {
    await service.cancel(caller, job.id).catch((error: unknown) => {
      // It finished meanwhile: drop its image instead.
      if (!(error instanceof ProblemError && error.code === 'JOB_NOT_CANCELLABLE')) throw error;
    });
    const now = await service.get(caller, job.id);
    if (now.status === 'completed') await service.deleteResult(now);
    return;
  }
  if (job.status === 'completed' && !job.resultDeleted) await service.deleteResult(job);
}
