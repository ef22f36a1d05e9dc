import type { EtaEstimator } from './eta-estimator.ts';
import type { InferenceWorkers, ModelInfo } from './inference-workers.ts';
import type { Job, JobError } from './job.ts';
import type { JobDispatcher } from './job-dispatcher.ts';
import { JobForecast, type JobProgress } from './job-forecast.ts';
import { entryOf, type JobLifecycle } from './job-lifecycle.ts';
import type { JobQueue } from './job-queue.ts';
import type { JobRunner } from './job-runner.ts';
import { queueStatsOf, type QueueStats } from './queue-stats.ts';

export interface EmbeddedJobRunnerDeps {
  readonly queue: JobQueue;
  readonly dispatcher: JobDispatcher;
  readonly workers: InferenceWorkers;
  readonly lifecycle: JobLifecycle;
  readonly eta: EtaEstimator;
  readonly maxBatch: number;
}

/**
 * The embedded mode's {@link JobRunner}: the in-process queue, the dispatcher and this machine's
 * inference workers. Everything it answers is in this process's memory, so it answers exactly.
 */
export class EmbeddedJobRunner implements JobRunner {
  readonly #d: EmbeddedJobRunnerDeps;
  readonly #forecast: JobForecast;

  constructor(deps: EmbeddedJobRunnerDeps) {
    this.#d = deps;
    this.#forecast = new JobForecast(deps, deps.maxBatch);
  }

  get stopping(): boolean {
    return this.#d.dispatcher.stopping;
  }

  models(): readonly ModelInfo[] {
    return this.#d.workers.models();
  }

  readyInMs(): number {
    return this.#d.workers.readyInMs();
  }

  enqueue(job: Job): Promise<JobProgress> {
    this.#d.queue.add(entryOf(job));
    const progress = this.#forecast.progress(job);
    // Announced before it can start: its `queued` event comes before its `started`.
    this.#d.lifecycle.accepted(job, progress.position ?? 0, progress.waitRemainingMs ?? 0);
    this.#d.dispatcher.dispatch();
    return Promise.resolve(progress);
  }

  async cancel(job: Job, reason?: JobError): Promise<Job | undefined> {
    const { dispatcher, workers, lifecycle } = this.#d;
    // Marked first, so no progress of it goes out after its `cancelled` event.
    const batch = dispatcher.running.byJob(job.id);
    batch?.cancelled.add(job.id);
    const cancelled = await lifecycle.cancel(job, reason);
    if (!cancelled) {
      batch?.cancelled.delete(job.id);
      return undefined;
    }
    // Aborts the batch once none of its jobs is wanted (a batch that has ended meanwhile is gone).
    const abort = dispatcher.running.cancel(job.id);
    if (abort) workers.cancel(abort);
    return cancelled;
  }

  isActive(jobId: string): boolean {
    return this.#d.dispatcher.isActive(jobId);
  }

  waiting(): Promise<number> {
    return Promise.resolve(this.#d.queue.size);
  }

  progress(job: Job): JobProgress {
    return this.#forecast.progress(job);
  }

  nextFinishMs(): number {
    return this.#forecast.nextFinishMs();
  }

  queueStats(): QueueStats {
    return queueStatsOf(this.#d.queue, this.#d.dispatcher.running);
  }
}
