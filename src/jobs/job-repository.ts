import type { Job, JobPatch, JobStatus } from './job.ts';

export interface ListJobsOptions {
  readonly limit: number;
  /** Return jobs created strictly before this job (cursor pagination, newest first). */
  readonly before?: { readonly createdAt: number; readonly id: string };
}

/**
 * Persistence of jobs. The single source of truth for job state: a job is inserted before it is
 * acknowledged, so a crash loses nothing. Implemented by `src/store/` for SQLite and PostgreSQL.
 */
export interface JobRepository {
  insert(job: Job): Promise<void>;
  get(id: string): Promise<Job | undefined>;
  /**
   * Applies `patch` only while the job is in one of `from` — and, given `attempt`, only while its
   * `attempts` is that — and returns whether it did. Conditional updates make transitions
   * race-free (a cancel and a completion cannot both win); the attempt fences a run that lost
   * its job (its node hung past its lease, and the job runs again elsewhere) out of recording.
   */
  transition(
    id: string,
    from: readonly JobStatus[],
    patch: JobPatch,
    attempt?: number,
  ): Promise<boolean>;
  /**
   * Moves a queued job to `running` (one more attempt, started at `startedAt`) and returns it, in
   * one round trip; `undefined` when the job is no longer queued (cancelled, expired, claimed).
   */
  claim(id: string, startedAt: number): Promise<Job | undefined>;
  /** Unconditional field update (result bookkeeping). */
  update(id: string, patch: JobPatch): Promise<void>;
  /** The owner's jobs, newest first. */
  listByOwner(owner: string, options: ListJobsOptions): Promise<Job[]>;
  /** Jobs in the given states, oldest first: used at boot to re-queue and retry. */
  listByStatus(statuses: readonly JobStatus[]): Promise<Job[]>;
  /** Finished jobs whose results expired before `now` and are not yet deleted. */
  listExpiredResults(now: number, limit: number): Promise<Job[]>;
  countByStatus(): Promise<Partial<Record<JobStatus, number>>>;
}
