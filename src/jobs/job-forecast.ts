import type { EtaEstimator } from './eta-estimator.ts';
import type { InferenceWorkers } from './inference-workers.ts';
import type { Job } from './job.ts';
import { entryOf } from './job-lifecycle.ts';
import type { JobQueue } from './job-queue.ts';
import type { RunningBatches } from './running-batches.ts';

export interface JobProgress {
  /** Jobs ahead (queued jobs only). */
  readonly position: number | undefined;
  /** Milliseconds until the job is expected to finish (queued or running). */
  readonly waitRemainingMs: number | undefined;
}

export interface JobForecastDeps {
  readonly queue: JobQueue;
  readonly eta: EtaEstimator;
  /** The batches running now (the dispatcher's). */
  readonly dispatcher: { readonly running: RunningBatches };
  /** How many batches can run at once. */
  readonly workers: Pick<InferenceWorkers, 'count'>;
}

/**
 * When jobs are expected to finish, from measured step times and what this process queues and
 * runs: a job's queue position and time left, and when the next slot of the queue frees.
 */
export class JobForecast {
  readonly #d: JobForecastDeps;
  readonly #maxBatch: number;

  constructor(deps: JobForecastDeps, maxBatch: number) {
    this.#d = deps;
    this.#maxBatch = maxBatch;
  }

  /** Queue position and time left; both undefined for a job this process does not hold. */
  progress(job: Job): JobProgress {
    const now = Date.now();
    const { queue, eta, dispatcher, workers } = this.#d;
    if (job.status === 'queued') {
      const position = queue.position(job.id);
      if (position === undefined) return { position: undefined, waitRemainingMs: undefined };
      const running = dispatcher.running.remainingMs(now);
      const self = entryOf(job);
      // Most asks are for the newest job, at the back: the totals answer without a walk.
      const ms =
        position === queue.size - 1
          ? eta.waitMsAtBack(queue.totals(), self, running, workers.count, this.#maxBatch)
          : eta.waitMs(queue.ahead(job.id), self, running, workers.count, this.#maxBatch);
      return { position, waitRemainingMs: ms };
    }
    if (job.status === 'running') {
      const batch = dispatcher.running.byJob(job.id);
      return {
        position: 0,
        waitRemainingMs: batch
          ? Math.max(0, batch.expectedMs - (now - batch.startedAt))
          : undefined,
      };
    }
    return { position: undefined, waitRemainingMs: undefined };
  }

  /**
   * Milliseconds until the first running batch or the queue's head is expected to finish: the
   * soonest anything leaves the queue. 1000 when nothing is queued or running.
   */
  nextFinishMs(): number {
    const { dispatcher, queue, eta } = this.#d;
    const remaining = dispatcher.running.remainingMs(Date.now());
    const head = queue.entries()[0];
    const soonest = Math.min(...remaining, head ? eta.jobMs(head) : Infinity);
    return Number.isFinite(soonest) ? soonest : 1000;
  }
}

/** Whole seconds for `Retry-After` (at least 1). */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
