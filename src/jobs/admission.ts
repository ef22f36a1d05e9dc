import type { Caller } from './job-service.ts';

/** Gives a refused job's slot back; calling it again does nothing. */
export type ReleaseSlot = () => Promise<void>;

/**
 * Bounds how many jobs one caller may have queued or running (`max_jobs`), so one key cannot
 * fill the queue. The job service takes a slot before it charges and persists a job; an
 * accepted job holds it until its final event (complete, fail, cancel, expire), whichever
 * process sees that event. Implemented over shared counters (`src/accounts/slot-admission.ts`):
 * this process's memory in the embedded mode, Redis across API nodes.
 */
export interface Admission {
  /**
   * Takes a slot for job `jobId` of `caller`, or rejects with `TOO_MANY_JOBS`. A job refused
   * after this (no credits, not stored) gives the slot back with the returned function.
   */
  reserve(caller: Caller, jobId: string): Promise<ReleaseSlot>;
  /** Jobs of `owner` holding a slot now. */
  count(owner: string): Promise<number>;
}
