import { randomUUID } from 'node:crypto';
import type { BlobStore } from '../storage/blob-store.ts';
import type { UploadRepository } from '../storage/upload-repository.ts';
import type { EtaEstimator } from './eta-estimator.ts';
import type { EventHub } from './event-hub.ts';
import type { BatchJob, BatchOutcome, InferenceWorkers } from './inference-workers.ts';
import type { Job, JobError, JobImage } from './job.ts';
import type { JobQueue, QueueEntry } from './job-queue.ts';
import type { JobRepository } from './job-repository.ts';
import type { Ledger } from './ledger.ts';
import { RunningBatches } from './running-batches.ts';

/** Minimal structured logger (pino's shape). */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Called once per job that reached a final state (webhooks subscribe here). */
export type JobFinishedListener = (job: Job) => void;

export interface DispatcherDeps {
  readonly jobs: JobRepository;
  readonly queue: JobQueue;
  readonly workers: InferenceWorkers;
  readonly blobs: BlobStore;
  readonly uploads: UploadRepository;
  readonly events: EventHub;
  readonly eta: EtaEstimator;
  readonly ledger: Ledger;
  readonly logger: Logger;
  readonly maxBatch: number;
  readonly resultTtlMs: number;
  /** Absolute URL of a job's result image, for events. */
  readonly imageUrl: (jobId: string, index: number) => string;
  /** Absolute URL of a job (`/v1/jobs/{id}`): the `retrieval_url` Scratchy's clients follow. */
  readonly jobUrl: (jobId: string) => string;
}

/** A job started without queueing (see {@link JobDispatcher.startReserved}). */
interface DirectStart {
  readonly job: Job;
  /** The job's insert; its result is recorded only once this settles, and dropped if it fails. */
  readonly stored: Promise<unknown>;
  /** Called once the job is with a worker. */
  readonly handedOver: () => void;
}

/** An image a job refers to is gone from storage. */
class MissingImageError extends Error {}

function jobErrorOf(error: unknown): JobError {
  return error instanceof MissingImageError
    ? { code: 'INVALID_IMAGE', message: error.message }
    : { code: 'STORAGE_FAILED', message: `reading the job's images failed: ${String(error)}` };
}

/** A job is tried at most this many times when its worker dies. */
export const MAX_ATTEMPTS = 2;

/** Outcomes that say nothing about the jobs themselves: the worker died, or the run was stopped. */
const LOST: readonly string[] = ['WORKER_DIED', 'ABORTED'];

const EXTENSIONS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/webp': 'webp',
};

export function entryOf(job: Job): QueueEntry {
  return {
    id: job.id,
    priority: job.priority,
    createdAt: job.createdAt,
    batchKey: job.batchKey,
    model: job.model,
    images: job.params.n,
    steps: job.params.steps,
    pixels: job.params.width * job.params.height,
  };
}

/**
 * Moves queued jobs onto idle workers, batching compatible ones, and records what comes back:
 * results, failures, and worker deaths (a job is retried once, then failed and refunded).
 */
export class JobDispatcher {
  readonly running = new RunningBatches();
  readonly #d: DispatcherDeps;
  readonly #finished = new Set<JobFinishedListener>();
  readonly #inFlight = new Set<Promise<void>>();
  /** Jobs taken from the queue whose claim (queued → running) is under way. */
  readonly #claiming = new Set<string>();
  #preparing = 0;
  #stopping = false;

  constructor(deps: DispatcherDeps) {
    this.#d = deps;
    deps.workers.onIdle(() => this.dispatch());
  }

  onFinished(listener: JobFinishedListener): void {
    this.#finished.add(listener);
  }

  /** Notifies listeners that `job` reached its final state (also used by the service). */
  finished(job: Job): void {
    for (const listener of this.#finished) {
      try {
        listener(job);
      } catch (error) {
        this.#d.logger.error({ err: error, jobId: job.id }, 'job finished listener failed');
      }
    }
  }

  /**
   * Whether this process holds the job in memory (queued, being claimed or running): such a job
   * is bound to reach {@link finished} here.
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

  /**
   * Takes an idle worker for a new job when no job is waiting: that job skips the queue and its
   * claim, and goes to {@link startReserved}. False when the job must queue.
   */
  reserveWorker(): boolean {
    const { queue, workers } = this.#d;
    if (this.#stopping || queue.size > 0 || workers.idleCount() <= this.#preparing) return false;
    this.#preparing++;
    return true;
  }

  /**
   * Runs `job` (`running`, first attempt) on the worker {@link reserveWorker} took, and resolves
   * with true once the worker has it (false if it could not start: its images could not be
   * loaded; the caller then queues it). The caller stores the job after that — `stored` is that
   * insert — so the write overlaps the engine instead of delaying it. Nothing is lost if the
   * process dies in between: the worker dies with it, and no client was told of the job yet.
   */
  startReserved(job: Job, stored: Promise<unknown>): Promise<boolean> {
    stored.catch(() => undefined); // observed below; never an unhandled rejection
    this.#claiming.add(job.id);
    const handed = Promise.withResolvers<boolean>();
    const direct = { job, stored, handedOver: () => handed.resolve(true) };
    this.#track(this.#runBatch([entryOf(job)], direct).finally(() => handed.resolve(false)));
    return handed.promise;
  }

  #track(batch: Promise<void>): void {
    const run = batch.catch((error: unknown) => {
      this.#d.logger.error({ err: error }, 'batch bookkeeping failed');
    });
    this.#inFlight.add(run);
    void run.finally(() => this.#inFlight.delete(run));
  }

  /**
   * Claims the queued jobs (or takes the ones already `running`) and loads their images. A job
   * whose image is gone (its upload expired while it waited) fails alone, refunded.
   */
  async #start(
    entries: readonly QueueEntry[],
    now: number,
    claimed: readonly Job[] | undefined,
  ): Promise<{ jobs: Job[]; batchJobs: BatchJob[] }> {
    const { jobs: repo } = this.#d;
    const jobs: Job[] = [];
    const batchJobs: BatchJob[] = [];
    for (const entry of entries) {
      // One round trip claims the job and reads it; a cancelled or expired job is not claimed.
      const job = claimed
        ? claimed.find((j) => j.id === entry.id)
        : await repo.claim(entry.id, now);
      if (!job) continue;
      let images: Pick<BatchJob, 'initImage' | 'mask'>;
      try {
        images = {
          initImage: await this.#loadUpload(job.params.initImage, 'init_image'),
          mask: await this.#loadUpload(job.params.mask, 'mask'),
        };
      } catch (error) {
        // A job not stored yet (a direct start) is queued by its caller and fails from there.
        if (!claimed) await this.fail(job, jobErrorOf(error), ['running']);
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

  async #runBatch(entries: readonly QueueEntry[], direct?: DirectStart): Promise<void> {
    const { events, workers, eta } = this.#d;
    const now = Date.now();
    let jobs: Job[];
    let batchJobs: BatchJob[];
    try {
      ({ jobs, batchJobs } = await this.#start(entries, now, direct && [direct.job]));
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
    for (const job of jobs)
      events.emit(job.id, job.owner, 'started', {
        job_id: job.id,
        attempt: job.attempts,
        batch_size: jobs.length,
      });
    const running = workers.run({ batchId, model: first.model, jobs: batchJobs }, (progress) => {
      const batch = this.running.byJob(first.id);
      for (const job of jobs) {
        if (batch?.cancelled.has(job.id)) continue;
        const preview = progress.previews?.[job.id];
        events.emit(job.id, job.owner, 'progress', {
          job_id: job.id,
          step: progress.step,
          total_steps: progress.totalSteps,
          ...(preview === undefined ? {} : { preview }),
        });
      }
    });
    direct?.handedOver();
    direct?.stored.catch(() => workers.cancel(batchId));
    const outcome = await running;
    this.running.delete(batchId);
    // A job that could not be stored never existed: its result goes nowhere.
    const stored = await (direct?.stored ?? Promise.resolve()).then(
      () => true,
      () => false,
    );
    if (stored) await this.#settle(jobs, started, outcome);
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
    if (!outcome.ok && jobs.length > 1 && !this.#stopping && !LOST.includes(outcome.code)) {
      // One item can fail a whole batch (an image the engine cannot read, memory at this batch
      // size): run each job alone, so the failure stays with the job that caused it.
      this.#d.logger.warn(
        { code: outcome.code, jobs: jobs.map((j) => j.id) },
        'batch failed; its jobs run again one by one',
      );
      await Promise.all(jobs.map((job) => this.#requeue(job, job.attempts - 1, true)));
      return;
    }
    await Promise.all(jobs.map((job) => this.#settleJob(job, outcome)));
  }

  /**
   * Puts a running job back in the queue with `attempts` counted; `alone` keeps it out of any
   * batch. False when the job is no longer running (cancelled meanwhile).
   */
  async #requeue(job: Job, attempts: number, alone: boolean): Promise<boolean> {
    const back = await this.#d.jobs.transition(job.id, ['running'], {
      status: 'queued',
      startedAt: null,
      attempts,
    });
    if (!back || this.#stopping) return back; // stopping: the next start queues it
    this.#d.queue.add({ ...entryOf(job), ...(alone ? { batchKey: `alone:${job.id}` } : {}) });
    this.#d.events.emit(job.id, job.owner, 'queued', {
      job_id: job.id,
      position: this.#d.queue.position(job.id) ?? 0,
      retry: true,
    });
    return true;
  }

  async #settleJob(job: Job, outcome: BatchOutcome): Promise<void> {
    const { jobs: repo, events, blobs } = this.#d;
    if (outcome.ok) {
      const images: JobImage[] = [];
      const own = outcome.images.filter((i) => i.jobId === job.id);
      for (const [index, image] of own.entries()) {
        // Flat keys: a folder per job would outlive its deleted files.
        const key = `results/${job.id}-${index}.${EXTENSIONS[image.mimeType] ?? 'bin'}`;
        await blobs.put(key, image.data);
        const { seed, mimeType, width, height, nsfw } = image;
        images.push({ key, seed, mimeType, width, height, nsfw });
      }
      const finishedAt = Date.now();
      const result = {
        images,
        warnings: [...new Set([...job.params.warnings, ...own.flatMap((i) => i.warnings)])],
        // Seconds, to a tenth of a millisecond: clients subtract it from their own timings.
        generationTime: Math.round(outcome.totalMs * 10) / 10_000,
      };
      const patch = {
        status: 'completed' as const,
        finishedAt,
        result,
        resultExpiresAt: finishedAt + this.#d.resultTtlMs,
      };
      if (!(await repo.transition(job.id, ['running'], patch))) {
        await Promise.all(images.map((i) => blobs.delete(i.key)));
        return;
      }
      events.emit(job.id, job.owner, 'completed', {
        job_id: job.id,
        status: 'completed',
        retrieval_url: this.#d.jobUrl(job.id),
        images: images.map((image, index) => ({
          index,
          seed: image.seed,
          url: this.#d.imageUrl(job.id, index),
          nsfw: image.nsfw,
        })),
        generation_time: result.generationTime,
        warnings: result.warnings,
      });
      this.finished({ ...job, ...patch });
      return;
    }
    const lost = LOST.includes(outcome.code);
    if (lost && (this.#stopping || outcome.code === 'WORKER_DIED')) {
      // A shutdown does not count as an attempt; a crash does.
      if (this.#stopping || job.attempts < MAX_ATTEMPTS) {
        const attempts = this.#stopping ? job.attempts - 1 : job.attempts;
        if (await this.#requeue(job, attempts, false))
          this.#d.logger.warn(
            { jobId: job.id, attempt: job.attempts },
            'worker lost the job; queued again',
          );
        return;
      }
    }
    if (outcome.code === 'ABORTED') return; // cancelled: the service already recorded it
    await this.fail(
      job,
      {
        code: outcome.code === 'WORKER_DIED' ? 'WORKER_DIED' : outcome.code,
        message: outcome.message,
      },
      ['running'],
    );
  }

  /** Fails a job, refunds it and tells everyone. */
  async fail(job: Job, error: JobError, from: readonly Job['status'][]): Promise<void> {
    const patch = { status: 'failed' as const, finishedAt: Date.now(), error };
    if (!(await this.#d.jobs.transition(job.id, from, patch))) return;
    await this.#d.ledger.refund(job, `failed: ${error.code}`);
    this.#d.events.emit(job.id, job.owner, 'failed', { job_id: job.id, status: 'failed', error });
    this.finished({ ...job, ...patch });
  }

  /**
   * Rebuilds the queue from the database at boot: queued jobs wait again, a job that was running
   * when the server died is retried (or failed if that was its second attempt).
   */
  async recover(): Promise<{ requeued: number; retried: number; failed: number }> {
    const counts = { requeued: 0, retried: 0, failed: 0 };
    for (const job of await this.#d.jobs.listByStatus(['running'])) {
      if (job.attempts >= MAX_ATTEMPTS) {
        await this.fail(
          job,
          { code: 'WORKER_DIED', message: 'the job was running when the server stopped, twice' },
          ['running'],
        );
        counts.failed++;
      } else if (
        await this.#d.jobs.transition(job.id, ['running'], { status: 'queued', startedAt: null })
      ) {
        counts.retried++;
      }
    }
    for (const job of await this.#d.jobs.listByStatus(['queued'])) {
      this.#d.queue.add(entryOf(job));
      this.#d.events.emit(job.id, job.owner, 'queued', {
        job_id: job.id,
        position: this.#d.queue.position(job.id) ?? 0,
      });
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
