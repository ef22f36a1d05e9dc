import type { FastifyInstance } from 'fastify';
import { emptyResponse, progressResponse } from './a1111-schemas.ts';
import type { JobEventBus } from '../../../jobs/job-event-bus.ts';
import type { Job } from '../../../jobs/job.ts';
import type { Caller, JobService } from '../../../jobs/job-service.ts';
import type { A1111State } from './a1111-state.ts';

export interface ProgressContext {
  readonly service: JobService;
  readonly events: JobEventBus;
  readonly state: A1111State;
}

/** How many of the caller's recent jobs are looked at for the ones still in flight. */
const RECENT = 100;

/** The caller's queued and running jobs: running first (oldest first), then queued by age. */
async function inFlight(service: JobService, caller: Caller): Promise<Job[]> {
  const recent = await service.list(caller, RECENT, undefined);
  const byAge = (a: Job, b: Job): number => a.createdAt - b.createdAt;
  return [
    ...recent.filter((j) => j.status === 'running').sort(byAge),
    ...recent.filter((j) => j.status === 'queued').sort(byAge),
  ];
}

const IDLE_STATE = {
  skipped: false,
  interrupted: false,
  stopping_generation: false,
  job: '',
  job_count: 0,
  job_timestamp: '0',
  job_no: 0,
  sampling_step: 0,
  sampling_steps: 0,
};

/** The last progress event of a job: step, total and the latest preview. */
async function lastProgress(
  events: JobEventBus,
  jobId: string,
): Promise<{ step: number; total: number; preview: string | undefined }> {
  const last = (await events.replay(jobId, 0))
    .flatMap((e) => (e.type === 'progress' ? [e.data] : []))
    .at(-1);
  return { step: last?.step ?? 0, total: last?.total_steps ?? 0, preview: last?.preview };
}

/** The job's model download, while it waits for a model pulled on request (`models.pullOnRequest`). */
async function pullingNow(events: JobEventBus, jobId: string): Promise<string | undefined> {
  const last = (await events.replay(jobId, 0)).filter((e) => e.type !== 'progress').at(-1);
  if (last?.type !== 'pulling') return undefined;
  const { model, status, completed, total } = last.data;
  const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
  const amount =
    total === undefined
      ? completed > 0
        ? ` (${mb(completed)})`
        : ''
      : ` ${Math.floor((100 * completed) / Math.max(1, total))}% (${mb(completed)} of ${mb(total)})`;
  return `Pulling model ${model}: ${status}${amount}`;
}

/**
 * `GET /sdapi/v1/progress` for the caller's current job (A1111 reports its one global job), and
 * `POST /sdapi/v1/interrupt` / `skip`: interrupt cancels the caller's running job and the rest
 * of the request it belongs to; skip cancels only the running job, the request goes on.
 */
export function progressRoutes(app: FastifyInstance, ctx: ProgressContext): void {
  app.get<{ Querystring: { skip_current_image?: string } }>(
    '/progress',
    {
      schema: {
        tags: ['automatic1111'],
        summary: "AUTOMATIC1111: the caller's current job",
        response: { 200: progressResponse },
      },
    },
    async (request) => {
      const jobs = await inFlight(ctx.service, request.caller);
      const current = jobs[0];
      if (!current) {
        return {
          progress: 0,
          eta_relative: 0,
          state: IDLE_STATE,
          current_image: null,
          textinfo: null,
          current_task: null,
        };
      }
      const { step, total, preview } = await lastProgress(ctx.events, current.id);
      const fraction = current.status === 'running' && total > 0 ? step / total : 0;
      const { position, waitRemainingMs } = ctx.service.progress(current);
      const skipImage = /^(true|1)$/i.test(request.query.skip_current_image ?? '');
      return {
        // A1111 reports at least 0.01 while a job is in flight.
        progress: Math.min(1, Math.max(0.01, fraction)),
        eta_relative: Math.round(waitRemainingMs ?? 0) / 1000,
        state: {
          ...IDLE_STATE,
          job: current.id,
          job_count: jobs.length,
          job_timestamp: String(Math.floor(current.createdAt / 1000)),
          sampling_step: step,
          sampling_steps: total || current.params.steps,
        },
        current_image:
          skipImage || preview === undefined ? null : preview.slice(preview.indexOf(',') + 1),
        textinfo:
          current.status === 'queued'
            ? ((await pullingNow(ctx.events, current.id)) ??
              `Queued: ${position ?? 0} job(s) ahead`)
            : null,
        current_task: current.id,
      };
    },
  );

  const cancelAll = async (caller: Caller, ids: Iterable<string>): Promise<void> => {
    await Promise.all(
      [...new Set(ids)].map((id) => ctx.service.cancel(caller, id).catch(() => undefined)),
    );
  };

  app.post(
    '/interrupt',
    {
      schema: {
        tags: ['automatic1111'],
        summary: "AUTOMATIC1111: stop the caller's job",
        response: { 200: emptyResponse },
      },
    },
    async (request) => {
      const jobs = await inFlight(ctx.service, request.caller);
      const running = jobs.filter((j) => j.status === 'running');
      const targets = running.length > 0 ? running : jobs.slice(0, 1);
      await cancelAll(
        request.caller,
        targets.flatMap((job) => ctx.state.group(job.id)),
      );
      return {};
    },
  );

  app.post(
    '/skip',
    {
      schema: {
        tags: ['automatic1111'],
        summary: "AUTOMATIC1111: skip the caller's running job",
        response: { 200: emptyResponse },
      },
    },
    async (request) => {
      const jobs = await inFlight(ctx.service, request.caller);
      const running = jobs.filter((j) => j.status === 'running');
      await cancelAll(
        request.caller,
        running.map((j) => j.id),
      );
      return null;
    },
  );
}
