import { randomUUID } from 'node:crypto';
import type { BlobStore } from '../storage/blob-store.ts';
import type { UploadRepository } from '../storage/upload-repository.ts';
import type { EtaEstimator } from './eta-estimator.ts';
import type { BatchJob, BatchOutcome, InferenceWorkers, OutputImage } from './inference-workers.ts';
import type { Job, JobError, JobImage, JobResult } from './job.ts';
import { MAX_ATTEMPTS, type JobLifecycle } from './job-lifecycle.ts';
import type { JobQueue, QueueEntry } from './job-queue.ts';
import type { JobRepository } from './job-repository.ts';
import type { Logger } from './logger.ts';
import { RunningBatches } from './running-batches.ts';

export interface DispatcherDeps {
  readonly jobs: JobRepository;
  readonly queue: JobQueue;
  readonly workers: InferenceWorkers;
  readonly blobs: BlobStore;
  readonly uploads: UploadRepository;
  readonly lifecycle: JobLifecycle;
  readonly eta: EtaEstimator;
  readonly logger: Logger;
  readonly maxBatch: number;
  readonly resultTtlMs: number;
}

/** An image a job refers to is gone from storage. */
class MissingImageError extends Error {}

function jobErrorOf(error: unknown): JobError {
  return error instanceof MissingImageError
    ? { code: 'INVALID_IMAGE', message: error.message }
    : { code: 'STORAGE_FAILED', message: `reading the job's images failed: ${String(error)}` };
}

/** Outcomes that say nothing about the jobs themselves: the worker died, or the run was stopped. */
const LOST: readonly string[] = ['WORKER_DIED', 'ABORTED'];

const EXTENSIONS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/webp': 'webp',
};

/**
 * Moves queued jobs onto idle workers, batching compatible ones, and records what comes back:
 * results, failures, and worker deaths (a job is retried once, then failed and refunded).
 */
export class JobDispatcher {
  readonly running = new RunningBatches();
  readonly #d: DispatcherDeps;
  readonly #inFlight = new Set<Promise<void>>();
  /** Jobs taken from the queue whose claim (queued → running) is under way. */
  readonly #claiming = new Set<string>();
  #preparing = 0;
  #stopping = false;

  constructor(deps: DispatcherDeps) {
    this.#d = deps;
    deps.workers.onIdle(() => this.dispatch());
  }

  /**
   * Whether this process holds the job in memory (queued, being claimed or running): such a job
   * is bound to reach its end (`JobLifecycle.onFinished`) here.
   */
  isActive(jobId: string): boolean {
    return (
      this.#d.queue.position(jobId) !== undefined ||
      this.#claiming.has(jobId) ||
      this.running.byJob(jobId) !== undefined
    );
  }

  /** Starts as many batches as there are idle workers. */
  dispatch(): void {
    const { queue, workers, maxBatch } = this.#d;
    while (!this.#stopping && queue.size > 0 && workers.idleCount() > this.#preparing) {
      const head = queue.entries()[0];
      const limit = head
        ? this.#d.workers.models().find((m) => m.name === head.model)?.limits.maxBatch
        : undefined;
      const entries = queue.takeBatch(maxBatch, limit ?? maxBatch);
      for (const entry of entries) this.#claiming.add(entry.id);
      this.#preparing++;
      this.#track(this.#runBatch(entries));
    }
  }

  #track(batch: Promise<void>): void {
    const run = batch.catch((error: unknown) => {
      this.#d.logger.error({ err: error }, 'batch bookkeeping failed');
    });
    this.#inFlight.add(run);
    void run.finally(() => this.#inFlight.delete(run));
  }

  /**
   * Claims the queued jobs and loads their images. A job whose image is gone (its upload expired
   * while it waited) fails alone, refunded.
   */
  async #start(
    entries: readonly QueueEntry[],
    now: number,
  ): Promise<{ jobs: Job[]; batchJobs: BatchJob[] }> {
    const { jobs: repo } = this.#d;
    const jobs: Job[] = [];
    const batchJobs: BatchJob[] = [];
    for (const entry of entries) {
      // One round trip claims the job and reads it; a cancelled or expired job is not claimed.
      const job = await repo.claim(entry.id, now);
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

  async #runBatch(entries: readonly QueueEntry[]): Promise<void> {
    const { lifecycle, workers, eta } = this.#d;
    const now = Date.now();
    let jobs: Job[];
    let batchJobs: BatchJob[];
    try {
      ({ jobs, batchJobs } = await this.#start(entries, now));
    } finally {
      this.#preparing--;
      // Running batches take over in this same tick (no await until `running.add`).
      for (const entry of entries) this.#claiming.delete(entry.id);
    }
    const first = jobs[0];
    if (!first) {
      this.dispatch();
      return;
    }
    const batchId = randomUUID();
    const started = entries.filter((e) => jobs.some((j) => j.id === e.id));
    const expectedMs = started.reduce((sum, e) => sum + eta.jobMs(e), 0);
    this.running.add({
      batchId,
      model: first.model,
      entries: started,
      startedAt: now,
      expectedMs,
      cancelled: new Set(),
    });
    lifecycle.started(jobs);
    const running = workers.run({ batchId, model: first.model, jobs: batchJobs }, (progress) => {
      const batch = this.running.byJob(first.id);
      for (const job of jobs) {
        if (batch?.cancelled.has(job.id)) continue;
        lifecycle.progress(job, progress.step, progress.totalSteps, progress.previews?.[job.id]);
      }
    });
    try {
      await this.#settle(jobs, started, await running);
    } finally {
      // Running until settled: its images are written and its jobs ended (or queued again), so
      // no moment shows the batch neither running nor finished.
      this.running.delete(batchId);
    }
    this.dispatch();
  }

  async #settle(
    jobs: readonly Job[],
    entries: readonly QueueEntry[],
    outcome: BatchOutcome,
  ): Promise<void> {
    const head = jobs[0];
    if (outcome.ok && head) {
      const images = entries.reduce((sum, e) => sum + e.images, 0);
      this.#d.eta.record(head.model, {
        steps: head.params.steps,
        images,
        pixels: head.params.width * head.params.height,
        totalMs: outcome.totalMs,
        stepsMs: outcome.stepsMs,
      });
    }
    if (!outcome.ok && jobs.length > 1 && !this.#stopping && outcome.code !== 'ABORTED') {
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
    await Promise.all(jobs.map((job) => this.#settleJob(job, outcome)));
  }

  async #settleJob(job: Job, outcome: BatchOutcome): Promise<void> {
    const { lifecycle } = this.#d;
    if (outcome.ok) {
      const own = outcome.images.filter((i) => i.jobId === job.id);
      let result: JobResult;
      try {
        result = await this.#storeResult(job, own, outcome.totalMs);
      } catch (error) {
        this.#d.logger.error({ err: error, jobId: job.id }, 'storing the result failed');
        await lifecycle.fail(
          job,
          { code: 'STORAGE_FAILED', message: `the result could not be stored: ${String(error)}` },
          ['running'],
        );
        return;
      }
      if (!(await lifecycle.complete(job, result, this.#d.resultTtlMs))) {
        await Promise.all(result.images.map((i) => this.#d.blobs.delete(i.key)));
      }
      return;
    }
    const lost = LOST.includes(outcome.code);
    if (lost && (this.#stopping || outcome.code === 'WORKER_DIED')) {
      // A shutdown does not count as an attempt; a crash does.
      if (this.#stopping || job.attempts < MAX_ATTEMPTS) {
        const attempts = this.#stopping ? job.attempts - 1 : job.attempts;
        const requeue = !this.#stopping; // stopping: the next start queues it
        if (await lifecycle.retry(job, { attempts, alone: false, requeue }))
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

  /**
   * Rebuilds the queue from the database at boot: queued jobs wait again, a job that was running
   * when the server died is retried (or failed if that was its second attempt).
   */
  async recover(): Promise<{ requeued: number; retried: number; failed: number }> {
    const { jobs, lifecycle } = this.#d;
    const counts = { requeued: 0, retried: 0, failed: 0 };
    for (const job of await jobs.listByStatus(['running'])) {
      if (job.attempts >= MAX_ATTEMPTS) {
        await lifecycle.fail(
          job,
          { code: 'WORKER_DIED', message: 'the job was running when the server stopped, twice' },
          ['running'],
        );
        counts.failed++;
      } else if (
        await lifecycle.retry(job, { attempts: job.attempts, alone: false, requeue: false })
      ) {
        counts.retried++;
      }
    }
    for (const job of await jobs.listByStatus(['queued'])) {
      lifecycle.enqueue(job);
      counts.requeued++;
    }
    return counts;
  }

  /** Stops dispatching and waits (up to `deadlineMs`) for running batches to finish. */
  async stop(deadlineMs: number): Promise<void> {
    this.#stopping = true;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, deadlineMs);
    });
    await Promise.race([Promise.all(this.#inFlight), deadline]);
    clearTimeout(timer);
  }

  /** Waits for every batch's bookkeeping to finish (after the workers were closed). */
  async drain(): Promise<void> {
    await Promise.all(this.#inFlight);
  }

  get stopping(): boolean {
    return this.#stopping;
  }
}
