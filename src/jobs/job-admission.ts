import { ProblemError } from '../errors/index.ts';
import type { Admission, ReleaseSlot } from './admission.ts';
import { isTerminal } from './job.ts';
import { retryAfterSeconds } from './job-forecast.ts';
import type { JobRepository } from './job-repository.ts';
import type { JobRunner } from './job-runner.ts';
import type { Caller } from './job-service.ts';

export interface JobAdmissionDeps {
  /** How many jobs wait, and when they are expected to end. */
  readonly runner: Pick<JobRunner, 'waiting' | 'progress' | 'nextFinishMs'>;
  readonly jobs: JobRepository;
  /** Enforces each caller's `maxJobs`; absent = no limit. */
  readonly admission?: Admission | undefined;
}

/**
 * How many of a key's newest jobs are searched for its in-flight ones when telling it when to
 * retry: far above any sensible `max_jobs`; an older job still in flight beyond them is only
 * missed by the advice, which then falls back to the queue's.
 */
const OWNER_JOBS_SCANNED = 100;

const noSlot: ReleaseSlot = () => Promise.resolve();

/**
 * Whether one more job may enter: refuses when the queue is full (`QUEUE_FULL`) or the caller
 * is at its `max_jobs` (`TOO_MANY_JOBS`), each with a `Retry-After` from the expected finish
 * times rather than a fixed second.
 */
export class JobAdmission {
  readonly #d: JobAdmissionDeps;
  readonly #maxQueued: number;

  constructor(deps: JobAdmissionDeps, options: { readonly maxQueued: number }) {
    this.#d = deps;
    this.#maxQueued = options.maxQueued;
  }

  /**
   * Takes a slot for job `jobId` of `caller`. The job then holds it until its final event;
   * a job refused after this gives it back with the returned function.
   */
  async admit(caller: Caller, jobId: string): Promise<ReleaseSlot> {
    if ((await this.#d.runner.waiting()) >= this.#maxQueued) {
      const retryAfter = retryAfterSeconds(this.#d.runner.nextFinishMs());
      throw new ProblemError(
        'QUEUE_FULL',
        `the queue holds ${this.#maxQueued} jobs; retry in ${retryAfter} s`,
        {
          headers: { 'retry-after': String(retryAfter) },
          extensions: { retry_after: retryAfter },
        },
      );
    }
    const { admission } = this.#d;
    if (!admission) return noSlot;
    try {
      return await admission.reserve(caller, jobId);
    } catch (error) {
      if (!(error instanceof ProblemError) || error.code !== 'TOO_MANY_JOBS') throw error;
      const retryAfter = retryAfterSeconds(await this.#ownerNextFinishMs(caller.owner));
      throw new ProblemError(error.code, error.message, {
        headers: { ...error.headers, 'retry-after': String(retryAfter) },
        extensions: { ...error.extensions, retry_after: retryAfter },
      });
    }
  }

  /**
   * When the caller's own first slot is expected to free: its soonest-finishing job of those
   * this process queues or runs; the queue's next finish when it has none here.
   */
  async #ownerNextFinishMs(owner: string): Promise<number> {
    const recent = await this.#d.jobs.listByOwner(owner, { limit: OWNER_JOBS_SCANNED });
    const waits = recent
      .filter((job) => !isTerminal(job.status))
      .map((job) => this.#d.runner.progress(job).waitRemainingMs)
      .filter((ms) => ms !== undefined);
    return waits.length > 0 ? Math.min(...waits) : this.#d.runner.nextFinishMs();
  }
}
