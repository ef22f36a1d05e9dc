import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ProblemError } from '../../../errors/index.ts';
import { isTerminal, type Job } from '../../../jobs/job.ts';
import { clientGone } from '../../job-outcome.ts';
import { waitAll } from '../dialect-jobs.ts';
import { warnIgnoredParams } from '../ignored-params.ts';
import { resultOf, sessionOf, type IrgolicContext } from './irgolic-context.ts';
import { lastEventOf } from './irgolic-events.ts';
import {
  PARAMS_TYPES,
  TASK_BODY_SCHEMA,
  inputOf,
  kindOf,
  knownFields,
  modelOf,
  querySchema,
  type IrgolicParams,
  type ParamsType,
} from './irgolic-params.ts';

const tags = ['stable-diffusion-api'];

const generatedBlob = {
  type: 'object',
  properties: {
    blob_url: { type: 'string' },
    parameters_used: { type: 'object', additionalProperties: true },
  },
} as const;

const eventSchema = {
  type: 'object',
  description: 'The last event: pending, started, finished (with result) or aborted (with reason)',
  properties: {
    event_type: { type: 'string', enum: ['pending', 'started', 'finished', 'aborted'] },
    task_id: { type: 'string' },
    reason: { type: 'string' },
    result: generatedBlob,
  },
} as const;

const taskParams = {
  type: 'object',
  required: ['task_id'],
  properties: { task_id: { type: 'string', maxLength: 100 } },
} as const;

/** Accepts a task: the images resolved, the job submitted, the request remembered. */
async function submit(
  ctx: IrgolicContext,
  request: FastifyRequest,
  reply: FastifyReply,
  kind: ParamsType,
  params: IrgolicParams,
  withType: boolean,
): Promise<Job> {
  warnIgnoredParams(reply, params, knownFields(kind, withType));
  const caller = request.caller;
  const model = modelOf(
    params.model,
    ctx.service.models().map((m) => m.name),
  );
  const initImage = await ctx.images.resolve(caller, params.initial_image, 'initial_image');
  const mask = await ctx.images.resolve(caller, params.mask, 'mask');
  const { job } = await ctx.service.submit(
    caller,
    inputOf(kind, params, model, {
      ...(initImage === undefined ? {} : { initImage }),
      ...(mask === undefined ? {} : { mask }),
    }),
  );
  ctx.tasks.add(job.id, {
    request: { kind, model: params.model, initialImage: params.initial_image, mask: params.mask },
    session: sessionOf(request),
  });
  return job;
}

/**
 * irgolic's task API: `GET /txt2img|img2img|inpaint?…` (wait for the image; leaving cancels it),
 * `POST /task` → task id, `GET /task/{id}` → its last event, `DELETE /task/{id}`.
 */
export function taskRoutes(app: FastifyInstance, ctx: IrgolicContext): void {
  const config = ctx.access === undefined ? {} : { auth: ctx.access };

  for (const kind of PARAMS_TYPES) {
    app.get<{ Querystring: IrgolicParams }>(
      `/${kind}`,
      {
        config,
        schema: {
          tags,
          summary: `${kind}: generate and wait; the blob URL and the parameters used (a dropped connection cancels)`,
          querystring: querySchema(kind),
          response: { 200: generatedBlob },
        },
      },
      async (request, reply) => {
        const signal = clientGone(reply);
        const job = await submit(ctx, request, reply, kind, request.query, false);
        const [done] = await waitAll(ctx.service, request.caller, [job], signal);
        if (!done) throw new Error('the request produced no job');
        const event = lastEventOf(done, (finished) => resultOf(ctx, finished));
        if (event.event_type === 'finished') return event.result;
        // irgolic answers an aborted task with 500 and its reason.
        throw new ProblemError(
          'GENERATION_FAILED',
          event.event_type === 'aborted' ? event.reason : `the task is ${done.status}`,
        );
      },
    );
  }

  app.post<{ Body: IrgolicParams }>(
    '/task',
    {
      config,
      schema: {
        tags,
        summary: 'Start a txt2img, img2img or inpaint task; its id',
        body: TASK_BODY_SCHEMA,
        response: { 200: { type: 'string', description: 'The task id' } },
      },
    },
    async (request, reply) => {
      const job = await submit(ctx, request, reply, kindOf(request.body), request.body, true);
      return reply.type('application/json').send(JSON.stringify(job.id));
    },
  );

  app.get<{ Params: { task_id: string } }>(
    '/task/:task_id',
    {
      config,
      schema: {
        tags,
        summary: "A task's last event",
        params: taskParams,
        response: { 200: eventSchema },
      },
    },
    async (request, reply) => {
      const job = await task(ctx, request.caller, request.params.task_id);
      void reply.header('cache-control', 'no-cache, no-store');
      return lastEventOf(job, (finished) => resultOf(ctx, finished));
    },
  );

  app.delete<{ Params: { task_id: string } }>(
    '/task/:task_id',
    {
      config,
      schema: {
        tags,
        summary: 'Cancel a task (204; a finished one is left as it is)',
        params: taskParams,
        response: { 204: { description: 'Cancelled (or already finished)' } },
      },
    },
    async (request, reply) => {
      const job = await task(ctx, request.caller, request.params.task_id);
      if (!isTerminal(job.status))
        await ctx.service.cancel(request.caller, job.id).catch((error: unknown) => {
          // It finished meanwhile: irgolic's cancel leaves a finished task as it is.
          if (!(error instanceof ProblemError && error.code === 'JOB_NOT_CANCELLABLE')) throw error;
        });
      return reply.status(204).send();
    },
  );
}

/** The caller's task, or irgolic's 404 `Task not found`. */
async function task(
  ctx: IrgolicContext,
  caller: FastifyRequest['caller'],
  id: string,
): Promise<Job> {
  return ctx.service.get(caller, id).catch((error: unknown) => {
    if (error instanceof ProblemError && error.code === 'JOB_NOT_FOUND')
      throw new ProblemError('JOB_NOT_FOUND', 'Task not found');
    throw error;
  });
}
