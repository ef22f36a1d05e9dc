import { isDiskFull } from '../errors/index.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { UploadRepository } from '../storage/upload-repository.ts';
import type { EtaEstimator } from './eta-estimator.ts';
import type { BatchJob, BatchOutcome, InferenceWorkers, OutputImage } from './inference-workers.ts';
import type { Job, JobError, JobImage, JobResult } from './job.ts';
import { MAX_ATTEMPTS, type JobLifecycle } from './job-lifecycle.ts';
import type { JobRepository } from './job-repository.ts';
import type { Logger } from './logger.ts';

export interface BatchRunnerDeps {
  readonly jobs: JobRepository;
  readonly workers: InferenceWorkers;
  readonly blobs: BlobStore;
  readonly uploads: UploadRepository;
  readonly lifecycle: JobLifecycle;
  readonly eta: EtaEstimator;
  readonly logger: Logger;
  readonly resultTtlMs: number;
}

/** Jobs claimed for one engine batch (`running` in the repository), with their images read. */
export interface ClaimedBatch {
  readonly jobs: readonly Job[];
  readonly batchJobs: readonly BatchJob[];
}

/** What the node running a batch tells the runner while it runs. */
export interface BatchControl {
  readonly batchId: string;
  /** The worker placement chose for the batch, when the node chooses (embedded mode). */
  readonly worker?: number | undefined;
  /** A job cancelled while its batch runs gets no more progress events. */
  isCancelled(jobId: string): boolean;
  /**
   * The node is stopping: a batch lost to it does not count as an attempt, and its jobs are
   * stored as queued without being queued here (the node's next start, or its caller, does it).
   */
  stopping(): boolean;
  /**
   * Whether this node still owns the job, asked before its outcome is recorded: a cluster node
   * whose lease expired (it hung) leaves the job to the node that took it over.
   */
  owns(jobId: string): Promise<boolean>;
}

/** An image a job refers to is gone from storage. */
class MissingImageError extends Error {}

function jobErrorOf(error: unknown): JobError {
  return error instanceof MissingImageError
    ? { code: 'INVALID_IMAGE', message: error.message }
    : { code: 'STORAGE_FAILED', message: `reading the job's images failed: ${String(error)}` };
}

/** Why a result could not be stored: the disk is full (the client may retry later), or else. */
function resultStoreError(error: unknown): JobError {
  return isDiskFull(error)
    ? { code: 'INSUFFICIENT_STORAGE', message: 'the server is out of disk space for the result' }
    : { code: 'STORAGE_FAILED', message: `the result could not be stored: ${String(error)}` };
}

/** Outcomes that say nothing about the jobs themselves: the worker died, or the run was stopped. */
const LOST: readonly string[] = ['WORKER_DIED', 'ABORTED'];

const EXTENSIONS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/webp': 'webp',
};

/**
 * Runs a batch of jobs on this process's inference workers, from the claim to the end: claims
 * them in the repository and reads their images, announces them, relays progress, stores the
 * images in the blob store and ends each job through the lifecycle — a lost worker retries a job
 * once, then fails and refunds it. The one place this is written: the embedded dispatcher and a
 * worker node differ only in where the job ids come from (the in-process queue, or a lease on
 * the shared dispatch queue) and in the adapters behind the lifecycle.
 */
export class BatchRunner {
  readonly #d: BatchRunnerDeps;

  constructor(deps: BatchRunnerDeps) {
    this.#d = deps;
  }

  /**
   * Claims the jobs (`queued → running`, one round trip each, which also reads them) and loads
   * their images. A cancelled or expired job is not claimed; a job whose image is gone (its
   * upload expired while it waited) fails alone, refunded.
   */
  async claim(jobIds: readonly string[], now: number): Promise<ClaimedBatch> {
    const jobs: Job[] = [];
    const batchJobs: BatchJob[] = [];
    for (const id of jobIds) {
      const job = await this.#d.jobs.claim(id, now);
      if (!job) continue;
      let images: Pick<BatchJob, 'initImage' | 'mask'>;
      try {
        images = {
          initImage: await this.#loadUpload(job.params.initImage, 'init_image'),
          mask: await this.#loadUpload(job.params.mask, 'mask'),
        };
      } catch (error) {
        await this.#d.lifecycle.fail(job, jobErrorOf(error), ['running']);
        continue;
      }
      jobs.push(job);
      batchJobs.push({ jobId: job.id, params: job.params, ...images });
    }
    return { jobs, batchJobs };
  }

  async #loadUpload(id: string | null, field: string): Promise<Uint8Array | undefined> {
    if (id === null) return undefined;
    const upload = await this.#d.uploads.get(id);
    const data = upload && (await this.#d.blobs.get(upload.key));
    if (!data) throw new MissingImageError(`${field}: the upload ${id} expired before the job ran`);
    return data;
  }

  /**
   * Announces the claimed jobs, runs them as one engine batch, and ends or re-queues each job.
   * Resolves once every job of the batch is settled (its images written, its state recorded).
   */
  async run(batch: ClaimedBatch, control: BatchControl): Promise<void> {
    const { lifecycle, workers } = this.#d;
    // A job cancelled since its claim (on a cluster node, a cancel can reach the node before its
    // batch is registered to be aborted) is already ended and refunded: not announced, not run.
    const jobs = batch.jobs.filter((job) => !control.isCancelled(job.id));
    const first = jobs[0];
    if (!first) return;
    const batchJobs = batch.batchJobs.filter((b) => jobs.some((job) => job.id === b.jobId));
    lifecycle.started(jobs);
    const outcome = await workers.run(
      { batchId: control.batchId, model: first.model, jobs: batchJobs },
      (progress) => {
        for (const job of jobs) {
          if (control.isCancelled(job.id)) continue;
          lifecycle.progress(job, progress.step, progress.totalSteps, progress.previews?.[job.id]);
        }
      },
      control.worker,
    );
    await this.#settle(jobs, outcome, control);
  }

  async #settle(
    claimed: readonly Job[],
    outcome: BatchOutcome,
    control: BatchControl,
  ): Promise<void> {
    const jobs: Job[] = [];
    for (const job of claimed) {
      if (await control.owns(job.id)) jobs.push(job);
      else this.#d.logger.warn({ jobId: job.id }, 'the job was taken over by another node');
    }
    const head = jobs[0];
    if (outcome.ok && head) {
      this.#d.eta.record(head.model, {
        steps: head.params.steps,
        images: jobs.reduce((sum, job) => sum + job.params.n, 0),
        pixels: head.params.width * head.params.height,
        totalMs: outcome.totalMs,
        stepsMs: outcome.stepsMs,
      });
    }
    if (!outcome.ok && jobs.length > 1 && !control.stopping() && outcome.code !== 'ABORTED') {
      // One item can fail a whole batch (an image the engine cannot read, memory at this batch
      // size, a prompt that kills the worker): run each job alone, without counting this
      // attempt, so the failure stays with the job that caused it.
      this.#d.logger.warn(
        { code: outcome.code, jobs: jobs.map((j) => j.id) },
        'batch failed; its jobs run again one by one',
      );
      await Promise.all(
        jobs.map((job) =>
          this.#d.lifecycle.retry(job, { attempts: job.attempts - 1, alone: true, requeue: true }),
        ),
      );
      return;
    }
    await Promise.all(jobs.map((job) => this.#settleJob(job, outcome, control.stopping())));
  }

  async #settleJob(job: Job, outcome: BatchOutcome, stopping: boolean): Promise<void> {
    const { lifecycle } = this.#d;
    if (outcome.ok) {
      const own = outcome.images.filter((i) => i.jobId === job.id);
      let result: JobResult;
      try {
        result = await this.#storeResult(job, own, outcome.totalMs);
      } catch (error) {
        this.#d.logger.error({ err: error, jobId: job.id }, 'storing the result failed');
        await lifecycle.fail(job, resultStoreError(error), ['running']);
        return;
      }
      if (!(await lifecycle.complete(job, result, this.#d.resultTtlMs))) {
        await Promise.all(result.images.map((i) => this.#d.blobs.delete(i.key)));
      }
      return;
    }
    const lost = LOST.includes(outcome.code);
    if (lost && (stopping || outcome.code === 'WORKER_DIED')) {
      // A shutdown does not count as an attempt; a crash does.
      if (stopping || job.attempts < MAX_ATTEMPTS) {
        const attempts = stopping ? job.attempts - 1 : job.attempts;
        if (await lifecycle.retry(job, { attempts, alone: false, requeue: !stopping }))
          this.#d.logger.warn(
            { jobId: job.id, attempt: job.attempts },
            'worker lost the job; queued again',
          );
        return;
      }
    }
    if (outcome.code === 'ABORTED') return; // cancelled: the lifecycle already recorded it
    await lifecycle.fail(job, { code: outcome.code, message: outcome.message }, ['running']);
  }

  /** Writes a job's images to the blob store; on a failure removes those written and throws. */
  async #storeResult(job: Job, own: readonly OutputImage[], totalMs: number): Promise<JobResult> {
    const { blobs } = this.#d;
    const images: JobImage[] = [];
    try {
      for (const [index, image] of own.entries()) {
        // Flat keys: a folder per job would outlive its deleted files.
        const key = `results/${job.id}-${index}.${EXTENSIONS[image.mimeType] ?? 'bin'}`;
        await blobs.put(key, image.data);
        const { seed, mimeType, width, height, nsfw } = image;
        images.push({ key, seed, mimeType, width, height, nsfw });
      }
    } catch (error) {
      await Promise.all(images.map((i) => blobs.delete(i.key).catch(() => undefined)));
      throw error;
    }
    return {
      images,
      warnings: [...new Set([...job.params.warnings, ...own.flatMap((i) => i.warnings)])],
      // Seconds, to a tenth of a millisecond: clients subtract it from their own timings.
      generationTime: Math.round(totalMs * 10) / 10_000,
    };
  }
}
