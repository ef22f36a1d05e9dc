import type { FastifyRequest } from 'fastify';
import { PUBLIC_TOKEN_PREFIX } from '../../../accounts/api-key.ts';
import type { Access } from '../../../accounts/authenticator.ts';
import type { JobEventBus } from '../../../jobs/job-event-bus.ts';
import type { Job } from '../../../jobs/job.ts';
import type { JobService } from '../../../jobs/job-service.ts';
import type { BlobLinks } from './blob-links.ts';
import type { ImageInputs } from './image-inputs.ts';
import { parametersUsed } from './irgolic-params.ts';
import type { TaskRegistry } from './task-registry.ts';

/** What the dialect's routes share. */
export interface IrgolicContext {
  readonly service: JobService;
  readonly events: JobEventBus;
  readonly links: BlobLinks;
  readonly images: ImageInputs;
  readonly tasks: TaskRegistry;
  /** The access its generation routes need: key-less with `irgolic.publicAccess`. */
  readonly access: Access | undefined;
}

/** The public token a request carries (`Bearer pub_…` or `?token=pub_…`): its session. */
export function sessionOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization ?? '';
  const bearer = /^bearer\s+(\S+)$/i.exec(header.trim())?.[1];
  // The auth hook took `token` out of the parsed query; the raw URL still has it.
  const query = new URL(request.url, 'http://localhost').searchParams.get('token') ?? undefined;
  const token = bearer ?? query;
  return token?.startsWith(PUBLIC_TOKEN_PREFIX) === true ? token : undefined;
}

/** The `result` of a finished task: its image's blob URL and the parameters it ran with. */
export function resultOf(
  ctx: IrgolicContext,
  job: Job,
): { blob_url: string; parameters_used: Record<string, unknown> } {
  return {
    blob_url: ctx.links.url({ kind: 'result', owner: job.owner, jobId: job.id, index: 0 }),
    parameters_used: parametersUsed(job, ctx.tasks.get(job.id)?.request, (uploadId) =>
      uploadId === null ? null : ctx.links.url({ kind: 'upload', uploadId }),
    ),
  };
}
