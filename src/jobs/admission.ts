import type { Caller } from './job-service.ts';

/**
 * Bounds how many jobs one caller may have queued or running (`max_jobs`), so one key cannot
 * fill the queue. The job service reserves a slot before it charges and persists a job.
 */
export interface Admission {
  /**
   * Reserves a slot for one more job of `caller`, or throws `TOO_MANY_JOBS`. Call the returned
   * function once the job was queued (it is then counted as in flight) or refused.
   */
  reserve(caller: Caller): () => void;
}
