import { randomInt } from 'node:crypto';
import type { GenerationInput } from '../../jobs/generation-input.ts';
import type { ModelInfo } from '../../jobs/inference-workers.ts';
import { isTerminal, type Job, type JobImage } from '../../jobs/job.ts';
import type { Caller, JobService } from '../../jobs/job-service.ts';

/** One stored result image with its bytes. */
export interface ResultImage {
  readonly job: Job;
  readonly index: number;
  readonly image: JobImage;
  readonly data: Buffer;
}

/** Most images one job may hold for this model (the rest go to further jobs). */
export function imagesPerJob(model: ModelInfo, maxImagesPerJob: number): number {
  return Math.max(1, Math.min(maxImagesPerJob, model.limits.maxBatch));
}

/** `total` images in jobs of at most `perJob`: 10 by 4 → [4, 4, 2]. */
export function splitImages(total: number, perJob: number): number[] {
  const counts: number[] = [];
  for (let left = total; left > 0; left -= perJob) counts.push(Math.min(left, perJob));
  return counts;
}

/** A random seed such that `seed + count - 1` still fits in 32 bits. */
export function randomSeed(count: number): number {
  return randomInt(0, 2 ** 32 - count);
}

/**
 * One input per job for `total` images: the first job gets `seed`, the next ones continue the
 * seed sequence (image i of the request always has seed `seed + i`, as AUTOMATIC1111 numbers them).
 */
export function imageJobs(
  base: GenerationInput,
  total: number,
  perJob: number,
  seed: number,
): GenerationInput[] {
  let offset = 0;
  return splitImages(total, perJob).map((n) => {
    const input = { ...base, n, seed: seed + offset };
    offset += n;
    return input;
  });
}

async function cancelQuietly(service: JobService, caller: Caller, jobs: readonly Job[]) {
  await Promise.all(jobs.map((job) => service.cancel(caller, job.id).catch(() => undefined)));
}

/**
 * Submits the inputs in order, all or nothing: when one is refused (credits, rate limit, queue
 * full, a bad parameter) the jobs already accepted are cancelled (and so refunded).
 */
export async function submitAll(
  service: JobService,
  caller: Caller,
  inputs: readonly GenerationInput[],
): Promise<{ jobs: Job[]; creditsRemaining: number | null }> {
  const jobs: Job[] = [];
  let creditsRemaining: number | null = null;
  try {
    for (const input of inputs) {
      const { job, charge } = await service.submit(caller, input);
      jobs.push(job);
      creditsRemaining = charge.creditsRemaining;
    }
  } catch (error) {
    await cancelQuietly(service, caller, jobs);
    throw error;
  }
  return { jobs, creditsRemaining };
}

/**
 * Waits until every job is final. If the signal aborts (the client left), the unfinished jobs
 * are cancelled and the signal's reason is thrown.
 */
export async function waitAll(
  service: JobService,
  caller: Caller,
  jobs: readonly Job[],
  signal: AbortSignal,
): Promise<Job[]> {
  try {
    // A client that left while its jobs were being submitted: its signal fired already.
    signal.throwIfAborted();
    return await Promise.all(jobs.map((job) => service.waitForFinal(caller, job, signal)));
  } catch (error) {
    const current = await Promise.all(
      jobs.map((job) => service.get(caller, job.id).catch(() => job)),
    );
    await cancelQuietly(
      service,
      caller,
      current.filter((job) => !isTerminal(job.status)),
    );
    throw error;
  }
}

/** The result images of completed jobs (the caller's, as it waited for them), in order. */
export async function readResults(
  service: JobService,
  jobs: readonly Job[],
): Promise<ResultImage[]> {
  const perJob = await Promise.all(
    jobs.map((job) =>
      Promise.all(
        (job.result?.images ?? []).map(async (_, index) => {
          const { image, data } = await service.resultImage(job, index);
          return { job, index, image, data };
        }),
      ),
    ),
  );
  return perJob.flat();
}
