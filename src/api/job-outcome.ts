import type { FastifyReply } from 'fastify';
import { ProblemError, type ErrorCode } from '../errors/index.ts';
import type { Job } from '../jobs/job.ts';

/** Aborts when the client goes away before the response was sent. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new Error('client disconnected'));
  });
  return controller.signal;
}

/** A failed job's error code → the problem its waiting request answers; others are 500s. */
const FAILURE_PROBLEMS: Readonly<Record<string, ErrorCode>> = {
  INVALID_REQUEST: 'VALIDATION_FAILED',
  INVALID_IMAGE: 'INVALID_IMAGE',
  INSUFFICIENT_STORAGE: 'INSUFFICIENT_STORAGE',
  // A model pulled on request (`models.pullOnRequest`) that could not be had, or that refuses
  // the request: the pull's own problem, not a generation failure.
  MODEL_SOURCE_NOT_FOUND: 'MODEL_SOURCE_NOT_FOUND',
  MODEL_SOURCE_UNAUTHORIZED: 'MODEL_SOURCE_UNAUTHORIZED',
  MODEL_SOURCE_INVALID: 'MODEL_SOURCE_INVALID',
  MODEL_DOWNLOAD_FAILED: 'MODEL_DOWNLOAD_FAILED',
  MODEL_HASH_MISMATCH: 'MODEL_HASH_MISMATCH',
  VALIDATION_FAILED: 'VALIDATION_FAILED',
};

/** The problem a job that did not complete stands for. */
export function jobFailure(job: Job): ProblemError {
  if (job.status === 'cancelled')
    return new ProblemError('JOB_CANCELLED', `job '${job.id}' was cancelled`, {
      extensions: { job_id: job.id },
    });
  if (job.status === 'expired')
    return new ProblemError('JOB_EXPIRED', `job '${job.id}' expired before it ran`, {
      extensions: { job_id: job.id },
    });
  const code = job.error?.code;
  const catalog = (code === undefined ? undefined : FAILURE_PROBLEMS[code]) ?? 'GENERATION_FAILED';
  return new ProblemError(catalog, job.error?.message ?? 'the generation failed', {
    extensions: { job_id: job.id, error_code: code },
  });
}
